"""The Snakemake DAG: both configs plan, bad configs fail naming the key, the demo runs and re-runs nothing."""
import json
import time

import pandas as pd
import yaml
from conftest import SHARED_JOBS, job_stats, small_config, snakemake, write_config


def test_dry_run_of_the_demo(workflow):
    r = snakemake(workflow, "-n", "-p", "reproduce_table3")
    assert r.returncode == 0, r.stderr
    stats = job_stats(r.stdout + r.stderr)
    # half (a) at two seeds (tables.table3.in1k.seeds: [0, 1]): its pretrainings and evaluations twice
    # and DeiT3-T by DeiT III's own recipe (tables.table3.in1k.baselines: deit3_official), trained and evaluated per seed
    assert stats == {"demo_data": 1, "table1": 1, "clean_in21k": 1, "resize_in21k": 1, "pretrain_in1k": 4,
                     "train_deit3_official": 2, "evaluate": 8 + 2, "pretrain_in21k": 2, "finetune_in21k": 4,
                     "aggregate_table": 1, "report_table": 1, "figures_table3": 1, "reproduce_table3": 1,
                     "total": 26 + 4}
    out = r.stdout
    for seed in (0, 1):
        assert f"results/demo/runs/in1k_224/EDIT-T/seed{seed}/model.pth" in out
        assert f"--seed {seed} " in out and f"--tag seed={seed} " in out
    assert "results/demo/runs/in21k_224/EDIT-T/seed0/model.pth" in out and "in21k_224/EDIT-T/seed1" not in out


def test_each_table_pulls_only_the_jobs_it_needs(workflow):
    def planned(target):
        r = snakemake(workflow, "-n", target)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        return job_stats(r.stdout + r.stderr)

    t4 = planned("reproduce_table4")
    assert t4 == {"demo_data": 1, "pretrain_in1k": 2, "transfer": 10, "evaluate": 10, "aggregate_table": 1,
                  "report_table": 1, "reproduce_table4": 1, "total": 26}
    t5 = planned("reproduce_table5")
    assert t5 == {"demo_data": 1, "pretrain_in1k": 2, "segment": 2, "evaluate": 2, "aggregate_table": 1,
                  "report_table": 1, "reproduce_table5": 1, "total": 10}
    # LaViT and PVTv2 from scratch; the saturation figure also reads Table 3's EDIT and DeiT III; both backbones as
    # RetinaNet (1x) and as Semantic FPN and UperNet, each evaluated
    lavit = planned("reproduce_lavit")
    assert lavit == {"demo_data": 1, "train_lavit": 2, "evaluate": 2 + 6, "pretrain_in1k": 2, "figures_lavit": 1,
                     "detect": 2, "segment_dense": 4,
                     "aggregate_table": 1, "report_table": 1, "reproduce_lavit": 1, "total": 23}
    t1 = planned("reproduce_table1")
    assert t1 == {"table1": 1, "reproduce_table1": 1, "total": 2}


def test_dry_run_of_the_paper_matrix_without_its_data(workflow):
    t0 = time.perf_counter()
    r = snakemake(workflow, "-n", "-p", "all", "--configfile", "config/paper.yaml")
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    stats = job_stats(r.stdout + r.stderr)
    # Table 3: six IN-1k models at 224, four IN-21k models pretrained then fine-tuned at 224 and 384
    assert stats["pretrain_in1k"] == 6 and stats["pretrain_in21k"] == 4 and stats["finetune_in21k"] == 8
    # one evaluate rule: Table 3's 6 + 8 and LaViT's 6 on ImageNet-1k, Table 4's 10, Table 5's 4, the dense 8 + 4
    assert stats["evaluate"] == 6 + 8 + 6 + 10 + 4 + 8 + 4 and stats["clean_in21k"] == 1
    assert stats["train_lavit"] == 6 and stats["figures_lavit"] == 1 and stats["aggregate_table"] == 4
    assert stats["transfer"] == 2 * 5 and stats["segment"] == 4 and stats["report"] == 1
    # LaViT's dense tables: T and S with their PVTv2s on COCO (1x, 3x), S and PVTv2-b2 with both ADE20K heads
    assert stats["detect"] == 4 * 2 and stats["segment_dense"] == 2 * 2
    assert "demo_data" not in stats                       # --configfile replaces the demo, it is not merged in
    out = r.stdout + r.stderr
    assert "--model-arg depth" not in out and "/datasets/imagenet" in out
    print(f"paper dry run: {elapsed:.1f} s")               # the <5 s goal is measured, not asserted


