"""The attention analyses in the DAG: `attention_sink` (reports/attention_sink.md) and `calibrate`
(reports/calibration.md) from config `attention.models`, part of `all`, on the demo with the pipeline's own models
and a timm DeiT III of random weights through --checkpoint; the paper's with timm's published DeiT III."""
import json

import yaml
from conftest import SHARED_JOBS, job_stats, snakemake, write_config


def test_all_of_the_demo_runs_the_attention_analyses_without_training_more(workflow):
    r = snakemake(workflow, "-n", "-p", "all")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    stats = job_stats(out)
    assert stats["attention_model"] == 5 and stats["attention_sink"] == 1 and stats["demo_timm_weights"] == 1
    assert stats["calibrate_model"] == 1 and stats["calibrate"] == 1
    assert stats["pretrain_in1k"] == 4 and stats["train_lavit"] == 2          # the tables' own trainings, no more
    # this run's checkpoints (run_dir of common.smk, first seed), and the random timm DeiT III through --checkpoint
    for run, model in (("in1k_224", "EDIT-T"), ("in1k_224", "DeiT3-T"), ("lavit_224", "LaViT-T"),
                       ("lavit_224", "PVTv2-b1")):
        assert f"attention-sink --weights results/demo/runs/{run}/{model}/seed0/model.pth" in out
    checkpoint = "data/demo/timm/deit3_small_patch16_224.random.pth"
    # written and read with the entry's own architecture arguments (depth 4)
    assert f"timm-weights --model deit3_small_patch16_224 --model-arg depth=4 --seed 0 --out {checkpoint}" in out
    assert f"attention-sink --model deit3_small_patch16_224 --checkpoint {checkpoint} --model-arg depth=4" in out
    assert f"evaluate --model deit3_small_patch16_224 --checkpoint {checkpoint} --model-arg depth=4 " \
           "--dataset imagenet1k" in out
    assert "--images data/demo/imagenet1k/val --count 8" in out


def test_the_paper_calibrates_timms_published_deit3(workflow):
    r = snakemake(workflow, "-n", "-p", "attention_sink", "calibrate", "--configfile", "config/paper.yaml")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    stats = job_stats(out)
    assert stats["attention_model"] == 9 and stats["calibrate_model"] == 2 and "demo_timm_weights" not in stats
    for size, top1 in (("small", "81.37"), ("base", "83.786")):
        name = f"deit3_{size}_patch16_224.fb_in1k"
        assert f"attention-sink --model {name} --pretrained" in out
        assert f"evaluate --model {name} --pretrained --dataset imagenet1k --data-root /datasets/imagenet" in out
        assert f"--published=DeiT3-{size[0].upper()}-timm={top1}" in out
    assert "--model vit_small_patch14_reg4_dinov2.lvd142m --pretrained" in out
    assert "calibrate/DINOv2" not in out                                  # no ImageNet head: calibrate: false
    assert "--weights results/paper/runs/in1k_224/EDIT-B/seed0/model.pth" in out


def test_bad_attention_entries_fail_before_any_job_naming_them(workflow):
    def planned(**changes):
        r = snakemake(workflow, "-n", "attention_sink", "--configfile", write_config(workflow, "bad", **changes))
        return r.returncode, r.stdout + r.stderr

    code, out = planned(**{"attention.models": [{"trained": "EDIT-T", "run": "in21k_384", "seed": 0},
                                                {"trained": "EDIT-T", "run": "in1k_224", "seed": 5}]})
    assert code != 0 and "attention.models[1].seed: 'EDIT-T' is trained in in1k_224 with seeds [0, 1], not 5" in out
    code, out = planned(**{"attention.models": [{"trained": "EDIT-T", "run": "in1k_384"}]})
    assert code != 0 and "attention.models[0].run: this config trains 'EDIT-T' in in1k_224, in21k_224" in out
    code, out = planned(**{"attention.models": [{"timm": "deit3_small_patch16_224", "pretrained": True,
                                                 "checkpoint": "x.pth"}]})
    assert code != 0 and "needs pretrained: true or checkpoint: FILE (one)" in out
    code, out = planned(**{"attention.models": [{"trained": "EDIT-T"}, {"trained": "EDIT-T", "run": "in21k_224"}]})
    assert code != 0 and "two entries are named 'EDIT-T'; give one a name:" in out
    code, out = planned(**{"attention.models": [{"timm": "deit3_small_patch16_224", "pretrained": True, "tag": 1}]})
    assert code != 0 and "'tag' was unexpected" in out
    assert "Job stats" not in out


