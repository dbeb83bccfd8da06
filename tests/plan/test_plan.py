"""The torch-free plan without Snakemake: a training job from its rule and wildcards, a cell's chain of jobs, the
paths, and the table registry's cells, over the demo and paper configs (with the schema's defaults)."""
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from editrepro.plan import Layout, Plan, TRAIN_RULES
from editrepro.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]


def plan_of(name, **tables):
    config = yaml.safe_load((ROOT / f"config/{name}.yaml").read_text())
    config["tables"].update(tables)
    validate(config, str(ROOT / "config/schemas/workflow.schema.yaml"))   # fills the defaults, as the Snakefile does
    return Plan(config)


def test_layout_paths():
    layout = Layout("demo")
    assert layout.run_dir("in1k_224", "EDIT-T", 0) == "results/demo/runs/in1k_224/EDIT-T/seed0"
    assert layout.eval_json("ade20k", "EDIT-T", 1) == "results/demo/eval/ade20k/EDIT-T/seed1.json"
    assert layout.bench("runs", "in1k_224", "{model}", "{seed}") == \
        "logs/demo/benchmarks/runs/in1k_224/{model}/seed{seed}.tsv"
    assert layout.train_log("finetune_in21k/{res}", "M", 2) == "logs/demo/finetune_in21k/{res}/M/seed2.log"


def test_a_fine_tuning_job_from_its_wildcards():
    plan = plan_of("paper")
    job = plan.train_job("finetune_in21k", {"model": "EDIT-B", "seed": "3", "res": "384"})
    assert (job["stage"], job["run"], job["init"], job["dataset"]) == \
        ("finetune_in21k", "in21k_384", "in21k_pretrain", "imagenet1k")
    assert job["img_size"] == 384 and job["experiment"] == "table3"
    assert job["arch"] == plan.config["models"]["EDIT-B"]["arch"]
    assert list(job["tags"].items()) == [("table", "table3"), ("row", "EDIT-B"), ("stage", "finetune_in21k"),
                                         ("resolution", "384"), ("config", "paper"), ("seed", "3")]
    assert job["log"] == "logs/paper/finetune_in21k/384/EDIT-B/seed3.log"


def test_chains_follow_each_run_upstream():
    plan = plan_of("paper")
    assert [j["run"] for j in plan.chain("in21k_384", "EDIT-S", 0)] == ["in21k_pretrain", "in21k_384"]
    assert [j["run"] for j in plan.chain("coco_3x", "LaViT-S", 1)] == ["lavit_224", "coco_3x"]
    # DeiT III's own recipes for a Base: 192 px, then 224, then 384, each its stage
    official = plan.chain("in1k_official_384", "DeiT3-B", 0)
    assert [(j["run"], j["stage"], j["img_size"]) for j in official] == [
        ("in1k_official_192", "official_in1k_base", 192), ("in1k_official_224", "official_in1k_base_ft224", 224),
        ("in1k_official_384", "official_in1k_ft384", 384)]
    assert all(j["tags"]["baseline"] == "deit3_official" for j in official)
    with pytest.raises(ValueError, match="no training rule makes run folder 'in1k_999'"):
        plan.chain("in1k_999", "EDIT-S", 0)


def test_each_rule_makes_the_runs_its_pattern_names():
    plan = plan_of("config")
    for spec in TRAIN_RULES:
        wildcards = {"model": "EDIT-T", "seed": 0, "res": "224", "dataset": "dtd", "schedule": "1x",
                     "head": "upernet", "orun": "in1k_official_224", "ablation": "edit_ablation"}
        if spec.name in ("train_lavit", "detect", "segment_dense"):
            wildcards["model"] = "LaViT-T"
        if spec.name == "train_ablation":
            wildcards["model"] = "qo_proj"
        if spec.name == "train_deit3_official":
            wildcards["model"] = "DeiT3-T"
        job = plan.train_job(spec.name, wildcards)
        assert plan.job_of_run(job["run"], wildcards["model"], 0)["rule"] == spec.name


def test_the_registry_lists_each_tables_cells():
    plan = plan_of("config")
    assert list(TABLES) == ["table3", "table4", "table5", "lavit", "edit_ablation", "lavit_ablation"]
    t3 = TABLES["table3"].cells(plan)
    paper_recipes = [c for c in t3 if c.priced]
    # demo: 2 models x 224 x seeds [0, 1] (half a), 2 models x 224/384 x seed 0 (half b)
    assert len(paper_recipes) == 2 * 1 * 2 + 2 * 2 * 1
    assert {(c.run, c.model, c.seed) for c in t3 if not c.priced} == {
        ("in1k_official_224", "DeiT3-T", 0), ("in1k_official_224", "DeiT3-T", 1)}
    lavit = TABLES["lavit"].cells(plan)
    assert [c.run for c in lavit] == ["lavit_224"] * 2 + ["coco_1x"] * 2 + ["ade20k_semantic_fpn"] * 2 + \
        ["ade20k_upernet"] * 2
    assert not TABLES["edit_ablation"].planned(plan_of("paper"))


def test_an_ablation_variant_is_its_full_model_with_its_change():
    plan = plan_of("config")
    job = plan.train_job("train_ablation", {"model": "no_dp_loss", "seed": 0, "ablation": "lavit_ablation"})
    base = plan.config["models"]["LaViT-T"]
    assert (job["arch"], job["args"]) == (base["arch"], base["args"])
    assert job["sets"] == {**plan.config["recipes"]["lavit_in1k"]["set"], "dp_loss_weight": 0.0}
    assert job["stage"] == "lavit_in1k" and job["img_size"] == plan.config["tables"]["lavit"]["pixels"]
    assert job["experiment"] == "lavit_ablation" and job["tags"]["ablates"] == "LaViT-T"
    variant = plan.train_job("train_ablation", {"model": "qo_proj", "seed": 1, "ablation": "edit_ablation"})
    assert variant["args"] == {**plan.config["models"]["EDIT-T"]["args"], "decoder_qo_proj": True}
    cells = TABLES["edit_ablation"].cells(plan)
    assert [(c.run, c.model, c.seed) for c in cells] == [
        ("in1k_224", "EDIT-T", 0), ("in1k_224", "EDIT-T", 1), ("edit_ablation", "qo_proj", 0),
        ("edit_ablation", "qo_proj", 1), ("edit_ablation", "norm_affine", 0), ("edit_ablation", "norm_affine", 1)]
    with pytest.raises(ValueError, match="has no 'nope'"):
        plan.ablation("edit_ablation", "nope")


def test_the_figures_pick_their_models_from_the_tables():
    from editrepro.tables.jobs import attention_pair, official_recipes, saturation_models

    demo = plan_of("config")
    assert attention_pair(demo) == ("in1k_224", "EDIT-T", "DeiT3-T", 0)
    assert saturation_models(demo) == [("DeiT III", "in1k_224", "DeiT3-T", 0), ("EDIT", "in1k_224", "EDIT-T", 0),
                                       ("LaViT", "lavit_224", "LaViT-T", 0), ("PVTv2", "lavit_224", "PVTv2-b1", 0)]
    assert official_recipes(demo) == ["deit3_official_in1k_small"]      # DeiT3-T by Small's recipe
    assert official_recipes(plan_of("paper")) == []                      # the paper config: baselines [paper]
    no_deit3 = plan_of("config", table3={"in1k": {"models": ["EDIT-T"], "resolutions": [224]}})
    assert attention_pair(no_deit3) is None
    assert [label for label, *_ in saturation_models(no_deit3)] == ["LaViT", "PVTv2"]
