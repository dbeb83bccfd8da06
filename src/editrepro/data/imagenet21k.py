"""ImageNet-21K-P: the reference cleaning of ImageNet-21k, as manifests instead of moved files.

The EDIT paper pretrains on the ImageNet-21k of Alibaba-MIIL's "ImageNet-21K pretraining for the
masses" (``dataset_preprocessing/processing_script.sh``): every class with **not more than 500**
images is moved away (exactly 500 is dropped, although the paper says "fewer than 500"), then the
**first 50** images of each kept class in ``ls`` order become the validation set. On winter21 that
gives 10,450 classes, 11,060,223 train and 522,500 val images; on fall11 11,221 classes,
11,797,632 train and 561,052 val. This module reproduces those rules without copying or moving a
single image: it writes manifests, and can then materialise an ImageFolder tree of symlinks or a
resized copy.

Pipeline (each step a function; ``editrepro clean-in21k`` runs them in order)::

    listing = list_tree(root)            # or read_listing("files.txt", root=root)
    result = clean(listing, CleanRules())  # vectorised: 14.2M entries in seconds
    write_outputs(result, "data/in21k")  # or prepare(listing, rules, out, verify=True)
    materialise_symlinks(result.splits, root, "data/in21k/tree")   # optional
    resize_tree(result.splits, root, "data/in21k/224", mode="squish", size=224)  # optional

Outputs of ``write_outputs`` (every file written atomically; ``stats.json`` last):

============================  ================================================================
``train.parquet``,            one row per image, sorted by (label, file name byte-wise):
``val.parquet``               ``path`` (str, relative to the root: ``n01440764/n01440764_10026.JPEG``),
                              ``label`` (int32, class index 0..K-1 in sorted synset order),
                              ``synset`` (str, ``n01440764``). The Parquet key-value metadata
                              ``editrepro`` holds JSON with ``split``, ``num_classes`` and ``rules``.
``classes.tsv``               the K kept classes: ``label``, ``synset``, ``images``, ``train``, ``val``
``dropped_classes.tsv``       ``synset``, ``images``: the classes under the threshold
``rejected.tsv``              ``path``, ``reason``, ``detail``: every entry that is not an image of a
                              synset folder (reasons in ``REASONS``)
``corrupt.tsv``               ``path``, ``reason``, ``detail``: images ``--verify`` could not decode
                              (only written by a verified run)
``stats.json``                ``root`` (absolute, or null for a listing given without one), the
                              rules, and every count: classes seen/kept/dropped/empty, images per
                              split, the counts at the threshold and by how many classes the two
                              readings of it differ, rejected entries per reason, verification
============================  ================================================================

A reader finds image ``i`` of a split at ``Path(root) / path``, with ``root`` from
``stats.json`` (``manifest_root(out)``) or given explicitly. In a tree made by
``materialise_symlinks`` or ``resize_tree`` the root of split ``S`` is ``DIR/S``
(``DIR/S/<synset>/<file>``), which is also a torchvision ``ImageFolder`` with the same labels.

Conventions fixed here, each the reference's unless said otherwise:

- A class is a folder directly under the root named by a WordNet synset (``n`` + 8 digits); its
  images are the files directly inside it whose extension is in ``CleanRules.extensions``
  (``.jpeg .jpg .png``, any case; the reference counts ``*.JPEG`` only, which on ImageNet-21k is
  the same set). Hidden files (``.DS_Store``, ``._x.JPEG``) are not images.
- "Sorted order" is byte-wise (``LC_ALL=C ls``). The reference ran ``ls`` in an unknown locale;
  a locale that collates punctuation differently could pick other first-50 images (never other
  counts).
- The same input gives byte-identical manifests, whatever the order of the listing.
"""
import csv
import json
import logging
import multiprocessing as mp
import os
import re
import resource
import shutil
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from ..fileio import atomic_path, atomic_write_text
from ..provenance import git_commit
from .pathbytes import Paths, Words, all_digits, contains_byte, sort_rows, suffix_is

__all__ = [
    "CleanRules", "Listing", "CleanResult", "DataError", "REASONS", "KNOWN_RELEASES",
    "list_tree", "read_listing", "clean", "write_outputs", "prepare", "verify_images",
    "materialise_symlinks", "resize_tree", "write_failed", "read_manifest", "manifest_root",
]

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

TRAIN, VAL, CLASSES, DROPPED, REJECTED, CORRUPT, STATS = (
    "train.parquet", "val.parquet", "classes.tsv", "dropped_classes.tsv", "rejected.tsv", "corrupt.tsv",
    "stats.json")

SYNSET = re.compile(rb"n[0-9]{8}")
_SYNSET_LEN = 9  # every synset folder name is 9 bytes, so "synset/" is the first 10 bytes of a path

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


# --------------------------------------------------------------------------------------------
# Listing: a tree scan or a file listing, as one byte buffer of relative paths
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Listing:
    """The files of an ImageNet-21k tree, as paths relative to its root.

    Args:
        paths: one entry per file, as bytes (``Paths``); a leading ``./`` (and, when ``root`` is
            given, a leading ``root/``) is stripped by ``clean``.
        root: where the images are, if known (needed to verify, symlink or resize them).
        source: where the listing came from, for messages and stats.
        folders: the folders a scan found under the root, so that empty ones are counted
            (``None`` for a file listing, which cannot show them).
        problems: ``(path, reason, detail)`` for what a scan could not list (unreadable folders,
            broken symlinks, sub-folders of class folders).
    """
    paths: Paths
    root: Optional[Path] = None
    source: str = "listing"
    folders: Optional[Tuple[str, ...]] = None
    problems: Tuple[Tuple[str, str, str], ...] = ()

    @classmethod
    def from_paths(cls, paths: Union[Iterable[str], pa.Array, pa.ChunkedArray], root: Optional[PathLike] = None,
                   source: str = "paths", **kwargs) -> "Listing":
        """From Python strings or an Arrow string/binary array of relative paths."""
        paths = Paths.from_arrow(paths) if isinstance(paths, (pa.Array, pa.ChunkedArray)) else Paths.from_strings(paths)
        return cls(paths, root=Path(root) if root is not None else None, source=source, **kwargs)

    def __len__(self) -> int:
        return len(self.paths)


