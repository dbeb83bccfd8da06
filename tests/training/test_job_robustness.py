"""A training job survives its user (issue 24): a changed configuration starts afresh, one process per job
folder, a full disk or an unwritable folder is named, unreadable weights are named, a finished job is not
rewritten, and the NaN message says whether a checkpoint exists."""
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient
from synthetic import Synthetic, job

from editrepro.cli import main
from editrepro.fileio import StorageError
from editrepro.joblock import LOCK_NAME, JobFolderLocked, JobLock
from editrepro.training import checkpoint as checkpoint_module
from editrepro.training.checkpoint import load_checkpoint, save_checkpoint
from editrepro.training.engine import NonFiniteLossError
from editrepro.training.trainer import Preempted, train

HERE = Path(__file__).parent
DATA = (Synthetic(32), Synthetic(16, seed=1))


def runs(experiment="tests"):
    store = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    if not store.exists():                             # no store: no run (and no store created to find that out)
        return []
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id]) if exp else []


def snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def epochs_logged(folder: Path):
    return [json.loads(line)["epoch"] for line in (folder / "log.jsonl").read_text().splitlines()]


# -- a changed configuration ---------------------------------------------------------------------------------


def test_a_changed_configuration_moves_the_old_files_aside_and_starts_afresh(tmp_path, caplog):
    out = tmp_path / "run"
    old_cfg, new_cfg = job(out, epochs=2), job(out, epochs=1, lr=1e-3)
    with pytest.raises(Preempted):      # stopped in epoch 1: a checkpoint and a log of the old recipe are left
        train(old_cfg, datasets=(Synthetic(64, signal_at=70), Synthetic(16, seed=1)))
    old_hash, new_hash = old_cfg.config_hash(), new_cfg.config_hash()
    assert old_hash != new_hash
    old_state = load_checkpoint(out / "checkpoint.pth")
    with caplog.at_level(logging.WARNING):
        metrics = train(new_cfg, datasets=DATA)
    # the old files are kept under their config hash, never deleted; the new job's own are its alone
    aside = load_checkpoint(out / f"checkpoint.{old_hash}.pth")
    assert aside["config_hash"] == old_hash and (aside["epoch"], aside["step"]) == (old_state["epoch"], old_state["step"])
    assert epochs_logged(out) == [0]
    assert [json.loads(x)["epoch"] for x in (out / f"log.{old_hash}.jsonl").read_text().splitlines()] == [0]
    assert metrics["config_hash"] == new_hash == load_checkpoint(out / "checkpoint.pth")["config_hash"]
    warning = next(r.getMessage() for r in caplog.records if "another configuration" in r.getMessage())
    assert old_hash in warning and new_hash in warning and f"checkpoint.{old_hash}.pth" in warning
    # a new MLflow run with the new recipe; the old run is left as it was
    assert metrics["run_id"] != old_state["run_id"]
    new_run = MlflowClient().get_run(metrics["run_id"])
    assert new_run.data.params["recipe.lr"] == "0.001" and new_run.info.status == "FINISHED"
    assert MlflowClient().get_run(old_state["run_id"]).data.params["recipe.lr"] == "0.002"
    # a finished folder run again with another recipe: its model.pth and metrics.json move aside too
    third = job(out, epochs=1, lr=5e-4)
    again = train(third, datasets=DATA)
    assert json.loads((out / f"metrics.{new_hash}.json").read_text())["run_id"] == metrics["run_id"]
    assert (out / f"model.{new_hash}.pth").is_file() and (out / f"checkpoint.{new_hash}.pth").is_file()
    assert again["config_hash"] == third.config_hash() and epochs_logged(out) == [0]


def test_an_unchanged_finished_job_is_not_rewritten(tmp_path, caplog):
    out = tmp_path / "run"
    first = train(job(out, epochs=1), datasets=DATA)
    before = snapshot(out)
    run = MlflowClient().get_run(first["run_id"])
    with caplog.at_level(logging.INFO):
        again = train(job(out, epochs=1), datasets=(Synthetic(32, poison_from_epoch=0), Synthetic(16, seed=1)))
    assert again == json.loads((out / "metrics.json").read_text()) and again["run_id"] == first["run_id"]
    assert snapshot(out) == before                                  # metrics.json (git_commit ...) untouched
    after = MlflowClient().get_run(first["run_id"])
    assert (after.info.status, after.info.end_time) == ("FINISHED", run.info.end_time) and len(runs()) == 1
    assert any("already complete" in r.getMessage() for r in caplog.records)


