"""A demo detection job end to end, as the workflow runs it: ``editrepro train`` of RetinaNet on the demo
COCO set (box AP above zero after a few CPU epochs), then ``editrepro evaluate`` of its weights."""
import json

import pytest

from editrepro.cli import main

TRAIN = ["train", "--recipe", "config/recipes/retinanet_1x.yaml", "--set", "epochs=5", "--set", "batch_size=8",
         "--set", "lr=3e-4", "--set", "lr_steps=[4]", "--set", "warmup_steps=10", "--set", "min_size=[128]",
         "--set", "max_size=160", "--set", "fpn_channels=64", "--model", "pvt_v2_b1", "--model-arg",
         "depths=[1, 1, 2, 2]", "--img-size", "64", "--dataset", "coco", "--workers", "0", "--device", "cpu",
         "--experiment", "det-test"]


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_demo_detection_job_learns_and_evaluates(demo, tmp_path):
    out = tmp_path / "run"
    assert main(TRAIN + ["--data-root", str(demo["coco"]), "--output", str(out), "--tag", "half=coco_1x"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "detection" and metrics["val_images"] == 24     # the empty val image counts too
    assert metrics["AP"] > 0 and metrics["AP50"] >= metrics["AP"]
    assert metrics["APl"] is None                                              # no large object in the demo set
    history = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    e = history[-1]
    # the detector's two losses are logged apart and add up to the step's loss
    assert e["train_loss"] == pytest.approx(e["train_classification"] + e["train_bbox_regression"], rel=1e-4)
    assert history[0]["train_loss"] > e["train_loss"]
    # the schedule: warmup, then x0.1 after epoch 4 (of 5)
    assert e["lr"] == pytest.approx(3e-5)
    assert main(["evaluate", "--weights", str(out / "model.pth"), "--workers", "0", "--tag", "row=PVTv2-b1",
                 "--out", str(tmp_path / "eval.json")]) == 0
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["AP"] == pytest.approx(metrics["AP"]) and ev["dataset"] == "coco" and ev["n"] == 24
    # counted at the paper's size: RetinaNet on the full PVTv2-b1 (PVTv2's paper: 23.8M)
    assert ev["params_paper_arch"] == pytest.approx(23.8e6, rel=0.005) and ev["gmacs_paper_arch"] > 150
