"""Writing the cleaning's outputs (each file atomically, ``stats.json`` last) and reading the manifests back."""
import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.parquet as pq

from ...fileio import atomic_path, atomic_write_text
from .cleaning import CleanResult, clean
from .listing import Listing
from .materialise import verify_images
from .rules import (CLASSES, CORRUPT, DROPPED, REJECTED, STATS, TRAIN, VAL, CleanRules, DataError, PathLike, _Phases,
                    _to_np, log)


def _write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(columns)
            w.writerows(rows)


def _write_table_tsv(path: Path, table: pa.Table) -> None:
    _write_tsv(path, table.column_names, zip(*(table.column(c).to_pylist() for c in table.column_names)))


def write_split_manifest(out: Path, split: str, table, num_classes: int, rules) -> Path:
    """``OUT/train.parquet`` or ``OUT/val.parquet``, atomically, with the ``editrepro`` key-value metadata
    (split, num_classes, rules) the readers check."""
    meta = {"split": split, "num_classes": num_classes, "rules": rules}
    table = table.replace_schema_metadata({"editrepro": json.dumps(meta, sort_keys=True)})
    target = Path(out) / (TRAIN if split == "train" else VAL)
    with atomic_path(target) as tmp:
        # dictionary pages and statistics only where they pay: paths are all distinct
        pq.write_table(table, tmp, compression="zstd", use_dictionary=["label", "synset"],
                       write_statistics=["label", "synset"])
    return target


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
        written[split] = write_split_manifest(out, split, table, num_classes, result.stats["rules"])
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


def manifest_root(out_dir: PathLike, split: Optional[str] = None) -> Optional[Path]:
    """The image root recorded in ``stats.json`` (None if the listing was given without one).

    With ``split``, that split's own root where ``stats.json`` records one per split (``roots``:
    the processed release's ``imagenet21k_train/``, a resized copy's ``train/``), else the root.
    """
    stats = json.loads((Path(out_dir) / STATS).read_text())
    root = (stats.get("roots") or {}).get(split) if split else None
    root = root or stats["root"]
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