def _with(workflow, **changes):
    return snakemake(workflow, "-n", "reproduce_table3", "--configfile", write_config(workflow, "bad", **changes))


def test_a_wrong_key_fails_before_any_job_naming_it(workflow):
    r = _with(workflow, **{"compute.gpus_per_job": 4})
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "('gpus_per_job' was unexpected)" in out and "schema['properties']['compute']" in out
    assert "Job stats" not in out


def test_a_wrong_value_fails_naming_the_key(workflow):
    r = _with(workflow, **{"in21k_cleaning.drop_rule": "fewer"})
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "'fewer' is not one of ['le', 'lt']" in out and "['drop_rule']" in out
    r = _with(workflow, **{"resolutions.384": 390})
    assert r.returncode != 0 and "390 is not a multiple of 16" in r.stdout + r.stderr


def test_a_table_naming_an_unknown_model_is_refused(workflow):
    r = _with(workflow, **{"tables.table4.models": ["EDIT-X"]})
    assert r.returncode != 0 and "tables name models ['EDIT-X'] that are not under 'models'" in r.stdout + r.stderr


def test_demo_table1_end_to_end_then_a_rerun_does_nothing(shared_run):
    # Table 1 is counted in the suite's shared run (Table 3's page reads it)
    workflow = shared_run.work
    assert shared_run.result.returncode == 0, shared_run.out[-3000:]
    df = pd.read_parquet(workflow / "results" / "table1.parquet")
    assert df[(df.row == "EDIT-B") & (df.column == "params_m") & (df.table == "table1")].reproduced_value.item() \
        == 87.764968
    assert (workflow / "reports" / "table1.md").read_text().startswith("# Table 1")
    assert (workflow / "logs" / "table1.log").is_file() and (workflow / "logs" / "benchmarks" / "table1.tsv").is_file()
    again = snakemake(workflow, "--cores", "2", "reproduce_table1", "--configfile", "shared.yaml", env=shared_run.env)
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changing_a_recipe_value_reruns_only_its_dependants(workflow, demo_root):
    cfg = small_config(workflow, demo_root, {"table3": {"in21k": {"models": ["EDIT-T"], "resolutions": [224]}}})
    for stage in ("in21k_pretrain", "finetune_in1k_from_in21k"):
        cfg["recipes"][stage]["set"]["epochs"] = 1
    (workflow / "small.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/small/eval/in21k_224/EDIT-T/seed0.json"
    r = snakemake(workflow, target, "--cores", "2", "--configfile", "small.yaml")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]

    def plan(stage, **change):
        changed = yaml.safe_load(yaml.safe_dump(cfg))
        changed["recipes"][stage]["set"].update(change)
        (workflow / "changed.yaml").write_text(yaml.safe_dump(changed))
        return job_stats((lambda r: r.stdout + r.stderr)(
            snakemake(workflow, target, "-n", "--configfile", "changed.yaml")))

    assert plan("finetune_in1k_from_in21k", epochs=2) == {"finetune_in21k": 1, "evaluate": 1, "total": 2}
    assert plan("in21k_pretrain", lr=1.0e-3) == {"pretrain_in21k": 1, "finetune_in21k": 1, "evaluate": 1, "total": 3}
    again = snakemake(workflow, target, "-n", "--configfile", "small.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr

    # a second seed: only its own jobs (and the table's aggregation over both) are planned
    seeded = yaml.safe_load(yaml.safe_dump(cfg))
    seeded["tables"]["table3"]["seeds"] = [0, 1]
    (workflow / "seeded.yaml").write_text(yaml.safe_dump(seeded))
    r = snakemake(workflow, "-n", "results/small/table3.parquet", "--configfile", "seeded.yaml")
    out = r.stdout + r.stderr
    assert job_stats(out) == {"pretrain_in21k": 1, "finetune_in21k": 1, "evaluate": 1, "aggregate_table": 1,
                              "total": 4}, out[-3000:]
    assert "in21k_pretrain/EDIT-T/seed1/model.pth" in out and "seed0/model.pth\n" not in out


TRAINING = {"pretrain_in1k", "pretrain_in21k", "finetune_384", "finetune_in21k", "transfer", "segment", "train_lavit",
            "detect", "segment_dense", "train_deit3_official"}
EVALUATION = {"evaluate"}   # one rule for every table's evaluations


def test_the_profiles_give_every_job_its_gpus(workflow):
    r = snakemake(workflow, "--list-rules")
    assert r.returncode == 0, r.stderr[-2000:]
    rules = set(r.stdout.split())
    local = set((workflow / "Snakefile").read_text().split("localrules:")[1].split("\n\n")[0].replace(",", " ").split())
    targets = {"all"} | {rule for rule in rules if rule.startswith("reproduce_")}
    assert TRAINING | EVALUATION | {"report", "results", "cost"} <= rules and local <= rules
    assert not (TRAINING | EVALUATION) & local

    slurm = yaml.safe_load((workflow / "workflow/profiles/slurm/config.yaml").read_text())["set-resources"]
    queued = rules - local - targets
    assert queued <= set(slurm), f"rules sent to Slurm with only the default resources: {sorted(queued - set(slurm))}"
    for rule in TRAINING:     # torchrun over several GPUs, and a warning before the time limit to checkpoint
        assert slurm[rule]["gpu"] > 1 and "--signal=USR1@" in slurm[rule]["slurm_extra"], rule
    for rule in EVALUATION:
        assert slurm[rule]["gpu"] == 1, rule
    local_profile = yaml.safe_load((workflow / "workflow/profiles/local/config.yaml").read_text())
    for rule in TRAINING | EVALUATION:
        assert 1 <= local_profile["set-resources"][rule]["gpu"] <= local_profile["resources"]["gpu"], rule



def test_the_slurm_profile_times_each_evaluation_by_its_run(workflow):
    """One evaluate rule, a time per kind of run: the profile's runtime is an expression of the run wildcard."""
    import re

    r = snakemake(workflow, "-n", "all", "--profile", "workflow/profiles/slurm", "--configfile", "config/paper.yaml")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    given = {}
    for block in out.split("\nrule evaluate:")[1:]:
        run = re.search(r"output: results/paper/eval/([^/]+)/", block).group(1)
        resources = dict(kv.split("=", 1) for kv in re.search(r"resources: (.*)", block).group(1).split(", "))
        given.setdefault(run.split("_")[0], set()).add((resources["gpu"], resources["runtime"]))
    assert given == {"in1k": {("1", "60")}, "in21k": {("1", "60")}, "lavit": {("1", "60")},
                     "transfer": {("1", "30")}, "ade20k": {("1", "180")}, "coco": {("1", "180")}}

def test_bad_seed_lists_fail_before_any_job_naming_the_key(workflow):
    r = _with(workflow, **{"tables.table3.in1k.seeds": [0, 0]})
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "has non-unique elements" in out and "'seeds'" in out and "Job stats" not in out
    r = _with(workflow, **{"tables.table3.seeds": [0, "one"]})
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "'one' is not of type 'integer'" in out and "'seeds'" in out
    r = _with(workflow, **{"tables.table4.seeds": [1.5]})
    assert r.returncode != 0 and "1.5 is not of type 'integer'" in r.stdout + r.stderr


def test_bad_lavit_configs_fail_before_any_job_naming_the_value(workflow):
    r = _with(workflow, **{"recipes.lavit_in1k.set.dp_loss_weight": -0.1})
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "recipes.lavit_in1k" in out and "-0.1 is less than the minimum of 0" in out
    assert "['dp_loss_weight']" in out and "Job stats" not in out
    r = _with(workflow, **{"models.LaViT-T.arch": "lavit_huge_224"})
    assert r.returncode != 0 and "models.LaViT-T.arch: 'lavit_huge_224' is not a LaViT" in r.stdout + r.stderr
    r = _with(workflow, **{"tables.lavit.pixels": 72})
    assert r.returncode != 0 and "72 is not a multiple of 32" in r.stdout + r.stderr
    r = _with(workflow, **{"tables.lavit.pixels": None, "resolutions.224": 48})
    assert r.returncode != 0 and "set tables.lavit.pixels to 32 or 64" in r.stdout + r.stderr
    r = _with(workflow, **{"tables.lavit.dense.detection.models": ["EDIT-T"]})
    assert r.returncode != 0 and "'EDIT-T' is not in tables.lavit.models" in r.stdout + r.stderr
    r = _with(workflow, **{"tables.lavit.dense.segmentation.heads": ["fcn"]})
    assert r.returncode != 0 and "'fcn' is not one of ['semantic_fpn', 'upernet']" in r.stdout + r.stderr
    r = _with(workflow, **{"recipes.retinanet_1x.set.lr_steps": [3, 12]})
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "recipes.retinanet_1x" in out and "lr_steps" in out


def test_the_workflow_knows_every_registered_lavit():
    import timm

    import editrepro.models  # noqa: F401  (registers LaViT)
    from editrepro.plan import LAVIT_ARCHS   # the names the plan accepts (torch-free: it cannot ask timm)

    assert set(LAVIT_ARCHS) == set(timm.list_models("lavit_*"))


def test_demo_reproduce_lavit_end_to_end(shared_run):
    """The demo's LaViT table, reduced (the suite's `shared_run`): both families trained, evaluated, counted,
    reported, with the figure; LaViT-T also as RetinaNet and UperNet (one short epoch each), scored and in the dense
    tables."""
    from mlflow.tracking import MlflowClient

    workflow, out = shared_run.work, shared_run.out
    assert shared_run.result.returncode == 0, out[-3000:]
    # LaViT's jobs (train_lavit, evaluate 2 + 2, figures_lavit, detect, segment_dense, its aggregation and page) and
    # what the same run asked for besides: Table 3a and the attention analyses
    assert job_stats(out) == SHARED_JOBS
    page = (workflow / "reports" / "lavit.md").read_text()
    assert page.startswith("# LaViT against the PVTv2 it modifies: ImageNet-1k, COCO and ADE20K")
    assert "Cells: 0 reproduced within tolerance, 0 off, 4 pending, 2 run on demo data" in page
    assert "## COCO detection: RetinaNet on each backbone" in page and "unusually high" in page
    assert "## ADE20K segmentation: Semantic FPN and UperNet on each backbone" in page
    dense = json.loads((workflow / "results/shared/eval/coco_1x/LaViT-T/seed0.json").read_text())
    assert dense["dataset"] == "coco" and dense["n"] == 24 and dense["AP"] >= 0
    upernet = json.loads((workflow / "results/shared/runs/ade20k_upernet/LaViT-T/seed0/metrics.json").read_text())
    assert upernet["task"] == "segmentation" and upernet["img_size"] == 64
    assert "## Reconstructed design choices" in page and "figures/lavit_attention_saturation.png" in page
    assert (workflow / "reports/figures/lavit_attention_saturation.png").stat().st_size > 10_000
    cells = pd.read_parquet(workflow / "results/shared/lavit.parquet")
    trained = cells[(cells.column == "top1") & cells.reproduced_value.notna()]
    assert sorted(trained.row) == ["LaViT-T", "PVTv2-b1"] and (trained.reproduced_value >= 0).all()
    run = cells[(cells.half == "coco_1x") & (cells.row == "LaViT-T") & (cells.column == "AP")].iloc[0]
    assert run.status == "not comparable" and run.paper_value == 46.2
    metrics = json.loads((workflow / "results/shared/runs/lavit_224/LaViT-T/seed0/metrics.json").read_text())
    assert metrics["img_size"] == 64 and metrics["recipe"] == "lavit_in1k"
    client = MlflowClient(tracking_uri=shared_run.uri)
    runs = client.search_runs([client.get_experiment_by_name("lavit").experiment_id], "tags.config = 'shared'")
    families = {run.data.tags["row"]: (run.data.tags["family"], run.data.tags["size"]) for run in runs}
    assert families == {"LaViT-T": ("LaViT", "tiny"), "PVTv2-b1": ("PVTv2", "tiny")}
    stages = sorted(run.data.tags["stage"] for run in runs if run.data.tags["row"] == "LaViT-T")
    assert stages == ["ade20k_upernet", "coco_1x", "lavit_in1k"]
    lavit_run = next(run for run in runs if run.data.tags["stage"] == "lavit_in1k" and run.data.tags["row"] == "LaViT-T")
    assert lavit_run.data.metrics["epoch/train_dp_loss"] > 0 and lavit_run.info.status == "FINISHED"
    again = snakemake(workflow, "reproduce_lavit", "-n", "--configfile", "shared.yaml", env=shared_run.env)
    assert "Nothing to be done" in again.stdout + again.stderr
