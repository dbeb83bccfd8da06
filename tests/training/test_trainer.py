"""The training entry point: learning, accumulation, kill-and-resume, NaN stop, tracking."""
import json
import logging

import pytest
import torch
from synthetic import Synthetic, job

from editrepro.training.checkpoint import load_checkpoint
from editrepro.training.engine import NonFiniteLossError
from editrepro.training.trainer import Preempted, train


def weights(out):
    return load_checkpoint(out / "model.pth")["model"]


def assert_same_weights(a, b, exact=True):
    assert a.keys() == b.keys()
    for k in a:
        if exact:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_a_few_steps_lower_the_loss_and_write_the_job_files(tmp_path):
    out = tmp_path / "run"
    metrics = train(job(out, epochs=3), datasets=(Synthetic(128), Synthetic(64, seed=1)))
    history = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert metrics["top1"] > 50.0                     # 4 classes: chance is 25%
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["top1"] == metrics["top1"] and on_disk["val_images"] == 64
    assert {"config.yaml", "checkpoint.pth", "model.pth", "metrics.json", "log.jsonl"} <= {p.name for p in out.iterdir()}
    assert not list(out.glob("*.tmp"))


def test_gradient_accumulation_matches_one_large_batch(tmp_path):
    data = (Synthetic(64, noise=0.0), Synthetic(32, seed=1, noise=0.0))
    kw = dict(epochs=1, batch_size=16, mixup=0.0, cutmix=0.0, loss="ce", drop_path=0.0)
    train(job(tmp_path / "big", **kw), datasets=data)
    train(job(tmp_path / "accum", per_device_batch=4, **kw), datasets=data)        # 4 x 4 accumulation steps
    assert_same_weights(weights(tmp_path / "big"), weights(tmp_path / "accum"), exact=False)


def test_killed_and_resumed_job_ends_with_identical_weights_and_metrics(tmp_path):
    kw = dict(epochs=3)
    ref = train(job(tmp_path / "ref", **kw), datasets=(Synthetic(96), Synthetic(32, seed=1)))
    # SIGUSR1 arrives while the 5th batch of epoch 1 is loaded (96 / 16 = 6 steps an epoch)
    killed = Synthetic(96, signal_at=96 + 4 * 16 + 3)
    with pytest.raises(Preempted, match=r"SIGUSR1 at epoch 1, step 5 of 6"):
        train(job(tmp_path / "run", **kw), datasets=(killed, Synthetic(32, seed=1)))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pth")
    assert (state["epoch"], state["step"]) == (1, 5)
    resumed = train(job(tmp_path / "run", **kw), datasets=(Synthetic(96), Synthetic(32, seed=1)))
    assert_same_weights(weights(tmp_path / "ref"), weights(tmp_path / "run"))
    for key in ("top1", "top5", "val_loss", "train_loss"):
        assert resumed[key] == ref[key], key
    assert resumed["run_id"] == json.loads((tmp_path / "run" / "metrics.json").read_text())["run_id"]


def test_resumed_job_continues_its_own_mlflow_run(tmp_path):
    from mlflow.tracking import MlflowClient

    with pytest.raises(Preempted):
        train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(64, signal_at=70), Synthetic(16, seed=1)))
    first = load_checkpoint(tmp_path / "run" / "checkpoint.pth")["run_id"]
    metrics = train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(64), Synthetic(16, seed=1)))
    assert metrics["run_id"] == first
    client = MlflowClient()
    run = client.get_run(first)
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(first, "val/top1")] == [0, 1]
    assert run.data.params["recipe.lr"] == "0.002" and run.data.params["derived.accum_steps"] == "1"
    assert run.data.tags["model"] == "edit_tiny_patch16_224" and "config_hash" in run.data.tags
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    poisoned = Synthetic(64, poison_from_epoch=64 + 20)   # epoch 0 is clean, epoch 1 turns to inf
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 1, step 1.*last good checkpoint is kept"):
        train(job(out, epochs=3), datasets=(poisoned, Synthetic(16, seed=1)))
    state = load_checkpoint(out / "checkpoint.pth")
    assert (state["epoch"], state["step"]) == (1, 0)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (out / "metrics.json").exists()


# a checkpoint of another configuration is moved aside and the job starts afresh: test_job_robustness.py


def test_unreachable_tracking_warns_once_and_training_goes_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")   # nothing listens on the discard port
    with caplog.at_level(logging.WARNING):
        metrics = train(job(tmp_path / "run", epochs=1), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    assert metrics["run_id"] is None and metrics["top1"] is not None
    warnings = [r for r in caplog.records if "tracking is off" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1:9" in warnings[0].getMessage()


def test_ema_weights_are_evaluated_and_saved(tmp_path):
    cfg = job(tmp_path / "run", epochs=2, ema=True, ema_decay=0.5)
    metrics = train(cfg, datasets=(Synthetic(64), Synthetic(16, seed=1)))
    final = load_checkpoint(tmp_path / "run" / "model.pth")
    ema, raw = final["model_ema"], final["model"]
    assert ema is not None and ema.keys() == raw.keys()
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)       # the average lags the weights
    assert metrics["top1"] is not None
