"""One MLflow run per job, that neither loses a run to a busy store nor stops training.

- Store: ``MLFLOW_TRACKING_URI`` if set (a shared server on a cluster), else a SQLite file
  in the project (``mlflow.db``, open it with ``mlflow ui --backend-store-uri
  sqlite:///mlflow.db``) with artifacts under ``mlartifacts/``.
- A new SQLite store is created under a file lock: MLflow's schema migration breaks when
  several processes create the same store at once. Afterwards parallel writers are fine,
  and a write that meets "database is locked" is retried with backoff.
- Step metrics are buffered and sent in batches (a call to a server costs ~50 ms).
- If the store cannot be reached or a call keeps failing, tracking switches itself off
  with one warning and training goes on.
- Every way a job ends sets its run's status: FINISHED, KILLED (stopped to be resumed; the
  rerun reopens the same run as RUNNING) or FAILED with the error as the ``error`` tag.
- Experiments declare MLflow 3's model-training kind, so ``mlflow ui`` opens on their runs;
  runs record their datasets as MLflow dataset inputs (the UI's Dataset column).
"""
import fcntl
import json
import logging
import os
import random
import sqlite3
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..provenance import project_root

__all__ = ["Tracker", "default_tracking_uri", "ensure_store", "flatten", "metric_histories", "EXPERIMENT_KIND"]

# MLflow 3's experiment kinds (the UI's "experiment type"): training runs, not GenAI traces
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")

_logger = logging.getLogger(__name__)

_PARAM_VALUE_MAX = 6000
_BATCH_PARAMS = 100
_BATCH_METRICS = 1000


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Optional[Path]:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):].split("?", 1)[0])


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_store(uri: str) -> None:
    """Create a SQLite store's schema once, serialised across processes (no-op for servers)."""
    db = _sqlite_path(uri)
    if db is None:
        return
    from mlflow.tracking import MlflowClient

    # Always under the lock: alembic records a version at its first migration, so a store another
    # process is still creating already looks finished from outside (and a second migration breaks it).
    with _file_lock(db.with_name(db.name + ".lock")):
        if not _has_schema(db):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


def _has_schema(db: Path) -> bool:
    """Whether MLflow has finished creating the store (its migrations record a version last)."""
    if not db.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def flatten(d: Mapping[str, Any], prefix: str = "") -> Dict[str, str]:
    """Nested config -> {"recipe.lr": "0.003", ...} with values cut to MLflow's limit."""
    out: Dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)[:_PARAM_VALUE_MAX]
    return out


def _is_lock_error(e: BaseException) -> bool:
    return "database is locked" in str(e) or "database table is locked" in str(e)


def with_retries(fn: Callable[[], Any], retry_if: Callable[[BaseException], bool] = None, retries: int = 12):
    """``fn()``, retried with jittered backoff while its error satisfies ``retry_if`` (default: a locked SQLite
    store, which parallel jobs meet); any other error, or the last one, is raised."""
    retry_if = retry_if or _is_lock_error
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            if not retry_if(e) or attempt == retries:
                raise
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))