# -- one process per job folder ------------------------------------------------------------------------------


def test_a_second_process_is_refused_with_exit_5_and_touches_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text('{"epoch": 0}\n')
    with JobLock(out):                                  # this test process is the live holder
        before = snapshot(out)
        code = main(["train", "--recipe", "config/recipes/in1k_pretrain.yaml", "--model", "edit_tiny_patch16_224",
                     "--dataset", "imagenet1k", "--data-root", str(tmp_path / "never-read"), "--output", str(out)])
        assert snapshot(out) == before
    err = capsys.readouterr().err
    assert code == 5 and err.startswith("editrepro train: error:") and "Traceback" not in err
    assert f"pid {os.getpid()} on {socket.gethostname()}" in err and "is in use by another process" in err
    assert runs() == [] and not (out / LOCK_NAME).exists()             # released by its holder


def test_two_processes_on_one_folder_one_trains_the_other_refuses(tmp_path, capsys):
    out = tmp_path / "run"
    # the child trains without MLflow (a closed port: tracking off), which saves it creating a store
    child = subprocess.Popen([sys.executable, str(HERE / "lock_worker.py"), str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    deadline = time.monotonic() + 120
    while not (out / LOCK_NAME).exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()[1][-2000:]
        time.sleep(0.01)
    with pytest.raises(JobFolderLocked, match=rf"in use by another process \(pid {child.pid} on "):
        train(job(out, epochs=2), datasets=DATA)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-2000:]
    assert epochs_logged(out) == [0, 1] and runs() == [] and not (out / LOCK_NAME).exists()   # each epoch once


def test_a_lock_whose_holder_died_is_taken_over(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = folder / LOCK_NAME

    def holder(host, pid, age_s=0.0):
        lock.write_text(json.dumps({"host": host, "pid": pid, "slurm_job": "4242", "since": "then", "token": "t"}))
        os.utime(lock, (time.time() - age_s, time.time() - age_s))

    holder(socket.gethostname(), int(dead.stdout))                      # this host, its pid gone: at once
    with caplog.at_level(logging.WARNING):
        metrics = train(job(folder, epochs=1), datasets=DATA)
    assert metrics["top1"] is not None and not lock.exists()
    assert any("no longer running" in r.getMessage() for r in caplog.records)
    other = tmp_path / "other"
    other.mkdir()
    lock = other / LOCK_NAME
    holder("node-17", 1, age_s=30)            # another host: no pid to check, but its heartbeat goes on: alive
    stop = threading.Event()
    beat = threading.Thread(target=lambda: [os.utime(lock) for _ in iter(lambda: stop.wait(0.05), True)])
    beat.start()
    try:
        with pytest.raises(JobFolderLocked, match=r"pid 1 on node-17, Slurm job 4242, since then"):
            JobLock(other, poll_s=0.05).acquire()
    finally:
        stop.set()
        beat.join()
    monkeypatch.setenv("EDITREPRO_LOCK_STALE_S", "20")                  # untouched for longer than that: node lost
    holder("node-17", 1, age_s=30)
    with JobLock(other):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()
    monkeypatch.setenv("EDITREPRO_LOCK_STALE_S", "1")                   # just touched, then silent: a requeued job
    holder("node-17", 1)                                                # waits for it to go stale instead of failing
    t0 = time.monotonic()
    with JobLock(other, poll_s=0.05):
        assert json.loads(lock.read_text())["pid"] == os.getpid() and time.monotonic() - t0 >= 0.9


def test_a_lock_taken_over_stops_its_old_holder_before_it_writes(tmp_path):
    first = JobLock(tmp_path).acquire()
    (tmp_path / LOCK_NAME).unlink()                   # as if it was declared stale and taken over
    second = JobLock(tmp_path).acquire()
    with pytest.raises(JobFolderLocked, match="taken over by pid"):
        first.check()
    first.release()
    assert (tmp_path / LOCK_NAME).exists()            # the old holder does not remove the new holder's lock
    second.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_every_ddp_rank_learns_the_folder_is_locked(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with JobLock(out):
        before = snapshot(out)
        r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                            f"--master_port={port}", "--master_addr=127.0.0.1", str(HERE / "ddp_worker.py"), str(out),
                            "8"], capture_output=True, text=True, timeout=300)
        assert snapshot(out) == before
    assert r.returncode != 0
    assert "is in use by another process" in r.stderr and "rank 0 could not lock the job folder" in r.stderr


# -- storage -------------------------------------------------------------------------------------------------


class _FullDisk:
    """A file that takes ``room`` bytes, then fails as a full filesystem does."""

    def __init__(self, path, mode, room):
        self.f, self.room = open(path, mode), room

    def write(self, b):
        if self.room < len(b):
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(b)
        return self.f.write(b)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_a_full_disk_while_checkpointing_is_named_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    writes = []

    def fake_open(path, mode="r", *a, **kw):
        writes.append(path)
        return _FullDisk(path, mode, room=10_000 if len(writes) == 2 else 10**12)   # the 2nd checkpoint fails

    monkeypatch.setattr(checkpoint_module, "open", fake_open, raising=False)
    with pytest.raises(StorageError) as e:
        train(job(out, epochs=3), datasets=DATA)
    assert str(e.value).startswith(f"no space left on {out} (") and "writing checkpoint.pth" in str(e.value)
    assert "the previous checkpoint.pth is kept" in str(e.value)
    state = load_checkpoint(out / "checkpoint.pth")
    assert (state["epoch"], state["step"]) == (1, 0)                    # epoch 0's checkpoint, intact
    assert not list(out.glob(".*.tmp")) and not (out / LOCK_NAME).exists()
    (run,) = runs()
    assert run.info.status == "FAILED" and run.data.tags["error"].startswith("StorageError: no space left on")


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    path = tmp_path / "checkpoint.pth"
    save_checkpoint(path, {"w": torch.zeros(10_000)})
    size = path.stat().st_size
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - size // 2, size // 2))
    monkeypatch.setattr(checkpoint_module, "open", lambda *a, **k: pytest.fail("written"), raising=False)
    with pytest.raises(StorageError, match=rf"no space left on {tmp_path}: writing checkpoint.pth needs about"):
        save_checkpoint(path, {"w": torch.ones(10_000)})
    assert torch.equal(load_checkpoint(path)["w"], torch.zeros(10_000))


def test_an_unwritable_job_file_fails_the_run_naming_the_folder(tmp_path, monkeypatch):
    import tempfile

    from editrepro import fileio

    real = tempfile.mkstemp

    def mkstemp(prefix="", suffix="", dir=None):
        if prefix.startswith(".config.yaml."):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(prefix=prefix, suffix=suffix, dir=dir)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)
    out = tmp_path / "run"
    with pytest.raises(StorageError, match=rf"cannot write config.yaml in {out}: Permission denied"):
        train(job(out, epochs=1), datasets=DATA)
    (run,) = runs()                                                     # FAILED with its cause, not RUNNING
    assert run.info.status == "FAILED" and "cannot write config.yaml" in run.data.tags["error"]


