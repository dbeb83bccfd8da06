"""Issue 24, item 1: a changed recipe value reruns its job through Snakemake, and the job starts afresh instead of
refusing the checkpoint the old recipe left in its folder (which Snakemake does not remove)."""
import json

import yaml
from conftest import small_config, snakemake

from editrepro.recipes import TrainConfig

TARGET = "results/small/runs/in1k_224/EDIT-T/seed0/metrics.json"


def test_a_changed_recipe_value_reruns_the_job_afresh(workflow, demo_root):
    cfg = small_config(workflow, demo_root, {"table3": {"in1k": {"models": ["EDIT-T"], "resolutions": [224]}}})
    cfg["recipes"]["in1k_pretrain"]["set"]["epochs"] = 1
    (workflow / "small.yaml").write_text(yaml.safe_dump(cfg))
    r = snakemake(workflow, TARGET, "--cores", "1", "--configfile", "small.yaml")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    job = (workflow / TARGET).parent
    first = json.loads((job / "metrics.json").read_text())

    cfg["recipes"]["in1k_pretrain"]["set"]["lr"] = 1.0e-3                 # was 2.0e-3
    (workflow / "changed.yaml").write_text(yaml.safe_dump(cfg))
    r = snakemake(workflow, TARGET, "--cores", "1", "--configfile", "changed.yaml")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    metrics = json.loads((job / "metrics.json").read_text())
    saved = yaml.safe_load((job / "config.yaml").read_text())
    assert saved["recipe"]["lr"] == 1.0e-3 and metrics["config_hash"] == TrainConfig.from_dict(saved).config_hash()
    assert metrics["config_hash"] != first["config_hash"] and metrics["run_id"] != first["run_id"]
    assert (job / f"checkpoint.{first['config_hash']}.pth").is_file()     # the old recipe's, kept aside
    assert [json.loads(line)["epoch"] for line in (job / "log.jsonl").read_text().splitlines()] == [0]
