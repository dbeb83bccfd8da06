"""A damaged or read-only MLflow store is named with its cause and what to do; a run that ends FINISHED carries
no stale ``error`` tag; the link that opens MLflow 3.17's UI on the runs table is the one its bundle reads."""
import logging
import os
import re
import sqlite3
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from editrepro.cli import main
from editrepro.tracking import Tracker, runs_url
from editrepro.tracking.mlflow_tracker import store_problem


def _sqlite_file(path: Path, rows: int = 2000) -> Path:
    """A plain SQLite database of several pages (no MLflow schema)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 100,)] * rows)
    return path


def test_tracking_init_names_a_store_that_is_not_sqlite(tmp_path, capsys):
    db = tmp_path / "mlflow.db"
    db.write_bytes(os.urandom(4096))
    assert main(["tracking-init", "--uri", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("editrepro tracking-init: error: ") and "Traceback" not in err
    assert f"the MLflow store {db} is damaged (not an SQLite database" in err
    assert f"`mv {db} {db}.damaged`" in err and "from a backup" in err


def test_tracking_init_names_a_truncated_store(tmp_path, capsys):
    db = _sqlite_file(tmp_path / "mlflow.db")
    with sqlite3.connect(db) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    kept = db.stat().st_size // 3
    db.write_bytes(db.read_bytes()[:kept])
    assert main(["tracking-init", "--uri", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert f"the MLflow store {db} is damaged (truncated: its header counts {pages} pages of {page_size} bytes" in err
    assert f"the file holds {kept})" in err


def test_a_job_on_a_malformed_store_warns_naming_it_and_carries_on(tmp_path, caplog):
    db = _sqlite_file(tmp_path / "mlflow.db")
    raw = bytearray(db.read_bytes())
    raw[100:1000] = b"\xff" * 900            # page 1's schema table, behind an intact header
    db.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        t = Tracker("x", uri=f"sqlite:///{db}")
        assert t.start(run_name="r") is None
        t.log_metrics({"m": 1.0}, step=0, flush=True)
        t.end()
    assert not t.enabled
    warnings = [r.getMessage() for r in caplog.records if "tracking is off" in r.getMessage()]
    assert len(warnings) == 1
    assert f"the MLflow store {db} is damaged (SQLite: " in warnings[0] and f"mv {db} {db}.damaged" in warnings[0]


def test_a_read_only_store_is_named_read_only(tmp_path, capsys, caplog):
    db = tmp_path / "mlflow.db"
    db.touch()
    uri = f"sqlite:///file:{db}?mode=ro&uri=true"     # SQLite itself refuses writes, for root too
    assert main(["tracking-init", "--uri", uri]) == 2
    err = capsys.readouterr().err
    assert f"the MLflow store {db} is read-only (SQLite: attempt to write a readonly database)" in err
    assert "autoflush" not in err and "Traceback" not in err
    with caplog.at_level(logging.WARNING):
        t = Tracker("x", uri=uri)
        t.start(run_name="r")
    assert not t.enabled
    text = caplog.text
    assert f"the MLflow store {db} is read-only" in text and "autoflush" not in text and "Traceback" not in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a file whatever its mode")
def test_tracking_init_names_a_store_file_without_write_permission(tmp_path, capsys):
    db = _sqlite_file(tmp_path / "mlflow.db")
    db.chmod(0o444)
    assert main(["tracking-init", "--uri", f"sqlite:///{db}"]) == 2
    assert f"the MLflow store {db} is read-only (the file is not writable)" in capsys.readouterr().err


def test_tracking_init_names_a_store_whose_folder_is_not_writable(tmp_path, capsys, monkeypatch):
    """As root (CI) chmod does not bite: the check asks os.access, here answering as for another user."""
    db = _sqlite_file(tmp_path / "mlflow.db")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    assert main(["tracking-init", "--uri", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert f"the MLflow store {db} is read-only (its folder {tmp_path} is not writable" in err


def test_a_store_locked_through_every_retry_is_named_with_the_way_out(tmp_path):
    db = _sqlite_file(tmp_path / "mlflow.db")
    why = store_problem(db, sqlite3.OperationalError("database is locked"))
    assert why.startswith(f"the MLflow store {db} stayed locked") and "MLFLOW_TRACKING_URI at an MLflow server" in why
    assert store_problem(db, sqlite3.OperationalError("no such column: x")) is None   # not the store's fault


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One MLflow store for this module's tests (creating one takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def _reopened(uri: str, run_id: str) -> Tracker:
    t = Tracker("tags", uri=uri)
    assert t.start(run_id=run_id) == run_id
    return t


def test_a_run_that_later_finishes_keeps_no_error_tag(store):
    client = MlflowClient(tracking_uri=store)
    first = Tracker("tags", uri=store)
    run_id = first.start(run_name="job")
    first.fail(RuntimeError("disk full"))
    run = client.get_run(run_id)
    assert (run.info.status, run.data.tags["error"]) == ("FAILED", "RuntimeError: disk full")

    second = _reopened(store, run_id)                       # the rerun: RUNNING, the old error gone
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING" and "error" not in run.data.tags
    second.fail(KeyboardInterrupt())                        # preempted: KILLED, resumable
    assert client.get_run(run_id).info.status == "KILLED"

    third = _reopened(store, run_id)
    third.end()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and "error" not in run.data.tags and third.enabled

    fourth = _reopened(store, run_id)                       # an error tag written by hand meanwhile
    client.set_tag(run_id, "error", "stale")
    fourth.end()
    assert "error" not in client.get_run(run_id).data.tags


def _bundle() -> str:
    js = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    files = sorted(js.glob("main.*.js"))
    if not files:
        pytest.skip("this MLflow has no UI bundle")
    return files[0].read_text(encoding="utf-8", errors="replace")


def test_the_runs_link_is_what_the_ui_bundle_reads(store, capsys):
    bundle = _bundle()
    # the workflow type: an enum with a MACHINE_LEARNING member, read from the URL's search parameters and
    # remembered under the localStorage key "mlflow.workflowType"
    enum = re.search(r'\.GENAI="(\w+)",\w\.MACHINE_LEARNING="(\w+)"', bundle)
    param = re.search(r'\.get\("(\w+)"\);return \w===\w\.GENAI\|\|\w===\w\.MACHINE_LEARNING', bundle)
    assert enum and param and '"mlflow.workflowType"' in bundle
    assert "createHashRouter" in bundle and '"/experiments/:experimentId/runs"' in bundle
    assert runs_url("7") == f"http://127.0.0.1:5000/#/experiments/7/runs?{param.group(1)}={enum.group(2)}"
    # the experiment kind tag written for the MLflow versions that read it: the bundle's own key and value
    kind = re.search(r'CUSTOM_MODEL_DEVELOPMENT="(\w+)"', bundle).group(1)
    Tracker("kind", uri=store).start(run_name="r")
    exp = MlflowClient(tracking_uri=store).get_experiment_by_name("kind")
    assert '"mlflow.experimentKind"' in bundle and exp.tags["mlflow.experimentKind"] == kind

    assert main(["tracking-init", "--uri", store]) == 0     # prints each experiment's link
    out = capsys.readouterr().out
    assert f"  kind: http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning" in out