def _expected_tree(root: Path) -> str:
    return (f"expected the extracted ImageNet-21k: one folder per WordNet synset holding its images, "
            f"e.g. {root}/n01440764/n01440764_10026.JPEG")


def _names_array(names: List[str]) -> pa.Array:
    """File names as Arrow binary; names that are not UTF-8 keep their bytes (reported by ``clean``)."""
    try:
        return pa.array(names, pa.string()).cast(pa.binary())
    except UnicodeEncodeError:
        return pa.array([os.fsencode(n) for n in names], pa.binary())


def _scan_folder(root: str, name: str) -> Tuple[Optional[pa.Array], List[Tuple[str, str, str]]]:
    """One class folder: its files as ``name/file`` paths, plus what could not be listed."""
    files, problems = [], []
    try:
        with os.scandir(os.path.join(root, name)) as it:
            for entry in it:
                try:
                    if entry.is_file():
                        files.append(entry.name)
                    elif entry.is_dir():
                        problems.append((f"{name}/{entry.name}/", "nested", "a folder inside a class folder"))
                    else:
                        problems.append((f"{name}/{entry.name}", "not_a_file", "broken symlink or special file"))
                except OSError as e:
                    problems.append((f"{name}/{entry.name}", "not_a_file", f"{type(e).__name__}: {e.strerror}"))
    except OSError as e:
        return None, [(f"{name}/", "unreadable_folder", f"{type(e).__name__}: {e.strerror or e}")]
    if not files:
        return None, problems
    prefix = pa.scalar(os.fsencode(name), pa.binary())
    return pc.binary_join_element_wise(prefix, _names_array(files), pa.scalar(b"/", pa.binary())), problems


