"""The MLflow tracker: parallel writers on one SQLite store, batching, switching itself off."""
import logging
import multiprocessing as mp

from mlflow.tracking import MlflowClient

from editrepro.tracking import Tracker
from editrepro.tracking.mlflow_tracker import flatten

STEPS = 25


def _job(uri: str, i: int) -> None:
    t = Tracker("concurrent", uri=uri, flush_every=5)
    t.start(run_name=f"job{i}", tags={"table": "table3", "model": f"m{i}"})
    t.log_params({"recipe": {"lr": 0.001 * i, "epochs": 3}, "model": f"m{i}"})
    for step in range(STEPS):
        t.log_metrics({"train/loss": 1.0 / (step + 1), "train/lr": 0.1 * i}, step=step)
    t.log_metrics({"val/top1": 50.0 + i}, step=STEPS, flush=True)
    t.end()
    assert t.enabled, "tracking switched itself off"


def in_parallel(target, uri: str, jobs: int = 4) -> list:
    """Exit codes of ``jobs`` processes running ``target(uri, i)`` at once."""
    ctx = mp.get_context("fork")  # writers share this process's imports; each opens the store itself
    procs = [ctx.Process(target=target, args=(uri, i)) for i in range(jobs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    return [p.exitcode for p in procs]


def test_parallel_jobs_on_a_fresh_sqlite_store_lose_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert in_parallel(_job, uri) == [0] * 4
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("concurrent")
    assert exp.artifact_location == (tmp_path / "mlartifacts").as_uri()
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == [f"job{i}" for i in range(4)]
    for r in runs:
        i = int(r.info.run_name[3:])
        assert r.info.status == "FINISHED"
        assert len(client.get_metric_history(r.info.run_id, "train/loss")) == STEPS
        assert r.data.metrics["val/top1"] == 50.0 + i
        assert r.data.params["recipe.lr"] == str(0.001 * i) and r.data.tags["table"] == "table3"


def test_a_failing_store_warns_once_then_stays_quiet(tmp_path, caplog):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING):
        t = Tracker("x", uri=f"sqlite:///{blocker / 'sub' / 'mlflow.db'}")
        t.start(run_name="r")
        t.log_params({"a": 1})
        t.log_metrics({"m": 1.0}, step=0, flush=True)
        t.end()
    assert not t.enabled
    assert sum("tracking is off" in r.getMessage() for r in caplog.records) == 1


def test_flatten_nests_with_dots_and_cuts_long_values():
    flat = flatten({"recipe": {"lr": 0.1, "drop_path": {"tiny": 0.0}}, "tags": {}, "long": "x" * 7000})
    assert flat == {"recipe.lr": "0.1", "recipe.drop_path.tiny": "0.0", "tags": "{}", "long": "x" * 6000}


def _dataset_job(uri: str, i: int) -> None:
    t = Tracker("datasets", uri=uri)
    t.start(run_name=f"job{i}")
    t.log_dataset("imagenet1k/train", "/data", "ab" * 32, "training", 10)   # every job: the same dataset
    t.log_metrics({"m": 1.0}, step=0, flush=True)
    t.end()
    assert t.enabled, "tracking switched itself off"


def test_parallel_jobs_recording_one_dataset_keep_tracking(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker("datasets", uri=uri).start(run_name="first")        # the store and experiment exist
    assert in_parallel(_dataset_job, uri) == [0] * 4
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("datasets")
    runs = [r for r in client.search_runs([exp.experiment_id]) if r.info.run_name.startswith("job")]
    assert len(runs) == 4 and all(r.data.metrics["m"] == 1.0 for r in runs)
    assert all([i.dataset.name for i in r.inputs.dataset_inputs] == ["imagenet1k/train"] for r in runs)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
