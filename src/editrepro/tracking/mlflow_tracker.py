"""One MLflow run per job, that neither loses a run to a busy store nor stops training.

- Store: ``MLFLOW_TRACKING_URI`` if set (a shared server on a cluster), else a SQLite file
  in the project (``mlflow.db``, open it with ``mlflow ui --backend-store-uri
  sqlite:///mlflow.db``) with artifacts under ``mlartifacts/``.
- A new SQLite store is created under a file lock: MLflow's schema migration breaks when
  several processes create the same store at once. Afterwards parallel writers are fine,
  and a write that meets "database is locked" is retried with backoff.
- Step metrics are buffered and sent in batches (a call to a server costs ~50 ms).
- If the store cannot be reached or a call keeps failing, tracking switches itself off
  with one warning and training goes on. A SQLite store that is damaged (not an SQLite file,
  truncated, malformed), read-only or stays locked is named in that warning with its cause and
  what to do (:class:`StoreError`; ``editrepro tracking-init`` stops on it with exit code 2).
- Every way a job ends sets its run's status: FINISHED, KILLED (stopped to be resumed; the
  rerun reopens the same run as RUNNING) or FAILED with the error as the ``error`` tag. A
  reopened run drops the ``error`` tag of its earlier attempt, so a run that ends FINISHED has none.
- Experiments carry MLflow 3's model-training kind tag, but MLflow 3.17's UI ignores it: it picks
  its pages from a per-browser switch (:data:`UI_WORKFLOW`), which :func:`runs_url` sets in the
  link (``docs/tracking.md``). Runs record their datasets as MLflow dataset inputs (the UI's
  Dataset column).
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

__all__ = ["Tracker", "StoreError", "default_tracking_uri", "ensure_store", "store_problem", "experiment_ids",
           "runs_url", "flatten", "metric_histories", "EXPERIMENT_KIND", "UI_WORKFLOW", "ERROR_TAG"]

# MLflow 3's experiment kinds (the UI's "experiment type"): training runs, not GenAI traces. MLflow 3.17's UI
# no longer reads it (its experiment kind comes from UI_WORKFLOW); other MLflow 3 versions do.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# What MLflow 3.17's UI reads instead: the URL parameter workflowType (else the browser's localStorage
# "mlflow.workflowType_v1", which the sidebar's "GenAI | Model training" switch sets; default "genai").
UI_WORKFLOW = ("workflowType", "machine_learning")
ERROR_TAG = "error"

_logger = logging.getLogger(__name__)


class _DropReraisedDatabaseErrors(logging.Filter):
    """MLflow logs a full traceback for every SQLite error it then raises (a locked store's retries, a read-only
    store's autoflush); this package catches each one and says what it means, naming the store."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


_MLFLOW_DB_LOGGER = logging.getLogger("mlflow.store.db.utils")
if not any(isinstance(f, _DropReraisedDatabaseErrors) for f in _MLFLOW_DB_LOGGER.filters):
    _MLFLOW_DB_LOGGER.addFilter(_DropReraisedDatabaseErrors())

_PARAM_VALUE_MAX = 6000
_BATCH_PARAMS = 100
_BATCH_METRICS = 1000


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Optional[Path]:
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path[len("file:"):] if path.startswith("file:") else path)   # sqlite:///file:PATH?mode=ro&uri=true