def list_tree(root: PathLike, *, threads: int = 16, progress: bool = True) -> Listing:
    """Scan an extracted ImageNet-21k: ``os.scandir`` of every folder under ``root``, in parallel.

    Only directory entries are read (no ``stat`` per file on file systems that report entry
    types), so the scan costs one ``getdents`` sweep per folder; ``threads`` overlap their
    latency, which is what matters on network file systems. Folders and files that cannot be
    read are reported in ``Listing.problems``, never raised.

    Raises:
        FileNotFoundError: ``root`` does not exist or is not a folder.
        DataError: ``root`` cannot be read or holds nothing.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"ImageNet-21k root {root} does not exist; {_expected_tree(root)}")
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet-21k root {root} is not a folder; {_expected_tree(root)}")
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"cannot read the ImageNet-21k root {root}: {e.strerror or e}") from None
    if not entries:
        raise DataError(f"ImageNet-21k root {root} is empty; {_expected_tree(root)}")

    folders, root_files, problems = [], [], []
    for e in entries:
        try:
            if e.is_dir():
                folders.append(e.name)
            elif e.is_file():
                root_files.append(e.name)
            else:
                problems.append((e.name, "not_a_file", "broken symlink or special file"))
        except OSError as err:
            problems.append((e.name, "not_a_file", f"{type(err).__name__}: {err.strerror}"))

    chunks = [_names_array(root_files)] if root_files else []
    with ThreadPoolExecutor(max(1, threads)) as pool, \
            tqdm(total=len(folders), desc=f"scanning {root}", unit="folder", disable=not progress) as bar:
        for paths, found in pool.map(lambda name: _scan_folder(str(root), name), folders):
            bar.update()
            if paths is not None:
                chunks.append(paths)
            problems += found
    paths = Paths.from_arrow(pa.chunked_array(chunks, pa.binary()))
    log.info("scanned %s: %s files in %s folders", root, f"{len(paths):,}", f"{len(folders):,}")
    return Listing(paths, root=root, source=f"tree {root}", folders=tuple(folders), problems=tuple(problems))


def read_listing(path: PathLike, *, root: Optional[PathLike] = None) -> Listing:
    """Read a file listing: text with one path per line (``cd ROOT && find . -type f``), or Parquet
    with a ``path`` column. Paths are relative to ``root``; ``./`` prefixes are fine, and so are
    absolute paths under ``root`` when ``root`` is given.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataError: the listing is empty or has no ``path`` column.
    """
    path = Path(path)
    expected = ("expected one path per line relative to the ImageNet-21k root, as written by "
                "`cd ROOT && find . -type f` (e.g. ./n01440764/n01440764_10026.JPEG), or a Parquet file "
                "with a 'path' column")
    if not path.is_file():
        raise FileNotFoundError(f"listing {path} does not exist; {expected}")
    phase = _Phases(f"listing {path}")
    with open(path, "rb") as f:
        is_parquet = f.read(4) == b"PAR1"
    if is_parquet:
        schema = pq.read_schema(path)
        if "path" not in schema.names:
            raise DataError(f"listing {path} has no 'path' column (columns: {', '.join(schema.names)}); {expected}")
        paths = Paths.from_arrow(pq.read_table(path, columns=["path"]).column("path"))
    else:
        paths = Paths.read_lines(path)  # any byte but a newline can be in a file name: no CSV parsing
    if len(paths) == 0:
        raise DataError(f"listing {path} has no entries; {expected}")
    phase(f"read {len(paths):,} entries")
    return Listing(paths, root=Path(root) if root is not None else None, source=f"listing {path}")


# --------------------------------------------------------------------------------------------
# Cleaning: classify, sort, threshold, split; vectorised over all entries
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CleanResult:
    """What ``clean`` found: the manifests, the class tables, the rejected entries and the counts."""
    train: pa.Table
    val: pa.Table
    classes: pa.Table   # label, synset, images, train, val
    dropped: pa.Table   # synset, images
    rejected: pa.Table  # path, reason, detail
    stats: Dict[str, Any]
    rules: CleanRules
    root: Optional[Path] = None
    corrupt: Optional[pa.Table] = None  # path, reason, detail: from verify_images, if it ran

    @property
    def splits(self) -> Dict[str, pa.Table]:
        return {"train": self.train, "val": self.val}


_CHUNK = 1 << 20  # rows classified at a time: bounds the temporaries to ~100 MB per thread
_THREADS = min(4, os.cpu_count() or 1)


def _u(x: int) -> np.uint64:
    return np.uint64(x)


@dataclass(eq=False)
class _Classified:
    start: np.ndarray      # int64: the entry's bytes after "./" (and root/) are stripped
    end: np.ndarray
    code: np.ndarray       # int8: 0 an image of a synset folder, else _CODE[reason]
    in_synset: np.ndarray  # bool: directly inside a synset-named folder
    synset: np.ndarray     # uint64: the synset's 8 digits as big-endian ASCII (where in_synset)
    prefixed: np.ndarray   # bool: the file name starts with "<synset>_"
    not_synset: List[str]  # folders that are not synsets, found among the entries
    folder_lines: int      # lines naming a folder ("." or a synset) instead of a file: ignored


def _strip_root(words: Words, start: np.ndarray, end: np.ndarray, rows: np.ndarray, root: Path) -> None:
    """Move ``start`` past ``root/`` for those of ``rows`` (absolute paths) that begin with it."""
    for prefix in dict.fromkeys([str(root).rstrip("/") + "/", os.path.abspath(root).rstrip("/") + "/"]):
        if not len(rows) or prefix == "/":
            continue
        pb = os.fsencode(prefix)
        match = (end[rows] - start[rows]) >= len(pb)
        for k in range(0, len(pb), 8):
            piece = pb[k:k + 8]
            want = _u(int.from_bytes(piece.ljust(8, b"\0"), "big"))
            got = words.word(start[rows] + k, start[rows] + k + len(piece))
            match &= got == want
        start[rows[match]] += len(pb)
        rows = rows[~match]


def _classify(paths: Paths, rules: CleanRules, root: Optional[Path], from_listing: bool) -> _Classified:
    """Every entry's reason code, in chunks of rows; only entries outside synset folders (usually
    none) are looked at one by one."""
    n = len(paths)
    words = Words(paths.data)
    start = paths.offsets[:-1].copy()
    end = paths.end
    code = np.zeros(n, np.int8)
    in_synset = np.zeros(n, bool)
    prefixed = np.zeros(n, bool)
    synset = np.zeros(n, np.uint64)
    low6 = _u((1 << 48) - 1)

    def chunk(a: int) -> None:
        b = min(n, a + _CHUNK)
        s, e = start[a:b], end[a:b]  # views: stripping moves start
        s += 2 * ((paths.data[s] == ord(".")) & (paths.data[s + 1] == ord("/")) & (e - s >= 2))  # "./"
        if root is not None:
            absolute = np.flatnonzero(paths.data[s] == ord("/"))
            if len(absolute):
                _strip_root(words, s, e, absolute, root)
        length = e - s
        h = words.head(s, e)  # bytes 0..31 of every row
        A, B, C = h[:, 0], h[:, 1], h[:, 2]
        digits = (A << _u(8)) | (B >> _u(56))  # bytes 1..8
        cand = ((A >> _u(56)) == ord("n")) & (((B >> _u(48)) & _u(0xFF)) == ord("/")) & all_digits(digits)
        in_synset[a:b] = cand
        synset[a:b] = digits
        # "<synset>_": bytes 10..15 equal bytes 0..5, and bytes 16..19 equal bytes 6..8 then "_"
        prefixed[a:b] = (length >= 20) & ((B & low6) == (A >> _u(16))) & (
            (C >> _u(32)) == (((A & _u(0xFFFF)) << _u(16)) | (((B >> _u(56)) & _u(0xFF)) << _u(8)) | _u(ord("_"))))
        hidden = ((B >> _u(40)) & _u(0xFF)) == ord(".")
        h[:, 0] = 0
        h[:, 1] &= low6  # from byte 10 on: the file name
        nested = contains_byte(words, s, e, ord("/"), head=h)
        last8 = np.where(length >= 8, words.word(np.maximum(e - 8, s), e),
                         A >> (_u(8) * (_u(8) - np.clip(length, 1, 8).astype(np.uint64))))
        image = np.zeros(b - a, bool)
        for ext in rules.extensions:
            image |= suffix_is(last8, length, ext)
        c = code[a:b]
        c[~cand] = -1  # looked at below
        c[cand & nested] = _CODE["nested"]
        c[cand & ~nested & (~image | hidden)] = _CODE["not_image"]

    with ThreadPoolExecutor(_THREADS) as pool:  # numpy releases the GIL in the gathers and ufuncs
        list(pool.map(chunk, range(0, n, _CHUNK)))

    bad = paths.not_utf8()
    if bad is not None:
        code[bad] = _CODE["not_utf8"]
        in_synset &= ~bad

    not_synset, folder_lines = set(), 0
    for i in np.flatnonzero(code == -1):
        b = bytes(paths.data[start[i]:end[i]])
        if b"/" not in b:
            if b in (b"", b".") or (from_listing and SYNSET.fullmatch(b)):
                code[i] = _CODE["folder_line"]  # a folder's own line, as `find .` without -type f writes them
                folder_lines += 1
            else:
                code[i] = _CODE["outside_class_folder"]
        elif b.startswith(b"/"):
            code[i] = _CODE["absolute_path"]
        else:
            code[i] = _CODE["not_synset"]
            not_synset.add(_decode(b.split(b"/", 1)[0]))
    return _Classified(start=start, end=end, code=code, in_synset=in_synset, synset=synset, prefixed=prefixed,
                       not_synset=sorted(not_synset), folder_lines=folder_lines)


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


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _synset_name(digits: int) -> str:
    return "n" + int(digits).to_bytes(8, "big").decode("ascii")


def clean(listing: Union[Listing, pa.Array, pa.ChunkedArray, Sequence[str]], rules: CleanRules = CleanRules(), *,
          exclude: Optional[pa.Table] = None, report: bool = True) -> CleanResult:
    """Apply the rules to a listing: classify every entry, count classes, threshold, split.

    Args:
        listing: a ``Listing`` (or just the relative paths).
        rules: the cleaning rules.
        exclude: ``path, reason, detail`` of images to leave out (``verify_images``'s output); they
            count as rejected with their reason, and class sizes are counted without them.
        report: log the findings (warnings naming the rejected entries, the counts).

    Raises:
        DataError: nothing in the listing is an image of a synset folder, or no class is kept.
    """
    if not isinstance(listing, Listing):
        listing = Listing.from_paths(listing)
    phase = _Phases(listing.source)
    paths = listing.paths
    n = len(paths)
    cl = _classify(paths, rules, listing.root, from_listing=listing.folders is None)
    code, start, end = cl.code, cl.start, cl.end
    words = Words(paths.data)
    phase("classified")

    detail: Dict[int, str] = {}
    if exclude is not None and len(exclude):
        candidates = np.flatnonzero(code == 0)
        stripped = paths.take(candidates, start)
        hit = candidates[_to_np(pc.is_in(stripped, value_set=exclude.column("path").cast(pa.large_binary())))]
        why = {row["path"]: (row["reason"], row["detail"]) for row in exclude.to_pylist()}
        for i in hit:
            reason, text = why[_decode(bytes(paths.data[start[i]:end[i]]))]
            code[i] = _CODE[reason]
            detail[int(i)] = text

    # synsets in sorted order (big-endian ASCII digits sort as the names do): every entry's group
    found = pc.dictionary_encode(pa.array(cl.synset[cl.in_synset]))
    cl.synset = None
    digits = _to_np(found.dictionary)
    by_name = np.argsort(digits)
    rank = np.empty(len(digits), np.int32)
    rank[by_name] = np.arange(len(digits))
    synsets = [_synset_name(d) for d in digits[by_name]]
    group = np.full(n, -1, np.int32)
    group[cl.in_synset] = rank[_to_np(found.indices)]
    del found

    # sort the images by (synset, file name); skip the "<synset>_" that starts every name of most classes
    rows = np.flatnonzero(code == 0)
    g = group[rows]
    skip = np.where(np.bincount(g[~cl.prefixed[rows]], minlength=len(synsets)) == 0, _SYNSET_LEN + 1, 0)
    pos = start[rows] + _SYNSET_LEN + 1 + skip[g]
    cl.prefixed = None
    order, dup = sort_rows(g, pos, end[rows], words, threads=_THREADS)
    del g, pos
    sorted_rows = rows[order]
    del rows, order
    code[sorted_rows[dup]] = _CODE["duplicate"]
    sorted_rows = sorted_rows[~dup]
    sg = group[sorted_rows]
    del dup
    phase("sorted")

    counts = np.bincount(sg, minlength=len(synsets))
    seen = counts > 0
    keep = rules.keeps(counts)
    not_synset = sorted(set(cl.not_synset) | ({f for f in listing.folders if not SYNSET.fullmatch(os.fsencode(f))}
                                             if listing.folders is not None else set()))
    if not seen.any():
        raise DataError(_nothing_found_message(listing, cl, not_synset))
    if not keep.any():
        raise DataError(f"{listing.source}: no class is kept by the rule '{rules.describe()}' "
                        f"({int(seen.sum()):,} classes, the largest with {int(counts.max()):,} images)")

    label_of = np.cumsum(keep) - 1
    kept_mask = keep[sg]
    krows, klabel = sorted_rows[kept_mask], label_of[sg[kept_mask]].astype(np.int32)
    del sorted_rows, sg, kept_mask
    kcounts = counts[keep]
    kstart = np.concatenate([[0], np.cumsum(kcounts)[:-1]])
    kept_synsets = [s for s, k in zip(synsets, keep) if k]
    is_val = _select_val(klabel, kcounts, kstart, kept_synsets, rules)

    synset_strings = pa.array(kept_synsets, pa.string())

    def manifest(sel: np.ndarray) -> pa.Table:
        labels = pa.array(klabel[sel])
        return pa.table({"path": _as_string(paths.take(krows[sel], start)), "label": labels,
                         "synset": synset_strings.take(labels)})

    train, val = manifest(~is_val), manifest(is_val)
    phase("manifests built")
    n_val = np.bincount(klabel[is_val], minlength=len(kept_synsets))
    classes = pa.table({"label": pa.array(np.arange(len(kept_synsets), dtype=np.int32)), "synset": synset_strings,
                        "images": pa.array(kcounts), "train": pa.array(kcounts - n_val), "val": pa.array(n_val)})
    dropped_sel = seen & ~keep
    dropped = pa.table({"synset": pa.array([s for s, d in zip(synsets, dropped_sel) if d], pa.string()),
                        "images": pa.array(counts[dropped_sel])})

    # synset folders without a single image: from the scan's folder list, or entries that are all rejected
    empty = {s for s, c in zip(synsets, counts) if c == 0}
    if listing.folders is not None:
        known = set(synsets) | {p[:-1] for p, reason, _ in listing.problems if reason == "unreadable_folder"}
        empty |= {f for f in listing.folders if SYNSET.fullmatch(os.fsencode(f)) and f not in known}
    empty = sorted(empty)

    rejected = _rejected_table(paths, cl, detail, listing.problems)
    stats = _stats(listing, rules, n, counts, seen, keep, train, val, rejected, empty, not_synset, cl.folder_lines)
    if report:
        _log_findings(listing, rules, stats, rejected, empty, not_synset, phase.elapsed)
    return CleanResult(train=train, val=val, classes=classes, dropped=dropped, rejected=rejected, stats=stats,
                       rules=rules, root=listing.root)


def _select_val(label: np.ndarray, counts: np.ndarray, starts: np.ndarray, synsets: List[str],
                rules: CleanRules) -> np.ndarray:
    """Validation rows, over rows sorted by (label, file name)."""
    rank = np.arange(len(label)) - starts[label]
    if rules.val_selection == "first":
        return rank < rules.val_per_class
    is_val = np.zeros(len(label), bool)
    for c, synset in enumerate(synsets):
        # seeded by (seed, synset): a class's pick does not depend on which other classes exist
        rng = np.random.default_rng([rules.seed, int(synset[1:])])
        is_val[starts[c] + rng.choice(int(counts[c]), rules.val_per_class, replace=False)] = True
    return is_val


def _as_string(b: pa.ChunkedArray) -> pa.ChunkedArray:
    """Large binary as ``string`` (int32 offsets: what readers expect), chunk by chunk; the chunks are < 2 GiB."""
    return pa.chunked_array([c.cast(pa.large_string()).cast(pa.string()) for c in b.chunks], pa.string())


def _rejected_table(paths: Paths, cl: _Classified, detail: Dict[int, str],
                    problems: Tuple[Tuple[str, str, str], ...]) -> pa.Table:
    idx = np.flatnonzero((cl.code != 0) & (cl.code != _CODE["folder_line"]))
    texts = [_decode(bytes(paths.data[cl.start[i]:cl.end[i]])) for i in idx]
    table = pa.table({"path": pa.array(texts + [x[0] for x in problems], pa.string()),
                      "reason": pa.array(list(_REASON_OF[cl.code[idx]]) + [x[1] for x in problems], pa.string()),
                      "detail": pa.array([detail.get(int(i), "") for i in idx] + [x[2] for x in problems],
                                         pa.string())})
    return table.take(pc.sort_indices(table, sort_keys=[("path", "ascending"), ("reason", "ascending")]))


def _nothing_found_message(listing: Listing, cl: _Classified, not_synset: List[str]) -> str:
    found = np.bincount(cl.code, minlength=len(_REASON_OF))
    why = [f"{int(found[c]):,} {_REASON_OF[c]}" for c in np.flatnonzero(found)]
    if not_synset:
        why.append(f"folders not named by a synset: {_examples(not_synset, 3)}")
    if listing.problems:
        why.append(f"not listed: {_examples([p for p, _, _ in listing.problems], 3)}")
    first = [_decode(bytes(listing.paths.data[cl.start[i]:cl.end[i]])) for i in range(min(3, len(listing)))]
    return (f"{listing.source}: no image of a synset class folder among {len(listing):,} entries "
            f"({'; '.join(why) or 'none'}; first entries: {', '.join(first) or 'none'}); expected paths like "
            "n01440764/n01440764_10026.JPEG relative to the ImageNet-21k root (is the root one level too high or "
            "too low?)")


def _stats(listing: Listing, rules: CleanRules, n: int, counts: np.ndarray, seen: np.ndarray, keep: np.ndarray,
           train: pa.Table, val: pa.Table, rejected: pa.Table, empty: List[str], not_synset: List[str],
           folder_lines: int) -> Dict[str, Any]:
    m = rules.min_images
    at = counts == m
    kept_le, kept_lt = int((counts > m).sum()), int(((counts >= m) & seen).sum())
    reasons = pc.value_counts(rejected.column("reason")).to_pylist() if len(rejected) else []
    kept_counts = counts[keep]
    stats = {
        "dataset": "imagenet-21k",
        "root": str(Path(listing.root).resolve()) if listing.root is not None else None,
        "source": listing.source,
        "rules": {**asdict(rules), "extensions": list(rules.extensions), "description": rules.describe()},
        "entries": {
            "listed": n,
            "folder_lines": folder_lines,
            "images": int(counts.sum()),
            "rejected": {r["values"]: r["counts"] for r in sorted(reasons, key=lambda r: r["values"])},
        },
        "classes": {
            "seen": int(seen.sum()),
            "kept": int(keep.sum()),
            "dropped": int((seen & ~keep).sum()),
            "empty": len(empty),
            "not_synset_folders": len(not_synset),
        },
        "images": {
            "train": len(train),
            "val": len(val),
            "total": len(train) + len(val),
            "in_dropped_classes": int(counts[seen & ~keep].sum()),
        },
        "threshold": {
            "min_images": m,
            "drop_rule": rules.drop_rule,
            "classes_at_threshold": int(at.sum()),
            "images_at_threshold": int(counts[at].sum()),
            "classes_kept_le": kept_le,   # reference: drop <= min_images
            "classes_kept_lt": kept_lt,   # paper: drop < min_images
            "readings_differ_by": kept_lt - kept_le,
        },
        "class_size": {"min": int(kept_counts.min()), "median": float(np.median(kept_counts)),
                       "max": int(kept_counts.max())},
        "val": {"per_class": rules.val_per_class, "selection": rules.val_selection},
        "matches_release": None,
        "verify": None,
        "git_commit": git_commit(),
    }
    if rules == CleanRules():
        for release, known in KNOWN_RELEASES.items():
            if (known["classes"], known["train"] + known["val"]) == (stats["classes"]["kept"], len(train) + len(val)):
                stats["matches_release"] = release
    return stats


def _log_findings(listing: Listing, rules: CleanRules, stats: Dict[str, Any], rejected: pa.Table,
                  empty: List[str], not_synset: List[str], seconds: float) -> None:
    if len(rejected):
        reasons = _to_np(rejected.column("reason"))
        paths = _to_np(rejected.column("path"))
        for reason, count in stats["entries"]["rejected"].items():
            if reason == "not_synset":
                continue
            log.warning("%s entries %s, skipped: %s", f"{count:,}", REASONS.get(reason, reason),
                        _examples(paths[reasons == reason]))
    if not_synset:
        log.warning("%s folders are not named by a WordNet synset (n + 8 digits) and were skipped, with the "
                    "%s files in them: %s", f"{len(not_synset):,}",
                    f"{stats['entries']['rejected'].get('not_synset', 0):,}", _examples(not_synset))
    if empty:
        log.warning("%s synset folders hold no image: %s", f"{len(empty):,}", _examples(empty))
    c, t, i = stats["classes"], stats["threshold"], stats["images"]
    log.info("%s: %s images in %s classes; kept %s classes, dropped %s (%s); train %s, val %s (%.1f s)",
             listing.source, f"{stats['entries']['images']:,}", f"{c['seen']:,}", f"{c['kept']:,}", f"{c['dropped']:,}",
             rules.describe(), f"{i['train']:,}", f"{i['val']:,}", seconds)
    log.info("%s classes have exactly %d images: the two readings of the threshold differ by %s classes "
             "(kept: %s with <= dropped, %s with < dropped)", f"{t['classes_at_threshold']:,}", t["min_images"],
             f"{t['readings_differ_by']:,}", f"{t['classes_kept_le']:,}", f"{t['classes_kept_lt']:,}")
    if stats["matches_release"]:
        log.info("the counts are the paper's for ImageNet-21k %s", stats["matches_release"])


# --------------------------------------------------------------------------------------------
# Writing and reading the outputs
# --------------------------------------------------------------------------------------------

def _write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(columns)
            w.writerows(rows)


def _write_table_tsv(path: Path, table: pa.Table) -> None:
    _write_tsv(path, table.column_names, zip(*(table.column(c).to_pylist() for c in table.column_names)))


def write_outputs(result: CleanResult, out_dir: PathLike) -> Dict[str, Path]:
    """Write the manifests, class tables, rejected entries and stats into ``out_dir``, each atomically.

    ``stats.json`` is written last, so its presence means the set is complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    phase = _Phases(str(out))
    written = {}
    num_classes = len(result.classes)
    for split, table in result.splits.items():
        meta = {"split": split, "num_classes": num_classes, "rules": result.stats["rules"]}
        table = table.replace_schema_metadata({"editrepro": json.dumps(meta, sort_keys=True)})
        target = out / (TRAIN if split == "train" else VAL)
        with atomic_path(target) as tmp:
            # dictionary pages and statistics only where they pay: paths are all distinct
            pq.write_table(table, tmp, compression="zstd", use_dictionary=["label", "synset"],
                           write_statistics=["label", "synset"])
        written[split] = target
    for key, name, table in (("classes", CLASSES, result.classes), ("dropped", DROPPED, result.dropped),
                             ("rejected", REJECTED, result.rejected)):
        _write_table_tsv(out / name, table)
        written[key] = out / name
    if result.corrupt is not None:
        _write_table_tsv(out / CORRUPT, result.corrupt)
        written["corrupt"] = out / CORRUPT
    elif (out / CORRUPT).exists():
        (out / CORRUPT).unlink()  # from an earlier verified run: no longer describes these manifests
    stats = dict(result.stats, outputs={k: v.name for k, v in written.items()})
    atomic_write_text(out / STATS, json.dumps(stats, indent=2) + "\n")
    written["stats"] = out / STATS
    phase("written")
    if len(result.rejected):
        log.warning("the %s rejected entries are listed in %s", f"{len(result.rejected):,}", out / REJECTED)
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def write_failed(path: PathLike, failed: Sequence[Tuple[str, str, str]]) -> Path:
    """``path, reason, detail`` rows (as ``resize_tree`` returns them) as a TSV, atomically."""
    _write_tsv(Path(path), ["path", "reason", "detail"], failed)
    return Path(path)


def read_manifest(out_dir: PathLike, split: str = "train") -> pa.Table:
    """A split's manifest (``path``, ``label``, ``synset``) as written by ``write_outputs``."""
    return pq.read_table(Path(out_dir) / (TRAIN if split == "train" else VAL))


def manifest_root(out_dir: PathLike) -> Optional[Path]:
    """The image root recorded in ``stats.json`` (None if the listing was given without one)."""
    root = json.loads((Path(out_dir) / STATS).read_text())["root"]
    return Path(root) if root else None


def prepare(listing: Listing, rules: CleanRules, out_dir: PathLike, *, verify: bool = False,
            workers: Optional[int] = None, progress: bool = True) -> CleanResult:
    """``clean``, optionally ``verify_images`` the kept images and clean again without the bad ones,
    then ``write_outputs``.

    Verification decodes only the images of classes the rules keep (removing images can only
    shrink a class, so no other class can come back), then counts again, so the threshold and
    the first-50 rule apply to decodable images.
    """
    result = clean(listing, rules, report=not verify)  # a verified run reports after its second pass
    if verify:
        if listing.root is None:
            raise DataError("verification reads the images: give the root of the listing")
        paths = pa.concat_arrays([result.train.column("path").combine_chunks(),
                                  result.val.column("path").combine_chunks()])
        bad = verify_images(listing.root, paths, workers=workers, progress=progress)
        result = clean(listing, rules, exclude=bad)
        reasons = _to_np(bad.column("reason"))
        verify_stats = {"checked": len(paths), "corrupt": int((reasons == "corrupt").sum()),
                        "unreadable": int((reasons == "unreadable").sum()), "listed_in": CORRUPT}
        result = replace(result, corrupt=bad, stats=dict(result.stats, verify=verify_stats))
    write_outputs(result, out_dir)
    return result


# --------------------------------------------------------------------------------------------
# Touching images: verify, symlink tree, resize (all resumable, none raise on a bad image)
# --------------------------------------------------------------------------------------------

def _pool(workers: Optional[int]):
    """A process pool; fork where there is one (the parent's imports are reused, nothing is pickled twice)."""
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    return ctx.Pool(workers or os.cpu_count() or 1, initializer=_init_worker)


def _init_worker() -> None:
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image must fail
    Image.MAX_IMAGE_PIXELS = None            # ImageNet has a few very large, valid images
    warnings.simplefilter("ignore")          # EXIF and colour-profile warnings are not decode errors


@contextmanager
def _worker_settings() -> Iterator[None]:
    """``_init_worker``'s settings for work done in this process, restored afterwards."""
    from PIL import Image, ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            _init_worker()
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _check_images(root: str, paths: List[str]) -> List[Tuple[str, str, str]]:
    from PIL import Image

    bad = []
    for path in paths:
        try:
            f = open(os.path.join(root, path), "rb")
        except OSError as e:
            bad.append((path, "unreadable", f"{type(e).__name__}: {e.strerror or e}"))
            continue
        try:
            with f, Image.open(f) as im:
                im.load()
        except Exception as e:  # any decoder failure marks the image corrupt; it must not stop the run
            bad.append((path, "corrupt", f"{type(e).__name__}: {e}"))
    return bad


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for s in range(0, len(items), size):
        yield items[s:s + size]


def _run_chunks(fn, tasks: List[Tuple[Any, ...]], total: int, workers: Optional[int], progress: bool,
                desc: str, unit: str) -> Iterator[Tuple[int, Any]]:
    """Run ``fn(*task)`` for every task, in a pool unless ``workers == 1``; yield (items done, result)."""
    with tqdm(total=total, desc=desc, unit=unit, disable=not progress, smoothing=0.05) as bar:
        if workers == 1:
            for t in tasks:
                with _worker_settings():
                    r = fn(*t)
                bar.update(len(t[-1]))
                yield len(t[-1]), r
            return
        with _pool(workers) as pool:
            for k, r in pool.imap_unordered(_sized_call, [(fn, t) for t in tasks]):
                bar.update(k)
                yield k, r


def _sized_call(job):
    fn, task = job
    return len(task[-1]), fn(*task)


def verify_images(root: PathLike, paths: Union[pa.Array, Sequence[str]], *, workers: Optional[int] = None,
                  progress: bool = True, chunk: int = 256) -> pa.Table:
    """Decode every image (PIL, fully) in a process pool; return ``path, reason, detail`` of those that
    fail, sorted by path: ``unreadable`` (cannot be opened) or ``corrupt`` (cannot be decoded)."""
    paths = paths.to_pylist() if isinstance(paths, (pa.Array, pa.ChunkedArray)) else list(paths)
    tasks = [(str(root), list(c)) for c in _chunks(paths, chunk)]
    bad: List[Tuple[str, str, str]] = []
    for _, found in _run_chunks(_check_images, tasks, len(paths), workers, progress, "verifying", "img"):
        bad += found
    bad.sort()
    if bad:
        log.warning("%s of %s images could not be read or decoded: %s", f"{len(bad):,}", f"{len(paths):,}",
                    _examples([f"{p} ({d})" for p, _, d in bad], 3))
    return pa.table({"path": pa.array([b[0] for b in bad], pa.string()),
                     "reason": pa.array([b[1] for b in bad], pa.string()),
                     "detail": pa.array([b[2] for b in bad], pa.string())})


def _class_folders(table: pa.Table) -> Iterator[Tuple[str, List[str]]]:
    """(synset, relative paths) per class of a manifest, whose rows are sorted by label."""
    labels = _to_np(table.column("label"))
    if not len(labels):
        return
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1, [len(labels)]])
    paths = table.column("path")
    synsets = table.column("synset")
    for a, b in zip(cuts[:-1], cuts[1:]):
        yield synsets[int(a)].as_py(), paths.slice(int(a), int(b - a)).to_pylist()