def test_models_no_table_trains_are_left_out_with_a_warning(workflow):
    """A config that drops a table (or a model) keeps the demo's attention list: those models are left out."""
    cfg = write_config(workflow, "fewer", **{"tables.lavit.models": [], "tables.lavit.dense": {}})
    text = yaml.safe_load((workflow / cfg).read_text())
    del text["models"]["PVTv2-b1"]                        # not even a model of this config
    (workflow / cfg).write_text(yaml.safe_dump(text))
    r = snakemake(workflow, "-n", "attention_sink", "--configfile", cfg)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "attention.models[2]: no table of this config trains 'LaViT-T' on ImageNet: left out" in out
    assert "attention.models[3]: no table of this config trains 'PVTv2-b1'" in out
    assert job_stats(out)["attention_model"] == 3


def test_demo_attention_sink_and_calibration_end_to_end(shared_run):
    """A reduced demo (the suite's `shared_run`): EDIT-T and DeiT3-T (Table 3a, depth 1), LaViT-T and PVTv2-b1 (one
    epoch) and the random timm DeiT III-S file, analysed and calibrated; the page has one row per model with its sink
    score, saturation and figures."""
    workflow, out = shared_run.work, shared_run.out
    assert shared_run.result.returncode == 0, out[-3000:]
    # the analyses read the tables' own trainings (no training of their own) and the timm file rule
    # demo_timm_weights writes; the rest is Table 3a and LaViT's table, which the run also asked for
    assert job_stats(out) == SHARED_JOBS
    page = (workflow / "reports" / "attention_sink.md").read_text()
    assert page.startswith("# Attention sink and saturation, per model") and "Not comparable to the paper" in page
    for name in ("DeiT3-T", "EDIT-T", "LaViT-T", "PVTv2-b1", "DeiT3-S-random"):
        summary = json.loads((workflow / f"reports/attention/{name}/attention_sink.json").read_text())
        assert summary["label"] == name and summary["images"] == 4
        assert f"| {name} " in page and f"[Fig. 1a](attention/{name}/fig1a_attention_sink.png)" in page
        for figure in summary["figures"].values():
            assert (workflow / f"reports/attention/{name}/{figure}").stat().st_size > 5_000
    edit = json.loads((workflow / "reports/attention/EDIT-T/attention_sink.json").read_text())
    assert edit["sink_view"] == "decoder" and edit["data_config"]["input_size"] == [3, 32, 32]
    lavit = json.loads((workflow / "reports/attention/LaViT-T/attention_sink.json").read_text())
    assert lavit["sink_score"] is None and lavit["saturation"] is not None and "LA" in lavit["kinds"]
    timm_model = json.loads((workflow / "reports/attention/DeiT3-S-random/attention_sink.json").read_text())
    assert timm_model["source"] == "checkpoint" and timm_model["depth"] == 4
    assert timm_model["data_config"]["input_size"] == [3, 224, 224]
    assert "## The paper's claim" in page and "**DeiT3-T**" in page and "**DeiT3-S-random**" in page
    assert "## EDIT: the decoder's view and the encoder's" in page
    calibration = (workflow / "reports" / "calibration.md").read_text()
    assert calibration.startswith("# Calibration") and "| DeiT3-S-random " in calibration
    measured = json.loads((workflow / "results/shared/calibration/DeiT3-S-random.json").read_text())
    assert measured["n"] == 200 and measured["tags"]["name"] == "DeiT3-S-random"
    again = snakemake(workflow, "attention_sink", "calibrate", "-n", "--configfile", "shared.yaml",
                      env=shared_run.env)
    assert "Nothing to be done" in again.stdout + again.stderr