def test_a_job_folder_that_cannot_be_created_exits_6(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["train", "--recipe", "config/recipes/in1k_pretrain.yaml", "--model", "edit_tiny_patch16_224",
                 "--dataset", "imagenet1k", "--data-root", str(tmp_path), "--output", str(tmp_path / "file" / "run")])
    err = capsys.readouterr().err
    assert code == 6 and f"editrepro train: error: cannot create the job folder {tmp_path / 'file' / 'run'}" in err
    assert runs() == []


# -- unreadable weights --------------------------------------------------------------------------------------


@pytest.fixture
def bad_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"model": {"w": torch.zeros(5000)}, "config": {}}, good)
    data = good.read_bytes()
    files = {"truncated": data[: len(data) // 2], "text": b"<html><body>404 Not Found</body></html>\n", "empty": b""}
    for name, content in files.items():
        (tmp_path / f"{name}.pth").write_bytes(content)
    return tmp_path


@pytest.mark.parametrize("name,says", [
    ("truncated", "a truncated or damaged zip archive"),
    ("text", "not a torch file: it holds text"),
    ("empty", "the file is empty (0 bytes)"),
])
def test_an_unreadable_weights_file_is_named_by_evaluate(bad_files, capsys, name, says):
    path = bad_files / f"{name}.pth"
    assert main(["evaluate", "--weights", str(path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"editrepro evaluate: error: cannot read checkpoint {path}: {says}")
    assert "Traceback" not in err and "weights_only" not in err


def test_evaluate_given_a_job_folder_names_the_files_in_it(tmp_path, capsys):
    (tmp_path / "model.pth").write_bytes(b"")
    (tmp_path / "checkpoint.pth").write_bytes(b"")
    assert main(["evaluate", "--weights", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is a folder, not a file: give a file inside it, {tmp_path / 'model.pth'} or " \
           f"{tmp_path / 'checkpoint.pth'}" in err and "does not exist" not in err


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, path)
    with pytest.raises(ValueError, match=r"holds Python objects besides tensors.*runs no code") as e:
        load_checkpoint(path)
    assert not marker.exists() and "weights_only=False" not in str(e.value)


def test_a_truncated_checkpoint_in_the_job_folder_is_named(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    save_checkpoint(out / "checkpoint.pth", {"config_hash": "x", "w": torch.zeros(5000)})
    data = (out / "checkpoint.pth").read_bytes()
    (out / "checkpoint.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=rf"cannot read checkpoint {out / 'checkpoint.pth'}: a truncated .*"
                                         rf"Move it aside \(or delete it\) to train {out} afresh"):
        train(job(out, epochs=1), datasets=DATA)
    assert runs() == [] and not (out / LOCK_NAME).exists()


def test_deit3_weights_into_edit_are_a_clear_error(tmp_path, capsys):
    import timm

    from editrepro.models import load_pretrained

    deit3 = timm.create_model("deit3_ref_tiny_patch16_224", img_size=32, depth=1, num_classes=4)
    edit = timm.create_model("edit_tiny_patch16_224", img_size=32, depth=1, num_classes=4)
    ours, published = tmp_path / "ours.pth", tmp_path / "published.pth"
    torch.save({"model": deit3.state_dict(), "config": {"model": "deit3_ref_tiny_patch16_224"}}, ours)
    torch.save(deit3.state_dict(), published)                          # timm's layout: no config
    before = {k: v.clone() for k, v in edit.state_dict().items()}
    with pytest.raises(ValueError, match=rf"checkpoint {ours} does not fit EDIT \(edit_tiny_patch16_224\): it holds "
                                         r"DeiT3 weights \(trained as 'deit3_ref_tiny_patch16_224'\), not EDIT"):
        load_pretrained(edit, ours)
    with pytest.raises(ValueError, match=r"it has no EDIT decoder \(decoder\.\*\).*missing \['decoder.kv.weight'\]"):
        load_pretrained(edit, published)
    assert all(torch.equal(v, before[k]) for k, v in edit.state_dict().items())   # nothing copied in


# -- the NaN message -----------------------------------------------------------------------------------------


def test_a_nan_before_any_checkpoint_says_none_was_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=rf"No checkpoint was written yet \(none in {out}\)") as e:
        train(job(out, epochs=2), datasets=(Synthetic(32, poison_from_epoch=0), Synthetic(16, seed=1)))
    assert "kept" not in str(e.value) and not (out / "checkpoint.pth").exists() and not (out / LOCK_NAME).exists()


def test_every_torch_load_of_the_package_goes_through_the_safe_helper():
    import re

    import editrepro

    src = Path(editrepro.__file__).parent
    code_line = re.compile(r"^(?!\s*#).*(?<![`(])\btorch\.load\(", re.M)     # not a comment, not ``torch.load(...)``
    loads = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                   if p.name != "torchfiles.py" and code_line.search(p.read_text()))
    assert loads == [], f"torch.load outside editrepro.torchfiles.load_torch_file: {loads}"
