"""The two forms ImageNet-21K-P comes in, read into the cleaning's manifests so pretraining reads one format.

- **The processed release** (image-net.org's ImageNet-21K-P, the output of Alibaba-MIIL's
  ``dataset_preprocessing/processing_script.sh``): a folder holding ``imagenet21k_train/`` and
  ``imagenet21k_val/``, each one folder per synset of already cleaned, resized images.
  ``index_processed`` scans it once (``listing.list_tree``'s threaded scan, one pass over each
  split) and checks its counts against ``KNOWN_RELEASES``.
- **A resized copy of a cleaned raw release**: ``resize_manifests`` reads the cleaning's
  manifests, writes the reference's resize of every image (``materialise.resize_tree``) as
  ``OUT/{train,val}/<synset>/<file>`` and the manifests of that copy beside it.

Either way the folder gets the cleaning's ``train.parquet``, ``val.parquet``, ``classes.tsv`` and
``stats.json`` (schema: the package docstring), with paths relative to the split's own image root
(``n01440764/n01440764_10026.JPEG``) and labels in byte-wise sorted synset order of the train
split, so the same images give the same manifests in every form. ``stats.json`` records each
split's image root under ``roots`` (``manifest_root(out, split)``).
"""
import csv
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ...fileio import atomic_write_text
from ...provenance import git_commit
from .cleaning import _MANIFEST, _entries, _rejected_table
from .listing import list_tree
from .materialise import resize_tree
from .outputs import _write_table_tsv, manifest_root, read_manifest, write_failed, write_split_manifest
from .rules import CLASSES, KNOWN_RELEASES, STATS, CleanRules, DataError, PathLike, _examples, log

# The processed release's folders (processing_script.sh: ROOT=.../imagenet21k_train, VAL_ROOT=.../imagenet21k_val)
PROCESSED_SPLITS = {"train": "imagenet21k_train", "val": "imagenet21k_val"}
# How the raw release is resized after cleaning: the reference's two variants, or not at all
RESIZE_MODES = ("squish", "short-side", "none")
DEFAULT_SIZE = {"squish": 224, "short-side": 256}   # processing_script.sh / processing_script_short_edge.sh
COUNT_CHECKS = ("published", "any")
RESIZE_FAILED = "resize_failed.tsv"


def _expected_layout(root: Path) -> str:
    return (f"expected the processed ImageNet-21K-P (image-net.org's release, or Alibaba-MIIL's processing_script.sh "
            f"output): {root}/imagenet21k_train/<synset>/<image> and {root}/imagenet21k_val/<synset>/<image>")


