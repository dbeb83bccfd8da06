"""One process per job folder: an exclusive lock file, ``<folder>/train.lock``, held for a job's life.

A Slurm requeue while the old job still runs, or a user starting a job twice, would otherwise train twice
side by side into one folder (two MLflow runs, every epoch twice in ``log.jsonl``, checkpoints overwriting
each other). The lock is a small JSON file naming its holder (host, pid, Slurm job id, since when):

- taken atomically (a hard link of a complete file, refused when the name exists: safe on NFS, Lustre and
  GPFS, where ``flock`` is not always shared between nodes); released on any exit the process survives
  (normal end, error, preemption, Ctrl-C);
- kept fresh: the holder touches it every ``HEARTBEAT_S`` (30 s) from a background thread;
- stale, and taken over with a warning, when its holder died: on the same host when its pid no longer
  runs; on any host when it has not been touched for ``STALE_S`` (5 minutes, ``EDITREPRO_LOCK_STALE_S``), as
  after node loss. A lock held from another host and touched more recently is watched: a touch within that
  time means its holder lives (refused, after at most one heartbeat); none means it died (taken over once
  stale), so a job requeued after node loss waits for the lock instead of failing. The file's age is measured
  against the filesystem's clock (a file written just before), not the node's;
- a holder that finds its lock taken over (it was suspended, or cut off from the filesystem, for longer
  than ``STALE_S``) stops before writing anything more (:meth:`JobLock.check`).

A process refused the lock raises :class:`JobFolderLocked` (``editrepro train`` exits 5) before it reads or
writes anything in the folder.
"""
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .fileio import StorageError

__all__ = ["JobLock", "JobFolderLocked", "LOCK_NAME", "HEARTBEAT_S", "STALE_S", "stale_after_s"]

_logger = logging.getLogger(__name__)

LOCK_NAME = "train.lock"
HEARTBEAT_S = 30.0
STALE_S = 300.0


class JobFolderLocked(RuntimeError):
    """Another live process holds the job folder's lock (the message names it)."""


def stale_after_s() -> float:
    try:
        return float(os.environ.get("EDITREPRO_LOCK_STALE_S", STALE_S))
    except ValueError:
        return STALE_S


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # another user's process
        return True
    return True


def describe_holder(info: Dict[str, Any]) -> str:
    slurm = f", Slurm job {info['slurm_job']}" if info.get("slurm_job") else ""
    return f"pid {info.get('pid')} on {info.get('host')}{slurm}, since {info.get('since')}"


