"""ADE20K (the SceneParsing / ADEChallengeData2016 release): 150 classes, 0 = "other", ignored.

Labels are mapped as Segmenter and mmseg (``reduce_zero_label``) do: 0 -> 255 (ignore) and
1..150 -> 0..149. Anything above 150 would also become 255.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ._common import LayoutError, find_base, load_rgb, normalise_split

__all__ = ["ADE20K", "IGNORE_INDEX", "NUM_CLASSES"]

IGNORE_INDEX = 255
NUM_CLASSES = 150
# raw annotation value -> training label
_LUT = np.full(256, IGNORE_INDEX, dtype=np.uint8)
_LUT[1:NUM_CLASSES + 1] = np.arange(NUM_CLASSES, dtype=np.uint8)


class ADE20K(Dataset):
    """ADE20K scene parsing; ``__getitem__`` gives ``transform(image, mask)``.

    Without a transform it gives ``(PIL RGB image, PIL "L" mask)`` with the mask already mapped
    (0..149, 255 = ignore), ready for any joint transform such as
    ``editrepro.data.build_seg_train_transform``. Attributes: ``num_classes`` = 150,
    ``ignore_index`` = 255, ``classes`` (from ``objectInfo150.txt`` when present).
    """

    num_classes = NUM_CLASSES
    ignore_index = IGNORE_INDEX
    LAYOUT = """
        root/ADEChallengeData2016/
            images/training/ADE_train_00000001.jpg ...
            images/validation/ADE_val_00000001.jpg ...
            annotations/training/ADE_train_00000001.png ...
            annotations/validation/ADE_val_00000001.png ...
                (L-mode PNG: 0 = other/ignore, 1..150 = classes)
            objectInfo150.txt   (optional: class names)
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None):
        self.split = normalise_split("ade20k", split, test_alias=False)
        sub = {"train": "training", "val": "validation"}[self.split]
        base = find_base("ade20k", root, ("ADEChallengeData2016", "."),
                         lambda d: (d / "images" / sub).is_dir()
                         and (d / "annotations" / sub).is_dir(), self.LAYOUT)
        images = sorted(p for p in (base / "images" / sub).iterdir() if p.suffix.lower() == ".jpg")
        if not images:
            raise LayoutError("ade20k", base / "images" / sub, "no .jpg images", self.LAYOUT)
        self.images = images
        self.masks = [base / "annotations" / sub / f"{p.stem}.png" for p in images]
        missing = [m.name for m in self.masks if not m.is_file()]
        if missing:
            raise LayoutError("ade20k", base / "annotations" / sub,
                              f"{len(missing)} image(s) lack an annotation, e.g. {missing[0]}",
                              self.LAYOUT)
        self.root, self.transform = base, transform
        self.classes = _class_names(base / "objectInfo150.txt")

    def __len__(self) -> int:
        return len(self.images)

    def load_mask(self, index: int) -> Image.Image:
        """The mapped label mask (0..149, 255 = ignore) as an "L" image."""
        with Image.open(self.masks[index]) as raw:
            if raw.mode not in ("L", "P"):
                raise ValueError(f"ade20k: {self.masks[index]} is a {raw.mode} image; "
                                 "annotations are 8-bit")
            return Image.fromarray(_LUT[np.asarray(raw)])  # uint8 HxW -> "L"

    def __getitem__(self, index: int):
        image, mask = load_rgb(self.images[index]), self.load_mask(index)
        if self.transform is not None:
            return self.transform(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"ADE20K(root={str(self.root)!r}, split={self.split!r}, samples={len(self)})"


def _class_names(info: Path) -> list[str]:
    names = [f"class_{i:03d}" for i in range(1, NUM_CLASSES + 1)]
    if info.is_file():
        with open(info, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        for row in rows[1:]:  # Idx, Ratio, Train, Val, Name
            if row and row[0].strip().isdigit() and 1 <= int(row[0]) <= NUM_CLASSES:
                names[int(row[0]) - 1] = row[-1].strip()
    return names
