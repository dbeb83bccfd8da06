"""Samples that cannot be read or decoded: replaced, named once, counted, and a limit.

One truncated JPEG among eleven million must not kill a days-long job, and a folder of broken
files must not train silently. ``TolerantDataset`` wraps any dataset: a sample whose reading
raises is replaced by the next readable sample of the same dataset (``index + 1``, ``index + 2``,
...: deterministic, so a resumed job sees what the uninterrupted one saw), and every item carries a
note, ``""`` or ``"<path>\\t<error>"``, which the default collate turns into a list per batch.
``BadSampleLog`` (in the training process) logs each bad file once, counts them, and raises
``TooManyBadSamples`` naming the files once the count passes the limit (default: 0.1% of the set).
"""
from __future__ import annotations

import logging
import math
from typing import Dict, Iterable, Optional

from torch.utils.data import Dataset

__all__ = ["TolerantDataset", "BadSampleLog", "TooManyBadSamples", "default_limit", "sample_name", "failure_note"]

_logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 16


class TooManyBadSamples(RuntimeError):
    """More samples than the limit could not be read; the message names them."""


def default_limit(dataset_size: int) -> int:
    """0.1% of the dataset (at least one sample)."""
    return max(1, math.ceil(0.001 * dataset_size))


def sample_name(dataset: Dataset, index: int) -> str:
    """The file behind sample ``index`` where the reader knows it (``path(i)``), else ``sample <i>``."""
    path = getattr(dataset, "path", None)
    if callable(path):
        try:
            return str(path(index))
        except Exception:  # noqa: BLE001  (a name for a message, never an error of its own)
            pass
    return f"sample {index}"


def failure_note(dataset: Dataset, index: int, error: BaseException) -> str:
    """``"<file>\t<error type>: <first line>"``: what a bad sample is and why."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{sample_name(dataset, index)}\t{type(error).__name__}: {first}"


class TolerantDataset(Dataset):
    """``(*dataset[i], note)``; a sample that cannot be read is replaced by the next one that can.

    Args:
        dataset: Any map-style dataset whose items are tuples.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):   # num_classes, classes, path, ... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int):
        note = ""
        n = len(self.dataset)
        for attempt in range(MAX_REPLACEMENTS + 1):
            j = (index + attempt) % n
            try:
                item = self.dataset[j]
            except Exception as e:  # noqa: BLE001  (any reader's or decoder's failure)
                note = note or failure_note(self.dataset, j, e)
                continue
            return (*item, note)
        raise TooManyBadSamples(f"{MAX_REPLACEMENTS + 1} samples in a row from {sample_name(self.dataset, index)} on "
                                f"cannot be read (first: {note.replace(chr(9), ': ')}); check the dataset with "
                                "`editrepro check-data`")


class BadSampleLog:
    """The bad files a job has met: each logged once, counted, and the limit enforced.

    Args:
        limit: The most bad files allowed; one more stops the job.
        what: Which data, for messages (``training set of imagenet1k``).
        seen: Files already met (a resumed job's, from its checkpoint): file -> error.
        total: The count across ranks so far (a resumed job's).
    """

    def __init__(self, limit: int, what: str, seen: Optional[Dict[str, str]] = None, total: int = 0):
        self.limit, self.what = int(limit), what
        self.seen: Dict[str, str] = dict(seen or {})
        self.total = max(int(total), len(self.seen))    # across ranks: the engine adds every rank's new ones

    @classmethod
    def for_dataset(cls, dataset: Dataset, limit: Optional[int], what: str, **kwargs) -> "BadSampleLog":
        """A log whose limit is ``limit``, or 0.1% of ``dataset`` when None."""
        return cls(default_limit(len(dataset)) if limit is None else limit, what, **kwargs)

    def add(self, notes: Iterable[str]) -> int:
        """Record a batch's notes; returns how many files were new."""
        new = 0
        for note in notes:
            if not note:
                continue
            name, _, error = note.partition("\t")
            if name not in self.seen:
                self.seen[name] = error
                new += 1
                _logger.warning("bad sample in the %s, replaced by another: %s (%s)", self.what, name, error)
        return new

    @property
    def count(self) -> int:
        return len(self.seen)

    def check(self, count: Optional[int] = None) -> None:
        """Raise ``TooManyBadSamples`` if ``count`` (default: ``total``, every rank's) passes the limit."""
        count = self.total if count is None else int(count)
        if count > self.limit:
            listed = "\n".join(f"  {name}: {error}" for name, error in list(self.seen.items())[:20])
            more = f"\n  ... and {count - min(20, self.count)} more" if count > min(20, self.count) else ""
            raise TooManyBadSamples(
                f"{count} samples of the {self.what} cannot be read, more than the limit of {self.limit} "
                f"(--max-bad-samples); fix or remove them (`editrepro check-data` lists every one):\n{listed}{more}")