def check_processed_layout(root: PathLike) -> Dict[str, Path]:
    """The processed release's split folders; a clear error naming ``root`` if they are not there."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data.imagenet21k_p: {root} is not a folder; {_expected_layout(root)}")
    missing = [f"{name}/" for name in PROCESSED_SPLITS.values() if not (root / name).is_dir()]
    if missing:
        found = sorted(e.name + ("/" if e.is_dir() else "") for e in root.iterdir())
        raise DataError(f"data.imagenet21k_p: {root} has no {' and no '.join(missing)} folder (it holds: "
                        f"{_examples(found) or 'nothing'}); {_expected_layout(root)}")
    return {split: root / name for split, name in PROCESSED_SPLITS.items()}


def release_of(classes: int, train: int, val: int) -> Optional[str]:
    """The published release with exactly these counts of classes, train and val images, or None.

    Exact, split by split: the processed release is the reference script's output, whose README
    (``processing_instructions.md``) gives both splits' counts.
    """
    for release, known in KNOWN_RELEASES.items():
        if (known["classes"], known["train"], known["val"]) == (classes, train, val):
            return release
    return None


def check_counts(root: PathLike, classes: int, train: int, val: int) -> str:
    """The release the counts are, or a ``DataError`` naming the path, the counts found and those expected."""
    release = release_of(classes, train, val)
    if release is None:
        expected = "; ".join(f"{name}: {k['classes']:,} classes, {k['train']:,} train, {k['val']:,} val"
                             for name, k in KNOWN_RELEASES.items())
        raise DataError(f"data.imagenet21k_p: {root} holds {classes:,} classes, {train:,} train and {val:,} val "
                        f"images, which is no published ImageNet-21K-P release ({expected}). For a subset of "
                        "your own, set data.imagenet21k_p_counts: any (editrepro in21k-p --any-counts)")
    return release


def _class_table(synsets: Sequence[str], train: pa.Table, val: pa.Table) -> pa.Table:
    k = len(synsets)
    n_train = np.bincount(train.column("label").to_numpy(), minlength=k)
    n_val = np.bincount(val.column("label").to_numpy(), minlength=k)
    return pa.table({"label": pa.array(np.arange(k, dtype=np.int32)), "synset": pa.array(list(synsets), pa.string()),
                     "images": pa.array(n_train + n_val), "train": pa.array(n_train), "val": pa.array(n_val)})


def write_manifests(out: PathLike, splits: Mapping[str, pa.Table], classes: pa.Table, stats: Dict[str, Any],
                    tables: Mapping[str, pa.Table] = {}) -> Dict[str, Path]:
    """The manifests (as ``write_outputs`` writes them), ``classes.tsv``, extra TSVs and ``stats.json`` last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, table in splits.items():
        written[split] = write_split_manifest(out, split, table, len(classes), stats.get("rules"))
    for name, table in {CLASSES: classes, **tables}.items():
        _write_table_tsv(out / name, table)
        written[name] = out / name
    stats = dict(stats, outputs={k: v.name for k, v in written.items()})
    atomic_write_text(out / STATS, json.dumps(stats, indent=2) + "\n")
    written["stats"] = out / STATS
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def index_processed(root: PathLike, out: PathLike, *, counts: str = "published", threads: int = 16,
                    progress: bool = True) -> Dict[str, Any]:
    """Manifests of the processed ImageNet-21K-P at ``root``, written into ``out``; returns the stats.

    One scan of each split folder; the images are what the cleaning counts as images (synset
    folders, image extensions, no hidden files); anything else is listed in ``rejected.tsv``.
    Labels: the index of the synset among the train split's synsets, byte-wise sorted.

    Args:
        counts: ``"published"`` checks the counts against ``KNOWN_RELEASES`` (winter21, fall11)
            before anything is written; ``"any"`` accepts a subset of your own.

    Raises:
        FileNotFoundError, DataError: no such folder, no split folder, no images, a val synset
            that train lacks, or counts of no published release (with ``counts="published"``).
    """
    if counts not in COUNT_CHECKS:
        raise ValueError(f"counts must be one of {', '.join(COUNT_CHECKS)}, got {counts!r}")
    root = Path(root)
    folders = check_processed_layout(root)
    rules = CleanRules()                        # only its image extensions are used: nothing is dropped here
    images, rejected = {}, []
    for split, folder in folders.items():
        listing = list_tree(folder, threads=threads, progress=progress)
        found = _entries(listing, rules, None)
        images[split] = found.images            # path, synset: sorted by path, unique
        r = _rejected_table(found.rejected, listing.problems)
        prefix = pa.array([f"{folder.name}/"] * len(r), pa.string())
        rejected.append(r.set_column(0, "path", pc.binary_join_element_wise(prefix, r.column("path"), "")))
    synsets = images["train"]["synset"].unique(maintain_order=True).to_list()   # sorted: the rows are
    if not synsets:
        raise DataError(f"data.imagenet21k_p: {folders['train']} holds no image in a synset folder; "
                        f"{_expected_layout(root)}")
    extra = sorted(set(images["val"]["synset"].unique().to_list()) - set(synsets))
    if extra:
        raise DataError(f"data.imagenet21k_p: {folders['val']} has {len(extra):,} synset folders that "
                        f"{folders['train']} lacks ({_examples(extra)}); the labels come from the train split's "
                        "synsets, so every val class must be one of them")
    n_train, n_val = len(images["train"]), len(images["val"])
    release = release_of(len(synsets), n_train, n_val)
    if counts == "published":
        check_counts(root, len(synsets), n_train, n_val)
    index = pl.DataFrame({"synset": synsets, "label": np.arange(len(synsets), dtype=np.int32)})
    splits = {split: frame.join(index, on="synset", how="left", maintain_order="left")
              .select("path", "label", "synset").to_arrow().cast(_MANIFEST)
              for split, frame in images.items()}
    classes = _class_table(synsets, splits["train"], splits["val"])
    empty_val = int((classes.column("val").to_numpy() == 0).sum())
    if empty_val:
        log.warning("%s classes have no val image in %s", f"{empty_val:,}", folders["val"])
    rejected = pa.concat_tables(rejected)
    if len(rejected):
        log.warning("%s entries of %s are not images of a synset folder and were skipped (listed in rejected.tsv): "
                    "%s", f"{len(rejected):,}", root, _examples(rejected.column("path").to_pylist()))
    stats = {
        "dataset": "imagenet-21k-p",
        "form": "processed",
        "root": str(root.resolve()),
        "roots": {split: str(folder.resolve()) for split, folder in folders.items()},
        "rules": None,
        "classes": {"kept": len(synsets), "without_val": empty_val},
        "images": {"train": n_train, "val": n_val, "total": n_train + n_val},
        "entries": {"rejected": len(rejected)},
        "matches_release": release,
        "counts_check": counts,
        "git_commit": git_commit(),
    }
    write_manifests(out, splits, classes, stats, {"rejected.tsv": rejected})
    log.info("processed ImageNet-21K-P %s: %s classes, %s train and %s val images (%s)", root, f"{len(synsets):,}",
             f"{n_train:,}", f"{n_val:,}", f"the published {release}" if release else "no published release")
    return stats


