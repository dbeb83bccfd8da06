"""The rules of the ImageNet-21K-P cleaning: file names, rejection reasons, known releases, ``CleanRules``."""
import logging
import os
import re
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Tuple, Union

import numpy as np
import pyarrow as pa


log = logging.getLogger("editrepro.data.imagenet21k")   # one logger for the whole cleaning

PathLike = Union[str, Path]

TRAIN, VAL, CLASSES, DROPPED, REJECTED, CORRUPT, STATS = (
    "train.parquet", "val.parquet", "classes.tsv", "dropped_classes.tsv", "rejected.tsv", "corrupt.tsv",
    "stats.json")

SYNSET = re.compile(rb"n[0-9]{8}")

# Why an entry is not in the manifests (one reason per entry: the first of these that applies).
REASONS = {
    "not_utf8": "have names that are not valid UTF-8",
    "absolute_path": "are absolute paths outside the root (give the root so they can be made relative)",
    "outside_class_folder": "are not inside a class folder",
    "not_synset": "are in folders not named by a WordNet synset (n + 8 digits)",
    "nested": "are below a class folder's sub-folder (class folders hold images directly)",
    "not_image": "are not images (extension not in the rules, or a hidden file)",
    "duplicate": "are listed more than once",
    "unreadable": "could not be opened (verify)",
    "corrupt": "could not be decoded (verify)",
    # found by a scan only
    "unreadable_folder": "are folders that could not be read",
    "not_a_file": "are neither files nor folders (broken symlinks, sockets, ...)",
    # not a file at all: a listing's line for a folder ("." or a synset), skipped silently
    "folder_line": "are folders' own lines in the listing",
}
_CODE = {reason: i + 1 for i, reason in enumerate(REASONS)}  # 0: an image
_REASON_OF = np.array([""] + list(REASONS), dtype=object)

# The paper's counts (and the reference's README) per ImageNet-21k release, with the default rules.
# fall11's val is 2 more than 50 per class (two images counted apart by the reference), so a
# release is recognised by its classes and its total of train + val images.
KNOWN_RELEASES = {
    "winter21": dict(classes=10_450, train=11_060_223, val=522_500),
    "fall11": dict(classes=11_221, train=11_797_632, val=561_052),
}


class DataError(ValueError):
    """The input cannot give a dataset (empty listing, no class folder, ...); the message says why."""


@dataclass(frozen=True)
class CleanRules:
    """The cleaning rules; the defaults are the reference's.

    Args:
        min_images: the class-size threshold.
        drop_rule: ``"le"`` drops classes with ``<= min_images`` images (the reference script,
            ``-gt 500`` kept), ``"lt"`` drops ``< min_images`` (the paper's "fewer than 500").
        val_per_class: images of each kept class that go to validation.
        val_selection: ``"first"`` (the first in byte-wise sorted file-name order, the reference)
            or ``"random"`` (``val_per_class`` drawn per class, seeded by ``seed`` and the synset,
            so a class's pick does not depend on the other classes).
        seed: used by ``val_selection="random"`` only.
        extensions: file-name suffixes that count as images, matched case-insensitively.
    """
    min_images: int = 500
    drop_rule: str = "le"
    val_per_class: int = 50
    val_selection: str = "first"
    seed: int = 0
    extensions: Tuple[str, ...] = (".jpeg", ".jpg", ".png")

    def __post_init__(self):
        if self.drop_rule not in ("le", "lt"):
            raise ValueError(f"drop_rule must be 'le' (drop <= min_images, the reference) or 'lt', "
                             f"got {self.drop_rule!r}")
        if self.val_selection not in ("first", "random"):
            raise ValueError(f"val_selection must be 'first' or 'random', got {self.val_selection!r}")
        if self.min_images < 0 or self.val_per_class < 0:
            raise ValueError("min_images and val_per_class must be >= 0")
        if self.val_per_class >= self.smallest_kept:
            raise ValueError(f"val_per_class={self.val_per_class} would leave a class of {self.smallest_kept} images "
                             "without training images: it must be below the smallest kept class size")
        if not self.extensions or not all(e.startswith(".") and e.isascii() and len(e) <= 8 for e in self.extensions):
            raise ValueError(f"extensions must be ASCII suffixes of at most 8 characters starting with '.', "
                             f"got {self.extensions!r}")
        object.__setattr__(self, "extensions", tuple(e.lower() for e in self.extensions))

    @property
    def smallest_kept(self) -> int:
        """The size of the smallest class the rules keep."""
        return max(1, self.min_images + 1 if self.drop_rule == "le" else self.min_images)

    def keeps(self, counts: np.ndarray) -> np.ndarray:
        return counts >= self.smallest_kept

    def describe(self) -> str:
        op = "<=" if self.drop_rule == "le" else "<"
        origin = "the reference script" if self.drop_rule == "le" else "the paper's wording"
        return f"drop classes with {op} {self.min_images} images ({origin})"


# -- shared by the steps: phase timings, arrays, examples in messages --------------------------

class _Phases:
    """Logs (at DEBUG) each phase's time and the process's resident memory."""

    def __init__(self, what: str):
        self.what, self.t0, self.last = what, time.perf_counter(), time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, name: str) -> None:
        if log.isEnabledFor(logging.DEBUG):
            now = time.perf_counter()
            log.debug("%s: %s in %.1f s, resident %.2f GiB (peak %.2f GiB)", self.what, name, now - self.last,
                      _rss_gib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)
            self.last = now


def _rss_gib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except (OSError, ValueError):
        return float("nan")


def _to_np(a) -> np.ndarray:
    return a.to_numpy(zero_copy_only=False) if isinstance(a, (pa.Array, pa.ChunkedArray)) else np.asarray(a)


def _examples(items: Sequence[str], k: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:k])
    return shown + (f", ... ({len(items) - k:,} more)" if len(items) > k else "")
