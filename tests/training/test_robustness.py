"""A job survives bad images and a SIGKILL, ends with its true MLflow status, and fits smaller GPUs."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient
from synthetic import Synthetic, job

from editrepro.cli import main
from editrepro.data.bad_samples import TooManyBadSamples
from editrepro.training.checkpoint import load_checkpoint
from editrepro.recipes import DataConfig, TrainConfig, load_recipe
from editrepro.training.engine import NonFiniteLossError
from editrepro.training.trainer import Preempted, train

KILL_WORKER = Path(__file__).with_name("kill_worker.py")


def weights(out):
    return load_checkpoint(out / "model.pth")["model"]


def run_of(metrics_or_id):
    run_id = metrics_or_id if isinstance(metrics_or_id, str) else metrics_or_id["run_id"]
    return MlflowClient().get_run(run_id)


# -- bad samples ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_imagenet(tmp_path_factory, demo):
    """The demo ImageNet-1k with a truncated JPEG and a text file named .JPEG in its training set."""
    root = tmp_path_factory.mktemp("broken") / "imagenet1k"
    shutil.copytree(demo["imagenet1k"], root)
    images = sorted((root / "train").rglob("*.JPEG"))
    truncated, not_an_image = images[3], images[17]
    truncated.write_bytes(truncated.read_bytes()[:300])
    not_an_image.write_text("this is not an image\n")
    return root, {str(truncated), str(not_an_image)}


def demo_job(out, root, **kw) -> TrainConfig:
    recipe = load_recipe("config/recipes/in1k_pretrain.yaml", dict(epochs=2, batch_size=40, warmup_epochs=0,
                                                                   repeated_aug=False))
    return TrainConfig(model="edit_tiny_patch16_224", img_size=32, model_kwargs=dict(depth=1), recipe=recipe,
                       data=DataConfig(name="imagenet1k", root=str(root), num_workers=0), output_dir=str(out),
                       experiment="tests", **kw)


def test_bad_samples_are_replaced_named_and_counted(tmp_path, broken_imagenet, caplog):
    root, bad = broken_imagenet
    metrics = train(demo_job(tmp_path / "run", root, max_bad_samples=2))
    assert metrics["bad_samples"] == 2 and set(metrics["bad_files"]) == bad
    history = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [h["bad_samples"] for h in history] == [2, 2]          # each file counted once, not once an epoch
    logged = [r.getMessage() for r in caplog.records if "bad sample" in r.getMessage()]
    assert len(logged) == 2 and all(any(b in m for m in logged) for b in bad)   # named once each, with the error
    assert any("truncated" in m.lower() for m in logged)
    run = run_of(metrics)
    assert run.info.status == "FINISHED" and run.data.metrics["epoch/bad_samples"] == 2
    assert metrics["val_images"] == 200 and metrics["top1"] >= 0


def test_past_the_limit_the_job_fails_naming_the_files(tmp_path, broken_imagenet):
    root, bad = broken_imagenet
    with pytest.raises(TooManyBadSamples) as e:
        train(demo_job(tmp_path / "run", root, max_bad_samples=1))
    assert "more than the limit of 1" in str(e.value) and all(b in str(e.value) for b in bad)
    run_id = run_id_by_name("tests", "run")
    run = run_of(run_id)
    assert run.info.status == "FAILED" and run.data.tags["error"].startswith("TooManyBadSamples: 2 samples")


def run_id_by_name(experiment, name):
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    (run,) = client.search_runs([exp.experiment_id], f"attributes.run_name = '{name}'")
    return run.info.run_id


def test_check_data_lists_every_unreadable_file(tmp_path, broken_imagenet, capsys):
    root, bad = broken_imagenet
    out = tmp_path / "bad.tsv"
    assert main(["check-data", "--dataset", "imagenet1k", "--data-root", str(root), "--workers", "2",
                 "--out", str(out)]) == 1
    lines = out.read_text().splitlines()
    assert lines[0] == "path\tsplit\terror"
    assert {line.split("\t")[0] for line in lines[1:]} == bad and all(line.split("\t")[1] == "train" for line in lines[1:])
    assert "2 of 800 samples cannot be read" in capsys.readouterr().out


# -- run status ----------------------------------------------------------------------------------


def test_nan_run_is_failed_with_its_error(tmp_path):
    with pytest.raises(NonFiniteLossError):
        train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(64, poison_from_epoch=64 + 20), Synthetic(16)))
    run = run_of(load_checkpoint(tmp_path / "run" / "checkpoint.pth")["run_id"])
    assert run.info.status == "FAILED" and "loss is nan" in run.data.tags["error"]


def test_preempted_run_is_killed_then_finished_after_the_rerun(tmp_path):
    with pytest.raises(Preempted):
        train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(64, signal_at=70), Synthetic(16, seed=1)))
    run_id = load_checkpoint(tmp_path / "run" / "checkpoint.pth")["run_id"]
    assert run_of(run_id).info.status == "KILLED"
    metrics = train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(64), Synthetic(16, seed=1)))
    assert metrics["run_id"] == run_id and run_of(run_id).info.status == "FINISHED"


def test_experiment_kind_dataset_inputs_and_environment(tmp_path):
    metrics = train(job(tmp_path / "run", epochs=1), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    client = MlflowClient()
    run = run_of(metrics)
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["mlflow.source.name"] == "editrepro train"             # the UI's Source column
    inputs = {(i.dataset.name, i.tags[0].value) for i in run.inputs.dataset_inputs}
    assert inputs == {("synthetic/train", "training"), ("synthetic/val", "evaluation")}
    env = (tmp_path / "run" / "environment.txt").read_text()
    assert f"torch {torch.__version__}" in env and "timm==" in env
    assert "environment.txt" in {a.path for a in client.list_artifacts(run.info.run_id)}


# -- time-based checkpoints and SIGKILL ---------------------------------------------------------------


def test_sigkill_after_a_time_based_checkpoint_resumes_mid_epoch_bit_identical(tmp_path):
    ref = train(job(tmp_path / "ref", epochs=2), datasets=(Synthetic(96), Synthetic(32, seed=1)))
    # SIGKILL while the 5th batch of epoch 0 loads (96 / 16 = 6 steps an epoch); a checkpoint follows every step
    r = subprocess.run([sys.executable, str(KILL_WORKER), str(tmp_path / "run"), str(4 * 16 + 3)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr[-2000:]
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pth")
    assert (state["epoch"], state["step"]) == (0, 4)                # mid-epoch, not at step 0
    assert not list((tmp_path / "run").glob("*.tmp*"))
    resumed = train(job(tmp_path / "run", epochs=2), datasets=(Synthetic(96), Synthetic(32, seed=1)))
    a, b = weights(tmp_path / "ref"), weights(tmp_path / "run")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["top1"] == ref["top1"] and resumed["val_loss"] == ref["val_loss"]


def test_checkpoint_interval_defaults():
    cfg = job("x")
    assert cfg.checkpoint_interval_s("cuda") == 1800 and cfg.checkpoint_interval_s("cpu") is None
    assert job("x", checkpoint_every=0).checkpoint_interval_s("cuda") is None
    assert job("x", checkpoint_every=5).checkpoint_interval_s("cpu") == 300
    assert job("x", checkpoint_every=5).config_hash() == cfg.config_hash()     # resumable across settings


# -- activation checkpointing ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["edit_tiny_patch16_224", "deit3_ref_tiny_patch16_224"])
def test_activation_checkpointing_gives_the_same_weights(tmp_path, model):
    kw = dict(epochs=1, model=model, drop_path=0.1)
    train(job(tmp_path / "plain", **kw), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    train(job(tmp_path / "ckpt", grad_checkpointing=True, **kw), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "ckpt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-7, msg=k)


@pytest.mark.parametrize("name", ["edit_tiny_patch16_224", "deit3_ref_tiny_patch16_224"])
def test_activation_checkpointing_same_loss_and_gradients(name):
    import timm

    torch.manual_seed(0)
    a = timm.create_model(name, img_size=32, depth=2, num_classes=5, drop_path_rate=0.2)
    b = timm.create_model(name, img_size=32, depth=2, num_classes=5, drop_path_rate=0.2)
    b.load_state_dict(a.state_dict())
    b.set_grad_checkpointing(True)
    x = torch.randn(4, 3, 32, 32)
    losses = []
    for m in (a, b):
        torch.manual_seed(1)                                        # the same drop-path draws
        loss = m(x).logsumexp(-1).mean()
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == losses[1]
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)
