"""Listing an ImageNet-21k tree: a parallel scan of its folders, or a file listing, as one path buffer."""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from ..pathbytes import Paths
from .rules import DataError, PathLike, _Phases, log


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