def resize_manifests(manifests: PathLike, out: PathLike, *, mode: str = "squish", size: Optional[int] = None,
                     quality: int = 95, resample: str = "reference", workers: Optional[int] = None,
                     progress: bool = True) -> Dict[str, Any]:
    """The reference's resize of every image the manifests in ``manifests`` list, with their manifests.

    Writes ``out/<split>/<synset>/<file>`` (``resize_tree``: resumable, an image that fails is left
    out and listed in ``out/resize_failed.tsv``) and ``out/train.parquet``, ``val.parquet``,
    ``classes.tsv``, ``stats.json``: the same rows (less any that failed), with ``roots`` naming
    ``out/train`` and ``out/val``. Returns the stats.
    """
    if mode not in DEFAULT_SIZE:
        raise ValueError(f"in21k_cleaning.resize: mode must be one of {', '.join(DEFAULT_SIZE)} to resize, got {mode!r}")
    src, out = Path(manifests), Path(out)
    if not (src / STATS).is_file():
        raise FileNotFoundError(f"{src} holds no {STATS}: expected the ImageNet-21k cleaning's manifests "
                                "(editrepro clean-in21k --out)")
    source_stats = json.loads((src / STATS).read_text())
    size = size or DEFAULT_SIZE[mode]
    splits, failed = {}, []
    for split in ("train", "val"):
        table = read_manifest(src, split).replace_schema_metadata(None)
        root = manifest_root(src, split)
        if root is None:
            raise DataError(f"{src / STATS} records no image root: the cleaning was given a listing without --root")
        done = resize_tree({split: table}, root, out, mode=mode, size=size, quality=quality, resample=resample,
                           workers=workers, progress=progress)
        bad = {p for p, _, _ in done["failed"]}
        failed += [(f"{split}/{p}", reason, detail) for p, reason, detail in done["failed"]]
        if bad:
            keep = pc.invert(pc.is_in(table.column("path"), pa.array(sorted(bad), pa.string())))
            table = table.filter(keep)
        splits[split] = table.cast(_MANIFEST)
    with open(src / CLASSES, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    synsets = [r["synset"] for r in sorted(rows, key=lambda r: int(r["label"]))]
    classes = _class_table(synsets, splits["train"], splits["val"])
    n_train, n_val = len(splits["train"]), len(splits["val"])
    stats = {
        **source_stats,
        "form": "resized",
        "root": str(out.resolve()),
        "roots": {split: str((out / split).resolve()) for split in splits},
        "resized_from": str(src.resolve()),
        "resize": {"mode": mode, "size": size, "filter": resample, "quality": quality, "failed": len(failed),
                   "failed_listed_in": RESIZE_FAILED},
        "images": {**source_stats.get("images", {}), "train": n_train, "val": n_val, "total": n_train + n_val},
        "git_commit": git_commit(),
    }
    write_failed(out / RESIZE_FAILED, failed)
    write_manifests(out, splits, classes, stats)
    return stats