def _link_folder(root: str, folder: Path, paths: List[str]) -> Dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = dict(created=0, existing=0, replaced=0, removed_stale=0, conflicts=0)
    wanted = {p.rsplit("/", 1)[1]: os.path.join(root, p) for p in paths}
    with os.scandir(folder) as it:
        existing = {e.name: e.is_symlink() for e in it}
    for name, is_link in existing.items():
        if name not in wanted and is_link:  # a link of an earlier run that these manifests drop
            os.unlink(folder / name)
            counts["removed_stale"] += 1
    for name, target in wanted.items():
        dst = folder / name
        if name in existing:
            if not existing[name]:
                counts["conflicts"] += 1  # a real file: never overwritten
                continue
            if os.readlink(dst) == target:
                counts["existing"] += 1
                continue
            tmp = folder / f".{name}.tmp-link"
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, dst)
            counts["replaced"] += 1
        else:
            os.symlink(target, dst)
            counts["created"] += 1
    return counts


def materialise_symlinks(splits: Mapping[str, pa.Table], root: PathLike, dest: PathLike, *, threads: int = 16,
                         progress: bool = True) -> Dict[str, int]:
    """Make ``dest/<split>/<synset>/<file>`` symlinks to ``root/<path>``: an ImageFolder tree per split.

    Links point at absolute paths. Re-running resumes: correct links are kept, wrong ones
    replaced, links the manifests no longer list removed; a real file in the way is never
    touched (counted as a conflict).
    """
    root_s = str(Path(root).resolve())
    dest = Path(dest)
    jobs = [(dest / split / synset, paths)
            for split, table in splits.items() for synset, paths in _class_folders(table)]
    totals = dict(created=0, existing=0, replaced=0, removed_stale=0, conflicts=0)
    with ThreadPoolExecutor(max(1, threads)) as pool, \
            tqdm(total=len(jobs), desc=f"linking {dest}", unit="folder", disable=not progress) as bar:
        for counts in pool.map(lambda job: _link_folder(root_s, *job), jobs):
            bar.update()
            for k, v in counts.items():
                totals[k] += v
    for split in splits:
        folder = dest / split
        wanted = {str(j[0].name) for j in jobs if j[0].parent == folder}
        extra = sorted(e.name for e in os.scandir(folder) if e.name not in wanted) if folder.is_dir() else []
        if extra:
            log.warning("%s has %s folders that are not classes of the manifest (left alone): %s", folder,
                        f"{len(extra):,}", _examples(extra))
    if totals["conflicts"]:
        log.warning("%s files in %s are real files where a link was due; left alone", f"{totals['conflicts']:,}", dest)
    log.info("symlink tree %s: %s", dest, ", ".join(f"{k} {v:,}" for k, v in totals.items()))
    return totals


