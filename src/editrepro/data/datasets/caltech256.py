"""Caltech-256: 256 object categories plus ``257.clutter``, with no official split.

The split here is seeded and documented: within each class, images are ordered by
``sha256(f"{seed}/{class folder}/{file name}")`` (a shuffle that no RNG implementation or
Python version can change) and the first ``train_per_class`` (60, the usual protocol) are
training images, the rest test images. ``257.clutter`` (background images, not an object class)
is left out unless ``include_clutter=True``. Grayscale and CMYK files are read as RGB.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from ._common import ImageListDataset, find_base, is_hidden, normalise_split

__all__ = ["Caltech256"]


def _has_categories(d: Path) -> bool:
    return d.is_dir() and any(p.is_dir() and p.name.startswith("001.") for p in d.iterdir())


class Caltech256(ImageListDataset):
    """Caltech-256 with a seeded per-class split. See the module docstring.

    Args:
        train_per_class: training images per class; every class must keep a test image.
        seed: the split's seed.
        include_clutter: keep ``257.clutter`` as a class.
    """

    LAYOUT = """
        root/caltech256/256_ObjectCategories/
            001.ak47/001_0001.jpg ...
            ...
            257.clutter/257_0001.jpg ...
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None,
                 *, train_per_class: int = 60, seed: int = 0, include_clutter: bool = False):
        split = normalise_split("caltech256", split, test_alias=True)
        if train_per_class < 1:
            raise ValueError(f"caltech256: train_per_class must be >= 1, not {train_per_class}")
        base = find_base("caltech256", root,
                         ("caltech256/256_ObjectCategories", "256_ObjectCategories", "."),
                         _has_categories, self.LAYOUT)
        # both splits come from one folder, so they share its class list: hidden folders
        # (.ipynb_checkpoints) and folders without a .jpg are not classes
        listing = {p.name: [f.name for f in p.iterdir() if f.suffix.lower() == ".jpg" and not is_hidden(f.name)]
                   for p in base.iterdir() if p.is_dir() and not is_hidden(p.name)}
        folders = sorted(name for name, files in listing.items() if files)
        if not include_clutter:
            folders = [f for f in folders if not f.endswith(".clutter")]
        paths, labels = [], []
        for label, folder in enumerate(folders):
            files = listing[folder]
            if len(files) <= train_per_class:
                raise ValueError(
                    f"caltech256: class {folder} has {len(files)} images, which leaves none to "
                    f"test with train_per_class={train_per_class}; pass a smaller train_per_class")
            files.sort(key=lambda name: hashlib.sha256(f"{seed}/{folder}/{name}".encode()).digest())
            chosen = files[:train_per_class] if split == "train" else files[train_per_class:]
            paths += [f"{folder}/{name}" for name in sorted(chosen)]
            labels += [label] * len(chosen)
        classes = [f.split(".", 1)[1] if "." in f else f for f in folders]
        super().__init__(base, paths, labels, classes, transform, split)
        self.train_per_class, self.seed = train_per_class, seed
        self.include_clutter = include_clutter
