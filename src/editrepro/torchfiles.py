"""Reading torch files safely: every ``torch.load`` of the package goes through :func:`load_torch_file`.

It loads with ``weights_only=True`` (tensors and plain data; no code from the file runs), and turns any
failure into an :class:`UnreadableTorchFile` (a ``ValueError``: commands print it as ``editrepro <cmd>: error:
...``, exit 2) that names the file and says what it looks like: a folder (and the weights files inside it),
an empty file, a truncated zip archive (an interrupted copy or download), text or other data that is no
torch file at all, a Git LFS pointer, or a file holding Python objects that a weights-only load refuses.
It never repeats torch's hint to retry with ``weights_only=False``, which would run code from the file.
Importing this module costs nothing: torch is imported when a file is read.
"""
import re
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

__all__ = ["UnreadableTorchFile", "load_torch_file", "describe_folder", "WEIGHT_FILES"]

WEIGHT_FILES = ("model.pth", "checkpoint.pth")   # what a job folder of `editrepro train` holds
_ZIP = b"PK\x03\x04"


class UnreadableTorchFile(ValueError):
    """A weights or checkpoint file that cannot be read; the message names it and what it looks like."""


def describe_folder(path: Path, what: str) -> str:
    """The message for a folder given where a file was expected: which weights files it holds."""
    inside = [name for name in WEIGHT_FILES if (path / name).is_file()]
    inside += sorted(p.name for p in path.glob("*.pth") if p.name not in WEIGHT_FILES)[:4]
    if inside:
        return (f"{what} {path} is a folder, not a file: give a file inside it, "
                + " or ".join(str(path / name) for name in inside))
    return (f"{what} {path} is a folder, not a file, and holds no .pth file: give a model.pth or checkpoint.pth "
            "of `editrepro train`")


def load_torch_file(path: Union[str, Path], what: str = "weights file",
                    map_location: Optional[Any] = "cpu", mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)``, or an error naming ``path`` (``what``: "checkpoint", ...).

    A missing file is a ``FileNotFoundError``; a folder, an empty, truncated or foreign file an
    :class:`UnreadableTorchFile`. ``mmap`` maps a zip-format file instead of reading it (ignored for others).
    """
    import torch

    path = Path(path)
    if path.is_dir():
        raise UnreadableTorchFile(describe_folder(path, what))
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    head = _head(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap and head.startswith(_ZIP))
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001  (torch raises RuntimeError, KeyError, EOFError, UnpicklingError, ...)
        raise UnreadableTorchFile(f"cannot read {what} {path}: {_what_it_is(path, head, e)}") from None


def _head(path: Path, n: int = 64) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _what_it_is(path: Path, head: bytes, error: BaseException) -> str:
    size = path.stat().st_size
    text = str(error)
    refused = "Weights only load failed" in text or "Unsupported global" in text
    global_name = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    objects = (f"it holds Python objects besides tensors and plain data"
               f"{f' ({global_name.group(1)})' if global_name else ''}. editrepro loads weights only and runs no code "
               "from a file: load it where you trust it and save its state_dict (torch.save(model.state_dict(), path))")
    if size == 0:
        return "the file is empty (0 bytes): an interrupted copy or a write that never finished; copy it again"
    if head.startswith(_ZIP):
        if not zipfile.is_zipfile(path):
            return (f"a truncated or damaged zip archive ({size} bytes, its central directory is missing): an "
                    "interrupted copy or download; copy it again")
        if refused:
            return objects
        return f"a zip archive ({size} bytes) that is not a torch file, or a damaged one ({_first_line(text)})"
    if head.startswith(b"\x80"):                     # a pickle: a legacy (pre-1.6) torch file, or a plain pickle
        if refused:
            return objects
        return f"a damaged pickle or legacy torch file ({size} bytes): {_first_line(text)}; copy it again"
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the weights: fetch them (git lfs pull) or copy the real file"
    if len(head) > 9 and head[8:9] == b"{":
        return "a safetensors file, not a torch one: `editrepro evaluate --model NAME --checkpoint FILE` reads those"
    if all(b >= 0x20 or b in b"\t\n\r" for b in head) and 0x7f not in head:    # printable ASCII or UTF-8
        snippet = head.decode("utf-8", errors="replace")
        return f"not a torch file: it holds text ({size} bytes, starting {snippet[:40]!r})"
    return f"not a torch file: {size} bytes of other data (starting {head[:8]!r})"


def _first_line(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0][:200]
    return "no detail" if not line or "weights_only" in line else line
