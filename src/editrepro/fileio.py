"""Writing files so that a crash never leaves a half-written one behind, and a full disk says so.

A write that fails for want of space (``ENOSPC``, or ``EDQUOT``: a quota) or permission raises
:class:`StorageError` naming the file, its folder and the free space; the previous file is kept.
"""
import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

__all__ = ["atomic_path", "atomic_write_text", "StorageError", "no_space_error", "check_free_space"]

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class StorageError(OSError):
    """A file could not be written: no space left, a quota, a read-only or unwritable folder."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:.0f} MiB free"
    except OSError:
        return "free space unknown"


def no_space_error(error: BaseException) -> Optional[OSError]:
    """The ``ENOSPC`` / ``EDQUOT`` OSError behind ``error`` (itself, its cause or its context), if any.

    torch's zip writer reports a failed write as a RuntimeError about byte positions; the OSError of the
    Python file it wrote to is its context.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _NO_SPACE:
            return error
        error = error.__cause__ or error.__context__
    return None


def check_free_space(path: Union[str, Path], needed: int) -> None:
    """Raise :class:`StorageError` if the filesystem of ``path`` has fewer than ``needed`` bytes free."""
    folder = Path(path).parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed:
        raise StorageError(errno.ENOSPC, f"no space left on {folder}: writing {Path(path).name} needs about "
                                         f"{needed / 2**20:.0f} MiB, {free / 2**20:.0f} MiB are free; free some "
                                         f"space (the previous {Path(path).name} is kept)")


@contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The rename is atomic on POSIX, so readers see the old file or the new one, never a
    partial one; on an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _storage_error(path, e) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the usual permissions
        os.replace(tmp, path)
    except StorageError:
        raise
    except BaseException as e:
        full = no_space_error(e)
        if full is not None:
            raise _storage_error(path, full) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _storage_error(path: Path, e: OSError) -> StorageError:
    kept = f" (the previous {path.name} is kept)" if path.exists() else ""
    if e.errno in _NO_SPACE:
        what = "no space left" if e.errno == errno.ENOSPC else "disk quota exceeded"
        return StorageError(e.errno, f"{what} on {path.parent} ({_free(path.parent)}) writing {path.name}{kept}: "
                                     "free some space, or move the job folder to a larger disk")
    return StorageError(e.errno, f"cannot write {path.name} in {path.parent}: {e.strerror or e}{kept}; the job "
                                 "folder must be writable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