def _reachable(uri: str, timeout: float = 3.0) -> Optional[str]:
    """None if an http(s) tracking server answers, else why not."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered, if not at /health
    except (urllib.error.URLError, OSError) as e:
        return str(getattr(e, "reason", e))


class Tracker:
    """Logs one run; every method is a no-op once tracking is off.

    Args:
        experiment: MLflow experiment (created with artifacts under ``mlartifacts/`` for a local store).
        uri: Tracking URI; default :func:`default_tracking_uri`.
        enabled: ``False`` makes every call a no-op (other ranks of a distributed job).
        flush_every: Buffered step metrics are sent once this many have accumulated.
    """

    def __init__(self, experiment: str, uri: Optional[str] = None, enabled: bool = True, flush_every: int = 200,
                 retries: int = 12):
        self.uri = uri or default_tracking_uri()
        self.experiment = experiment
        self.enabled = enabled
        self.flush_every = flush_every
        self.retries = retries
        self.run_id: Optional[str] = None
        self._buffer: List[Any] = []
        self._client = None
        if enabled:
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
            why = _reachable(self.uri)
            if why is not None:
                self._disable(f"cannot reach {self.uri} ({why})")

    # -- resilience -------------------------------------------------------------------
    def _disable(self, why: str) -> None:
        if self.enabled:
            _logger.warning("MLflow tracking is off for this job: %s. Training continues; metrics are still "
                            "written to the job's log.jsonl and metrics.json.", why)
        self.enabled = False

    def _call(self, fn: Callable, *args, retry_if: Callable[[BaseException], bool] = None, essential: bool = True,
              **kwargs):
        """``fn(*args, **kwargs)``, retried with backoff while ``retry_if`` (default: a locked database) holds.

        A failure switches tracking off, unless the call is not ``essential``: then it is logged and skipped.
        """
        if not self.enabled:
            return None
        try:
            return with_retries(lambda: fn(*args, **kwargs), retry_if or _is_lock_error, self.retries)
        except Exception as e:  # noqa: BLE001  (tracking must never stop training)
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            if essential:
                self._disable(why)
            else:
                _logger.warning("MLflow: skipped %s for run %s (%s)", getattr(fn, "__name__", "a call"),
                                self.run_id, why)
            return None

    @property
    def client(self):
        if self._client is None:
            from mlflow.tracking import MlflowClient

            ensure_store(self.uri)
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    # -- run lifecycle ----------------------------------------------------------------
    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is None:
            db = _sqlite_path(self.uri)
            location = (db.parent / "mlartifacts").as_uri() if db is not None else None
            try:
                self.client.create_experiment(self.experiment, artifact_location=location,
                                              tags={EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]})
            except Exception:  # noqa: BLE001  (created by a parallel job in between)
                pass
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is None:
                raise RuntimeError(f"experiment {self.experiment!r} could not be created in {self.uri}")
        if EXPERIMENT_KIND[0] not in exp.tags:       # an experiment created before this version
            self.client.set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
        return exp.experiment_id

    def start(self, run_name: Optional[str] = None, tags: Optional[Mapping[str, str]] = None,
              run_id: Optional[str] = None) -> Optional[str]:
        """Create a run, or reopen ``run_id`` (a resumed job continues its own run)."""
        def _start():
            if run_id is not None:
                try:
                    self.client.get_run(run_id)
                    self.client.update_run(run_id, status="RUNNING")
                    return run_id
                except Exception as e:  # noqa: BLE001
                    if _is_lock_error(e):
                        raise
                    _logger.warning("run %s is not in %s (%s); starting a new run", run_id, self.uri, e)
            run = self.client.create_run(self._experiment_id(), run_name=run_name, tags=dict(tags or {}))
            return run.info.run_id

        self.run_id = self._call(_start)
        return self.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten(params)
        items = [Param(k, v) for k, v in flat.items()]
        for i in range(0, len(items), _BATCH_PARAMS):
            self._call(self._log_batch_params, items[i:i + _BATCH_PARAMS])

    def _log_batch_params(self, params) -> None:
        existing = self.client.get_run(self.run_id).data.params
        fresh = [p for p in params if p.key not in existing]  # a resumed run keeps its params
        if fresh:
            self.client.log_batch(self.run_id, params=fresh)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self._call(lambda: self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]))

    def log_metrics(self, metrics: Mapping[str, Optional[float]], step: int, flush: bool = False) -> None:
        """Buffer ``metrics`` at ``step``; a value of None (undefined: COCO's AP of an absent size) is skipped."""
        if not self.enabled or self.run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._buffer += [Metric(k, float(v), now, int(step)) for k, v in metrics.items() if v is not None]
        if flush or len(self._buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        buffer, self._buffer = self._buffer, []
        for i in range(0, len(buffer), _BATCH_METRICS):
            self._call(lambda chunk=buffer[i:i + _BATCH_METRICS]: self.client.log_batch(self.run_id, metrics=chunk))

    def log_artifact(self, path: os.PathLike) -> None:
        if Path(path).exists():
            self._call(lambda: self.client.log_artifact(self.run_id, str(path)))

    def log_dataset(self, name: str, source: str, digest: str, context: str, size: Optional[int] = None) -> None:
        """Record a dataset the run read (``context``: training / evaluation) as an MLflow dataset input."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        if not self.enabled or self.run_id is None:
            return
        profile = json.dumps({"num_rows": size}) if size is not None else None
        dataset = Dataset(name=name, digest=digest[:36], source_type="local", source=json.dumps({"uri": source}),
                          profile=profile)
        inputs = [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])]
        # parallel jobs recording one dataset race on MLflow's unique (experiment, name, digest): the retry finds
        # the other job's record. A dataset record is not worth switching tracking off for.
        self._call(self.client.log_inputs, self.run_id, datasets=inputs, essential=False,
                   retry_if=lambda e: "UNIQUE constraint" in str(e) or _is_lock_error(e))

    def end(self, status: str = "FINISHED") -> None:
        """Flush and close the run (``KILLED`` for a job stopped to be resumed)."""
        if self.run_id is None:
            return
        self.flush()
        self._call(lambda: self.client.set_terminated(self.run_id, status=status))

    def fail(self, error: BaseException) -> None:
        """Close the run as FAILED with the error as its ``error`` tag (KILLED for an interrupt: resumable)."""
        if self.run_id is None:
            return
        text = f"{type(error).__name__}: {error}"
        self.set_tags({"error": text[:_PARAM_VALUE_MAX]})
        self.end(status="KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")


def metric_histories(experiment: str, tags: Mapping[str, str], metrics: Sequence[str],
                     uri: Optional[str] = None) -> Dict[str, Dict[str, Dict[int, float]]]:
    """``{run name: {metric: {step: value}}}`` of an experiment's runs whose tags match ``tags``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri or default_tracking_uri())
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    where = " and ".join(f"tags.{k} = '{v}'" for k, v in tags.items())
    return {run.info.run_name: {m: {x.step: x.value for x in client.get_metric_history(run.info.run_id, m)}
                                for m in metrics}
            for run in client.search_runs([exp.experiment_id], filter_string=where)}
