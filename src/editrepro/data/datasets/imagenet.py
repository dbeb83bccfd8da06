"""ImageNet-1k from class folders (``ImageFolder`` order); ImageNet-21k from manifests."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from ._common import (
    ImageListDataset,
    LayoutError,
    class_folders,
    is_hidden,
    is_image_file,
    normalise_split,
    scan_class_folders,
)

__all__ = ["ImageNet1k", "ImageNet21k"]


class ImageNet1k(ImageListDataset):
    """ImageNet-1k as class folders; labels follow the sorted synsets, as ``ImageFolder`` does.

    ``root`` holds ``train/`` and ``val/``, each with one folder per synset. A flat ``val/`` (the
    50,000 images as distributed) must first be sorted into synset folders.

    One class list serves every split: the synset folders of ``train/``, sorted, leaving out hidden
    folders (``.ipynb_checkpoints``) and folders without an image file; hidden files and folders inside
    a class folder are skipped too. ``val/`` is read with that list (a hidden or empty folder there is
    ignored; a class folder the list lacks is an error naming it), so a label means the same synset in
    both. Without ``train/``, ``classes`` (the list saved with trained weights) is the list, else ``val/``'s
    own folders are; ``build_dataset(..., classes=...)`` also checks that a given list equals ``train/``'s.
    """

    LAYOUT = """
        root/
            train/n01440764/n01440764_10026.JPEG ...   (one folder per synset)
            val/n01440764/ILSVRC2012_val_00000293.JPEG ...
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None, *,
                 classes: Sequence[str] | None = None):
        split = normalise_split("imagenet1k", split, test_alias=False)
        root = Path(root).expanduser()
        folder = root / split
        if not folder.is_dir():
            raise LayoutError("imagenet1k", root, f"no '{split}/' folder", self.LAYOUT)
        entries = [e for e in folder.iterdir() if not is_hidden(e.name)]
        if not any(e.is_dir() for e in entries):
            if any(is_image_file(e.name) for e in entries):
                problem = f"'{split}/' holds images directly; sort them into synset folders first"
            else:
                problem = f"'{split}/' has no class folders"
            raise LayoutError("imagenet1k", folder, problem, self.LAYOUT)
        found = scan_class_folders(folder)                     # visible folder -> its images
        own = [name for name, images in found.items() if images]
        train = root / "train"
        if split == "train" or train.is_dir():
            classes, source = (own if split == "train" else class_folders(train)), "train/'s class list"
        elif classes is not None:
            classes, source = [str(c) for c in classes], "the class list given"
        else:
            classes, source = own, f"{split}/'s own class list (no train/ beside it)"
        if not own:
            raise LayoutError("imagenet1k", folder, "no images in the class folders", self.LAYOUT)
        index = {c: i for i, c in enumerate(classes)}
        unknown = [name for name in own if name not in index]
        if unknown:
            raise ValueError(
                f"imagenet1k: {folder / unknown[0]} is a class folder that {source} lacks "
                f"({len(unknown)} such folder(s): {', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}; "
                f"dataset root {root}). Every split is read with the training split's classes (its non-empty, "
                "non-hidden synset folders): remove the folder or give train/ images of that class.")
        paths, labels = [], []
        for name in sorted(own):
            paths += found[name]
            labels += [index[name]] * len(found[name])
        super().__init__(folder, paths, labels, classes, transform, split)


class ImageNet21k(ImageListDataset):
    """ImageNet-21k read from the manifests that the cleaning step writes.

    ``root`` is the directory holding ``train.parquet``, ``val.parquet`` and ``classes.tsv``.
    Each manifest has columns ``path`` (relative to the image root), ``label`` (0..K-1, sorted
    synset order) and ``synset``.

    Args:
        manifest: a manifest parquet to read instead of ``root/<split>.parquet``;
            ``classes.tsv`` is then looked for beside it.
        image_root: the directory the manifest's paths are relative to; default: the split's root
            recorded in ``stats.json`` beside the manifest (``roots``: the processed release's
            ``imagenet21k_<split>/`` or a resized copy's ``<split>/``), else the root the cleaning
            recorded there, else ``root``.

    Class names come from ``classes.tsv`` (a ``synset`` column, ordered by a ``label`` column if
    there is one, or one synset per line); without it, from the (label, synset) pairs of the
    manifests beside this one, so that train and val agree on ``num_classes``.
    """

    LAYOUT = """
        root/                  (the cleaning's output)
            train.parquet      columns: path (relative to image_root), label (0..K-1), synset
            val.parquet
            classes.tsv        the K synsets, in label order
        image_root/            (default: the split's root in stats.json, else root)
            n00004475/n00004475_15899.JPEG ...
        or pass manifest=<file.parquet> and image_root=<dir>
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None,
                 *, manifest: str | Path | None = None, image_root: str | Path | None = None):
        split = normalise_split("imagenet21k", split, test_alias=False)
        root = Path(root).expanduser()
        manifest = root / f"{split}.parquet" if manifest is None else Path(manifest).expanduser()
        if image_root is None:
            image_root = _recorded_root(manifest.parent, split) or root
        image_root = Path(image_root).expanduser()
        if not manifest.is_file():
            raise LayoutError("imagenet21k", manifest.parent,
                              f"no manifest '{manifest.name}' (run the ImageNet-21k cleaning "
                              "first)", self.LAYOUT)
        table = pq.read_table(manifest)
        missing = {"path", "label"} - set(table.column_names)
        if missing:
            raise ValueError(f"imagenet21k: manifest {manifest} lacks column(s) {sorted(missing)}; "
                             f"it has {table.column_names}")
        labels = table.column("label").to_numpy()
        classes = _read_classes(manifest)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"imagenet21k: labels of {manifest} span {labels.min()}.."
                             f"{labels.max()}, outside 0..{len(classes) - 1}")
        paths = table.column("path").combine_chunks().cast(pa.string())
        if len(paths) and not (image_root / paths[0].as_py()).is_file():
            raise LayoutError("imagenet21k", image_root,
                              f"the manifest's first image '{paths[0].as_py()}' is not under the "
                              "image root (pass image_root=...)", self.LAYOUT)
        super().__init__(image_root, paths, labels, classes, transform, split)


def _recorded_root(folder: Path, split: str) -> Path | None:
    """The image root of ``split`` that the ImageNet-21k cleaning (or the processed release's index, or the
    resized copy) wrote into ``stats.json``, if any."""
    from ..imagenet21k import STATS, manifest_root

    return manifest_root(folder, split) if (folder / STATS).is_file() else None


def _read_classes(manifest: Path) -> list[str]:
    tsv = manifest.parent / "classes.tsv"
    if tsv.is_file():
        with open(tsv, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f, delimiter="\t") if r]
        if rows and "synset" in rows[0]:
            header, rows = rows[0], rows[1:]
            if "label" in header:
                rows = sorted(rows, key=lambda r: int(r[header.index("label")]))
            return [r[header.index("synset")] for r in rows]
        return [r[0] for r in rows]
    pairs = {}
    for m in sorted({manifest, *manifest.parent.glob("*.parquet")}):
        if not {"label", "synset"} <= set(pq.read_schema(m).names):
            continue
        t = pq.read_table(m, columns=["label", "synset"])
        t = t.group_by(["label", "synset"]).aggregate([])
        pairs.update(zip(t.column("label").to_pylist(), t.column("synset").to_pylist()))
    if not pairs:
        labels = pq.read_table(manifest, columns=["label"]).column("label").to_numpy()
        return [str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0)]
    return [pairs.get(i, str(i)) for i in range(max(pairs) + 1)]
