"""Listing an ImageNet-21k tree: a parallel scan of its folders, or a file listing, as one Polars column."""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from .rules import DataError, PathLike, _Phases, log

@dataclass(frozen=True, eq=False)
class Listing:
    """The files of an ImageNet-21k tree, as paths relative to its root.

    Args:
        paths: one entry per file (a Polars ``String`` column); a leading ``./`` (and, when
            ``root`` is given, a leading ``root/``) is stripped by ``clean``.
        root: where the images are, if known (needed to verify, symlink or resize them).
        source: where the listing came from, for messages and stats.
        folders: the folders a scan found under the root, so that empty ones are counted
            (``None`` for a file listing, which cannot show them).
        problems: ``(path, reason, detail)`` for what a scan could not list (unreadable folders,
            broken symlinks, sub-folders of class folders).
        not_utf8: rows whose name is not valid UTF-8; ``paths`` holds them with the bad bytes
            written as ``\\xNN`` (they are rejected, named that way).
    """
    paths: pl.Series
    root: Optional[Path] = None
    source: str = "listing"
    folders: Optional[Tuple[str, ...]] = None
    problems: Tuple[Tuple[str, str, str], ...] = ()
    not_utf8: Tuple[int, ...] = ()

    @classmethod
    def from_paths(cls, paths: Union[Iterable[Union[str, bytes]], pa.Array, pa.ChunkedArray],
                   root: Optional[PathLike] = None, source: str = "paths", **kwargs) -> "Listing":
        """From Python strings or bytes, or an Arrow string/binary array, of relative paths (nulls dropped)."""
        if isinstance(paths, (pa.Array, pa.ChunkedArray)):
            column, bad = _from_arrow(paths)
        else:
            column, bad = _from_python(list(paths))
        return cls(column, root=Path(root) if root is not None else None, source=source, not_utf8=bad, **kwargs)

    def __len__(self) -> int:
        return len(self.paths)


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _from_python(items: List[Union[str, bytes]]) -> Tuple[pl.Series, Tuple[int, ...]]:
    """Strings (``os.fsdecode``'s surrogates for undecodable bytes) or bytes as a String column."""
    bad, out = [], items
    for i, s in enumerate(items):
        if isinstance(s, str) and s.isascii():
            continue
        if out is items:
            out = list(items)
        b = s if isinstance(s, bytes) else os.fsencode(s)
        try:
            out[i] = b.decode("utf-8")
        except UnicodeDecodeError:
            out[i] = _decode(b)
            bad.append(i)
    return pl.Series("path", out, dtype=pl.String), tuple(bad)


def _from_arrow(arr: Union[pa.Array, pa.ChunkedArray]) -> Tuple[pl.Series, Tuple[int, ...]]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    if arr.null_count:
        arr = arr.drop_null()
    try:
        arr = arr.cast(pa.large_string())  # validates UTF-8 at memory speed
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return _from_python(arr.cast(pa.large_binary()).to_pylist())  # some names are not UTF-8: the slow path
    return pl.Series("path", arr), ()


def _expected_tree(root: Path) -> str:
    return (f"expected the extracted ImageNet-21k: one folder per WordNet synset holding its images, "
            f"e.g. {root}/n01440764/n01440764_10026.JPEG")


def _scan_folder(root: str, name: str) -> Tuple[List[str], List[Tuple[str, str, str]]]:
    """One class folder: its files as ``name/file`` paths, plus what could not be listed."""
    files, problems = [], []
    try:
        with os.scandir(os.path.join(root, name)) as it:
            for entry in it:
                try:
                    if entry.is_file():
                        files.append(f"{name}/{entry.name}")
                    elif entry.is_dir():
                        problems.append((f"{name}/{entry.name}/", "nested", "a folder inside a class folder"))
                    else:
                        problems.append((f"{name}/{entry.name}", "not_a_file", "broken symlink or special file"))
                except OSError as e:
                    problems.append((f"{name}/{entry.name}", "not_a_file", f"{type(e).__name__}: {e.strerror}"))
    except OSError as e:
        return [], [(f"{name}/", "unreadable_folder", f"{type(e).__name__}: {e.strerror or e}")]
    return files, problems


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

    folders, paths, problems = [], [], []
    for e in entries:
        try:
            if e.is_dir():
                folders.append(e.name)
            elif e.is_file():
                paths.append(e.name)
            else:
                problems.append((e.name, "not_a_file", "broken symlink or special file"))
        except OSError as err:
            problems.append((e.name, "not_a_file", f"{type(err).__name__}: {err.strerror}"))

    with ThreadPoolExecutor(max(1, threads)) as pool, \
            tqdm(total=len(folders), desc=f"scanning {root}", unit="folder", disable=not progress) as bar:
        for files, found in pool.map(lambda name: _scan_folder(str(root), name), folders):
            bar.update()
            paths += files
            problems += found
    column, bad = _from_python(paths)
    log.info("scanned %s: %s files in %s folders", root, f"{len(column):,}", f"{len(folders):,}")
    return Listing(column, root=root, source=f"tree {root}", folders=tuple(folders), problems=tuple(problems),
                   not_utf8=bad)


def _read_lines(path: Path) -> Tuple[pl.Series, Tuple[int, ...]]:
    """One entry per line: ``\\n`` or ``\\r\\n`` endings, empty lines skipped, every other byte kept.

    Polars reads the file (no quoting, no separator: any byte but a newline can be in a file
    name); a listing with names that are not UTF-8 is read again line by line in Python.
    """
    try:
        lines = pl.read_csv(path, has_header=False, new_columns=["path"], schema={"path": pl.String},
                            separator="\x00", quote_char=None, encoding="utf8").to_series()
    except pl.exceptions.ComputeError as e:
        if "utf-8" not in str(e).lower() and "utf8" not in str(e).lower():
            raise
        raw = [line[:-1] if line.endswith(b"\r") else line for line in Path(path).read_bytes().split(b"\n")]
        return _from_python([line for line in raw if line])
    return lines.filter(lines.is_not_null() & (lines != "")), ()


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
        paths, bad = _from_arrow(pq.read_table(path, columns=["path"]).column("path"))
    else:
        paths, bad = _read_lines(path)
    if len(paths) == 0:
        raise DataError(f"listing {path} has no entries; {expected}")
    phase(f"read {len(paths):,} entries")
    return Listing(paths, root=Path(root) if root is not None else None, source=f"listing {path}", not_utf8=bad)
