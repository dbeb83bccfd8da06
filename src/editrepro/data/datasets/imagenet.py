"""ImageNet-1k from class folders (``ImageFolder`` order); ImageNet-21k from manifests."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from torchvision.datasets.folder import find_classes, make_dataset

from ._common import IMAGE_EXTENSIONS, ImageListDataset, LayoutError, is_image_file, normalise_split

__all__ = ["ImageNet1k", "ImageNet21k"]


class ImageNet1k(ImageListDataset):
    """ImageNet-1k as class folders; labels follow the sorted synsets, as ``ImageFolder`` does.

    ``root`` holds ``train/`` and ``val/``, each with one folder per synset. A flat ``val/`` (the
    50,000 images as distributed) must first be sorted into synset folders.
    """

    LAYOUT = """
        root/
            train/n01440764/n01440764_10026.JPEG ...   (one folder per synset)
            val/n01440764/ILSVRC2012_val_00000293.JPEG ...
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None):
        split = normalise_split("imagenet1k", split, test_alias=False)
        root = Path(root).expanduser()
        folder = root / split
        if not folder.is_dir():
            raise LayoutError("imagenet1k", root, f"no '{split}/' folder", self.LAYOUT)
        entries = list(folder.iterdir())
        if not any(e.is_dir() for e in entries):
            if any(is_image_file(e.name) for e in entries):
                problem = f"'{split}/' holds images directly; sort them into synset folders first"
            else:
                problem = f"'{split}/' has no class folders"
            raise LayoutError("imagenet1k", folder, problem, self.LAYOUT)
        classes, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMAGE_EXTENSIONS,
                               allow_empty=True)
        if not samples:
            raise LayoutError("imagenet1k", folder, "no images in the class folders", self.LAYOUT)
        super().__init__(folder, [str(Path(p).relative_to(folder)) for p, _ in samples],
                         [y for _, y in samples], classes, transform, split)


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