def runs_url(experiment_id: str, base: str = "http://127.0.0.1:5000") -> str:
    """The link that opens an experiment of ``mlflow ui`` (or of a server at ``base``) on its runs table."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{UI_WORKFLOW[0]}={UI_WORKFLOW[1]}"


class StoreError(RuntimeError):
    """The tracking store cannot be used; the message names the file, the cause and what to do."""


_SQLITE_MAGIC = b"SQLite format 3\x00"
_DAMAGED = ("file is not a database", "database disk image is malformed", "malformed database schema",
            "database corrupt")
_READ_ONLY = ("readonly database", "read-only file system")


def _damaged(db: Path, why: str) -> str:
    return (f"the MLflow store {db} is damaged ({why}). Move it aside and rerun: `mv {db} {db}.damaged` (a new, "
            "empty store is then created: the runs in the old one are gone from MLflow, while each job's "
            f"metrics.json and log.jsonl keep their values), or restore {db.name} from a backup")


def _read_only(db: Path, why: str) -> str:
    return (f"the MLflow store {db} is read-only ({why}). Make it writable (`chmod u+w {db} {db.parent}`), or "
            "point MLFLOW_TRACKING_URI at a writable store")


def _header_problem(db: Path) -> Optional[str]:
    """Why ``db`` cannot be an intact SQLite file, from its first 100 bytes and its size (cheap); None if it can."""
    try:
        size = db.stat().st_size
        if size == 0:
            return None                                  # an empty file: SQLite makes it a database
        with open(db, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"it cannot be read: {e.strerror or e}"
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return "not an SQLite database: it does not start with SQLite's header"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    # the header's page count is valid when its change counter matches; a hot journal or a WAL may still fix it
    settling = any(db.with_name(db.name + suffix).exists() for suffix in ("-journal", "-wal"))
    if head[24:28] == head[92:96] and not settling and pages * page_size > size:
        return (f"truncated: its header counts {pages} pages of {page_size} bytes, {pages * page_size} bytes, "
                f"the file holds {size}")
    return None


def _write_problem(db: Path) -> Optional[str]:
    """Why SQLite cannot write ``db`` (the file, or its folder, where it writes its journal); None if it can."""
    if db.exists() and not os.access(db, os.W_OK):
        return "the file is not writable"
    if db.parent.exists() and not os.access(db.parent, os.W_OK | os.X_OK):
        return f"its folder {db.parent} is not writable, and SQLite writes its journal there"
    return None


def store_problem(db: Path, error: Optional[BaseException] = None) -> Optional[str]:
    """What is wrong with the SQLite store ``db`` (after ``error``, if one was met), with what to do; None if
    nothing is found."""
    if isinstance(error, StoreError):
        return str(error)
    text = str(error or "").lower()
    writing = _write_problem(db)
    if writing is not None or any(m in text for m in _READ_ONLY):
        return _read_only(db, writing or "SQLite: attempt to write a readonly database")
    header = _header_problem(db)
    if header is not None:
        return _damaged(db, header)
    for marker in _DAMAGED:
        if marker in text:
            return _damaged(db, f"SQLite: {marker}")
    if _is_lock_error(error or Exception()):
        return (f"the MLflow store {db} stayed locked (SQLite: database is locked) through every retry: another "
                "process holds it for long (on a network filesystem SQLite's locks are unreliable: point "
                "MLFLOW_TRACKING_URI at an MLflow server, docs/slurm.md)")
    if "unable to open database file" in text:
        return (f"the MLflow store {db} cannot be opened (SQLite: unable to open database file): its folder must "
                "exist and be writable")
    return None


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
    """Create a SQLite store's schema once, serialised across processes (no-op for servers).

    Raises :class:`StoreError` naming the file, the cause and what to do when the store is damaged (not an
    SQLite file, truncated, malformed) or read-only.
    """
    db = _sqlite_path(uri)
    if db is None:
        return
    problem = _header_problem(db)
    if problem is not None:
        raise StoreError(_damaged(db, problem))
    problem = _write_problem(db)
    if problem is not None:
        raise StoreError(_read_only(db, problem))
    try:
        # Always under the lock: alembic records a version at its first migration, so a store another
        # process is still creating already looks finished from outside (and a second migration breaks it).
        with _file_lock(db.with_name(db.name + ".lock")):
            if not _has_schema(db):
                from mlflow.tracking import MlflowClient

                MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as e:  # noqa: BLE001
        problem = store_problem(db, e)
        if problem is None:
            raise
        raise StoreError(problem) from e


def experiment_ids(uri: str) -> Dict[str, str]:
    """``{name: id}`` of a SQLite store's active experiments (read with sqlite3: no MLflow import).

    Raises :class:`StoreError` when the store cannot be read (a damaged file).
    """
    db = _sqlite_path(uri)
    if db is None or not _has_schema(db):
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            rows = conn.execute("SELECT name, experiment_id FROM experiments WHERE lifecycle_stage = 'active' "
                                "ORDER BY experiment_id").fetchall()
    except sqlite3.Error as e:
        raise StoreError(store_problem(db, e) or f"the MLflow store {db} cannot be read (SQLite: {e})") from e
    return {name: str(i) for name, i in rows}


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

    def _store_problem(self, e: BaseException) -> Optional[str]:
        """What ``e`` says about the store (its file, the cause, what to do), if the store is to blame."""
        db = _sqlite_path(self.uri)
        return store_problem(db, e) if db is not None else (str(e) if isinstance(e, StoreError) else None)

    def _explain(self, e: BaseException) -> str:
        return self._store_problem(e) or f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"

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
            why = self._explain(e)
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
        """Create a run, or reopen ``run_id`` (a resumed job continues its own run, without the ``error`` tag of an
        earlier attempt)."""
        def _start():
            if run_id is not None:
                try:
                    previous = self.client.get_run(run_id)
                    self.client.update_run(run_id, status="RUNNING")
                except Exception as e:  # noqa: BLE001
                    if _is_lock_error(e) or self._store_problem(e) is not None:
                        raise                               # retried, or named by _call
                    _logger.warning("run %s is not in %s (%s); starting a new run", run_id, self.uri, e)
                else:
                    if ERROR_TAG in previous.data.tags:     # this attempt starts clean
                        self.client.delete_tag(run_id, ERROR_TAG)
                    return run_id
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
        """Flush and close the run (``KILLED`` for a job stopped to be resumed); a FINISHED run has no ``error``
        tag."""
        if self.run_id is None:
            return
        self.flush()
        if status == "FINISHED":
            self._call(self._clear_error, essential=False)
        self._call(lambda: self.client.set_terminated(self.run_id, status=status))

    def _clear_error(self) -> None:
        if ERROR_TAG in self.client.get_run(self.run_id).data.tags:
            self.client.delete_tag(self.run_id, ERROR_TAG)

    def fail(self, error: BaseException) -> None:
        """Close the run as FAILED with the error as its ``error`` tag (KILLED for an interrupt: resumable).

        The run is closed even when the tag cannot be written.
        """
        if self.run_id is None:
            return
        from mlflow.entities import RunTag

        text = f"{type(error).__name__}: {error}"[:_PARAM_VALUE_MAX]
        self._call(lambda: self.client.log_batch(self.run_id, tags=[RunTag(ERROR_TAG, text)]), essential=False)
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