class JobLock:
    """``with JobLock(folder):`` holds ``folder/train.lock`` (see the module's docstring)."""

    def __init__(self, folder: Union[str, Path], heartbeat_s: float = HEARTBEAT_S, poll_s: float = 5.0):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.token = uuid.uuid4().hex
        self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                     "slurm_job": os.environ.get("SLURM_JOB_ID"), "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "token": self.token}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.held = False

    # -- taking and releasing ----------------------------------------------------------------------
    def acquire(self) -> "JobLock":
        """Take the lock, taking over a stale one; :class:`JobFolderLocked` if a live process holds it."""
        for _ in range(5):
            try:
                now = self._create()
            except OSError as e:
                raise StorageError(e.errno, f"cannot write in the job folder {self.folder}: {e.strerror or e}; it "
                                            "must be writable") from None
            if now is None:                                      # created: it is ours
                self.held = True
                self._start_heartbeat()
                return self
            holder = self._read()
            if holder is None:                                   # released in between (or unreadable): retry
                if not self.path.exists():
                    continue
                holder = {}
            why = self._stale(holder, now)
            if why is None and holder.get("host") != socket.gethostname():
                why = self._watch(holder, now)                   # no pid to check: is its heartbeat going on?
                if why == "released":
                    continue
            if why is None:
                holder = self._read() or holder
                raise JobFolderLocked(
                    f"{self.folder} is in use by another process ({describe_holder(holder)}; lock file {self.path}, "
                    f"touched {max(now - self._mtime(), 0):.0f} s ago). Only one process may train into a job folder: "
                    f"wait for it to end, or stop it; a lock its holder no longer touches is taken over after "
                    f"{stale_after_s():.0f} s")
            self._take_over(holder, why)
        raise JobFolderLocked(f"could not take {self.path}: other processes keep taking it")

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.held and (self._read() or {}).get("token") == self.token:
            try:
                self.path.unlink()
            except OSError as e:
                _logger.warning("could not remove the job lock %s: %s", self.path, e)
        self.held = False

    def __enter__(self) -> "JobLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def check(self) -> None:
        """Raise :class:`JobFolderLocked` if another process has taken the lock over (call before writing)."""
        if not self.held:
            return
        holder = self._read()
        if holder is not None and holder.get("token") != self.token:
            self.held = False
            raise JobFolderLocked(f"{self.folder}: the lock was taken over by {describe_holder(holder)} (this process "
                                  f"had not touched it for over {stale_after_s():.0f} s); stopping without writing")

    # -- internals -------------------------------------------------------------------------------
    def _create(self) -> Optional[float]:
        """Create the lock file from a complete temporary file; None if created, else the filesystem's now."""
        tmp = self.folder / f".{LOCK_NAME}.{self.token}.tmp"
        tmp.write_text(json.dumps(self.info) + "\n", encoding="utf-8")
        try:
            now = tmp.stat().st_mtime                           # the filesystem's clock
            try:
                os.link(tmp, self.path)
                return None
            except FileExistsError:
                return now
            except OSError:                                     # no hard links here: exclusive create instead
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return now
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(json.dumps(self.info) + "\n")
                return None
        finally:
            tmp.unlink(missing_ok=True)

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def _stale(self, holder: Dict[str, Any], now: float) -> Optional[str]:
        """Why the holder is gone, or None while it may live."""
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) \
                and holder["pid"] != os.getpid() and not _pid_alive(holder["pid"]):
            return f"its holder ({describe_holder(holder)}) is no longer running"
        age = now - self._mtime()
        if age > stale_after_s():
            return f"its holder ({describe_holder(holder)}) has not touched it for {age:.0f} s"
        return None

    def _watch(self, holder: Dict[str, Any], now: float) -> Optional[str]:
        """Watch a lock held from another host until its holder touches it (alive: None), it is released
        ("released"), or it has gone untouched for ``stale_after_s()`` (dead: why). A requeued job after
        node loss waits here instead of failing; a second live job is refused after at most a heartbeat."""
        stale, start, seen = stale_after_s(), time.monotonic(), self._mtime()
        _logger.warning("%s is held by %s on another host, touched %.0f s ago: waiting (at most %.0f s) to see "
                        "whether it still runs", self.path, describe_holder(holder), max(now - seen, 0),
                        max(stale - (now - seen), 0))
        while True:
            current = self._read()                              # opening it revalidates NFS's cached attributes
            if current is None:
                return "released"
            if current.get("token") != holder.get("token") or self._mtime() != seen:
                return None
            age = now + (time.monotonic() - start) - seen
            if age > stale:
                return f"its holder ({describe_holder(holder)}) has not touched it for {age:.0f} s"
            time.sleep(min(self.poll_s, max(stale - age, 0) + 0.05))

    def _take_over(self, holder: Dict[str, Any], why: str) -> None:
        """Remove a stale lock; only one of several processes doing so at once removes it (a rename)."""
        aside = self.folder / f".{LOCK_NAME}.stale.{self.token}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return                                              # another process took it over first
        moved = self._read_file(aside)
        if moved.get("token") != holder.get("token"):           # renamed a lock taken over meanwhile: put it back
            try:
                os.link(aside, self.path)
            except OSError:
                pass
            aside.unlink(missing_ok=True)
            raise JobFolderLocked(f"{self.folder} was just taken over by another process ({describe_holder(moved)})")
        aside.unlink(missing_ok=True)
        _logger.warning("job folder %s: taking over its lock, %s", self.folder, why)

    @staticmethod
    def _read_file(path: Path) -> Dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _start_heartbeat(self) -> None:
        def beat():
            warned = False
            while not self._stop.wait(self.heartbeat_s):
                try:
                    os.utime(self.path)
                except OSError as e:
                    if not warned:
                        _logger.warning("could not refresh the job lock %s (%s): another process may take the "
                                        "folder over after %.0f s", self.path, e, stale_after_s())
                        warned = True

        self._thread = threading.Thread(target=beat, name=f"joblock-{self.folder.name}", daemon=True)
        self._thread.start()