def _resize_bilinear(a: np.ndarray, width: int, height: int, scale: Optional[float] = None) -> np.ndarray:
    """Bilinear resampling without antialiasing, as ``cv2.resize(..., INTER_LINEAR)`` (the reference).

    Pixel centres are aligned (``src = (dst + 0.5) / scale - 0.5``, clamped at the borders), with
    ``scale`` the output/input ratio of each axis or, as cv2 with ``fx = fy``, the one given. cv2
    rounds its 11-bit fixed-point weights, so values can differ from it by 1.
    """
    h, w = a.shape[:2]

    def axis(n_out: int, n_in: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = (np.arange(n_out) + 0.5) * (1 / scale if scale else n_in / n_out) - 0.5
        x0 = np.floor(x).astype(np.int64)
        frac = x - x0
        frac[x0 < 0] = 0.0
        x0 = np.clip(x0, 0, n_in - 1)
        frac[x0 >= n_in - 1] = 0.0
        return x0, np.minimum(x0 + 1, n_in - 1), frac.astype(np.float32)

    y0, y1, fy = axis(height, h)
    x0, x1, fx = axis(width, w)
    a = a.astype(np.float32)
    rows = a[y0] * (1 - fy)[:, None, None] + a[y1] * fy[:, None, None]
    out = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def _resize_images(root: str, mode: str, size: int, quality: int, resample: str,
                   jobs: List[Tuple[str, str]]) -> List[Tuple[str, str, str]]:
    """Resize ``root/src`` to ``dst`` for each job, as the reference's ``resize.py``: an image whose
    longer side is under ``size`` is copied unchanged; others become ``size`` x ``size`` (squish) or
    get a short side of ``size`` (short-side), RGB, JPEG quality 95 (PNG for ``.png``)."""
    from PIL import Image, ImageOps

    failed = []
    for src, dst in jobs:
        full = os.path.join(root, src)
        tmp = f"{dst}.tmp-{os.getpid()}"
        try:
            with Image.open(full) as im:
                im = ImageOps.exif_transpose(im)  # cv2.imread applies the EXIF orientation
                w, h = im.size
                if max(w, h) < size:
                    shutil.copyfile(full, tmp)
                else:
                    if mode == "squish":
                        new, scale = (size, size), None
                    else:
                        scale = size / min(w, h)
                        new = (max(1, round(w * scale)), max(1, round(h * scale)))
                    im = im.convert("RGB")
                    if resample == "reference":
                        im = Image.fromarray(_resize_bilinear(np.asarray(im), *new, scale=scale))
                    else:
                        im = im.resize(new, Image.Resampling.BICUBIC)
                    if dst.lower().endswith(".png"):
                        im.save(tmp, format="PNG")
                    else:
                        im.save(tmp, format="JPEG", quality=quality)
            os.replace(tmp, dst)
        except Exception as e:  # one bad image must not stop a run over millions; it is reported
            failed.append((src, "corrupt" if not isinstance(e, PermissionError) else "unreadable",
                           f"{type(e).__name__}: {e}"))
            if os.path.exists(tmp):
                os.unlink(tmp)
    return failed


def resize_tree(splits: Mapping[str, pa.Table], root: PathLike, dest: PathLike, *, mode: str = "squish",
                size: Optional[int] = None, quality: int = 95, resample: str = "reference",
                workers: Optional[int] = None, progress: bool = True, chunk: int = 64) -> Dict[str, Any]:
    """Write resized copies as ``dest/<split>/<synset>/<file>``, in a process pool.

    Args:
        mode: ``"squish"`` (``size`` x ``size``, aspect not kept; default size 224) or
            ``"short-side"`` (short side ``size``, aspect kept; default size 256), the reference's
            two variants.
        resample: ``"reference"`` (bilinear without antialiasing, as the reference's cv2) or
            ``"bicubic"`` (PIL's antialiased bicubic).
        quality: JPEG quality (cv2's default, 95, in the reference).

    Every file is written to a temporary name and renamed, so an interrupted run leaves only
    complete files, and a re-run skips them (resume). Images that fail are reported, not raised.
    """
    if mode not in ("squish", "short-side"):
        raise ValueError(f"mode must be 'squish' or 'short-side', got {mode!r}")
    if resample not in ("reference", "bicubic"):
        raise ValueError(f"resample must be 'reference' or 'bicubic', got {resample!r}")
    size = size or (224 if mode == "squish" else 256)
    dest = Path(dest)
    jobs: List[Tuple[str, str]] = []
    skipped = 0
    for split, table in splits.items():
        for synset, paths in _class_folders(table):
            folder = dest / split / synset
            folder.mkdir(parents=True, exist_ok=True)
            with os.scandir(folder) as it:
                done = {e.name for e in it}
            for path in paths:
                name = path.rsplit("/", 1)[1]
                if name in done:
                    skipped += 1
                else:
                    jobs.append((path, str(folder / name)))
    tasks = [(str(Path(root)), mode, size, quality, resample, list(c)) for c in _chunks(jobs, chunk)]
    failed: List[Tuple[str, str, str]] = []
    for _, found in _run_chunks(_resize_images, tasks, len(jobs), workers, progress, f"resizing to {dest}", "img"):
        failed += found
    failed.sort()
    if failed:
        log.warning("%s images could not be resized (left out of %s): %s", f"{len(failed):,}", dest,
                    _examples([f"{p} ({d})" for p, _, d in failed], 3))
    log.info("resized %s images into %s (%s already there)", f"{len(jobs) - len(failed):,}", dest, f"{skipped:,}")
    return {"written": len(jobs) - len(failed), "skipped_existing": skipped, "failed": failed,
            "mode": mode, "size": size}
