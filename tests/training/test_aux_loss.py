"""LaViT's DP loss in training: added with its weight, logged as its own term, and exact under
gradient accumulation, resumption and AMP like every other loss term (DDP: test_ddp.py)."""
import json

import pytest
import torch
from synthetic import LAVIT_SIZE, Synthetic, lavit_job

from editrepro.training.checkpoint import load_checkpoint
from editrepro.training.trainer import Preempted, train


def data(n=48, seed=0, **kw):
    return Synthetic(n, size=LAVIT_SIZE, seed=seed, **kw)


def history(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_dp_loss_is_added_with_its_weight_and_logged(tmp_path):
    from mlflow.tracking import MlflowClient

    metrics = train(lavit_job(tmp_path / "on", dp_loss_weight=0.5), datasets=(data(), data(16, seed=1)))
    h = history(tmp_path / "on")
    for e in h:
        assert e["train_dp_loss"] > 0
        assert e["train_loss"] == pytest.approx(e["train_task_loss"] + 0.5 * e["train_dp_loss"], rel=1e-5)
    client = MlflowClient()
    run = client.get_run(metrics["run_id"])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch/train_dp_loss")] == [0, 1]
    assert "train/dp_loss" in run.data.metrics and "train/task_loss" in run.data.metrics
    assert run.data.tags["family"] == "LaViT" and run.data.tags["size"] == "tiny"


def test_weight_zero_turns_it_off(tmp_path):
    train(lavit_job(tmp_path / "off", dp_loss_weight=0.0), datasets=(data(), data(16, seed=1)))
    assert all("train_dp_loss" not in e for e in history(tmp_path / "off"))


def test_the_dp_term_changes_the_weights(tmp_path):
    kw = dict(epochs=1, warmup_epochs=0)
    train(lavit_job(tmp_path / "off", dp_loss_weight=0.0, **kw), datasets=(data(), data(16, seed=1)))
    train(lavit_job(tmp_path / "on", dp_loss_weight=1.0, **kw), datasets=(data(), data(16, seed=1)))
    a, b = (load_checkpoint(tmp_path / d / "model.pth")["model"] for d in ("off", "on"))
    key = "stages.2.blocks.1.attn.theta.delta"           # only the DP term moves the transforms this much
    assert (a[key] - b[key]).abs().max() > 1e-3


def test_gradient_accumulation_matches_one_large_batch(tmp_path):
    d = (data(32, noise=0.0), data(16, seed=1, noise=0.0))
    train(lavit_job(tmp_path / "big", epochs=1, dp_loss_weight=0.5), datasets=d)
    train(lavit_job(tmp_path / "accum", epochs=1, dp_loss_weight=0.5, per_device_batch=4), datasets=d)
    a, b = (load_checkpoint(tmp_path / r / "model.pth")["model"] for r in ("big", "accum"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
    assert history(tmp_path / "big")[0]["train_dp_loss"] == pytest.approx(
        history(tmp_path / "accum")[0]["train_dp_loss"], rel=1e-5)


def test_killed_and_resumed_job_ends_with_identical_weights(tmp_path):
    ref = train(lavit_job(tmp_path / "ref"), datasets=(data(), data(16, seed=1)))
    with pytest.raises(Preempted):
        train(lavit_job(tmp_path / "run"), datasets=(data(signal_at=16 + 3), data(16, seed=1)))   # epoch 0, step 1
    resumed = train(lavit_job(tmp_path / "run"), datasets=(data(), data(16, seed=1)))
    a, b = (load_checkpoint(tmp_path / r / "model.pth")["model"] for r in ("ref", "run"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["train_loss"] == ref["train_loss"]
    assert history(tmp_path / "run")[-1]["train_dp_loss"] == history(tmp_path / "ref")[-1]["train_dp_loss"]


def test_bf16_autocast(tmp_path):
    metrics = train(lavit_job(tmp_path / "bf16", epochs=1, amp="bf16"), datasets=(data(32), data(16, seed=1)))
    e = history(tmp_path / "bf16")[0]
    assert all(map(lambda v: v == v and abs(v) < 1e3, (e["train_loss"], e["train_dp_loss"]))) and metrics["top1"] >= 0
