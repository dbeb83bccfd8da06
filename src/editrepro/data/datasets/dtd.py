"""Describable Textures (DTD), one of its ten official partitions.

The transfer protocol trains on partition k's train and val lists together and evaluates on its
test list (``protocol="transfer"``, default; ``split="val"`` then means the test list).
``protocol="official"`` reads ``train{k}``, ``val{k}`` and ``test{k}`` as they are.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ._common import ImageListDataset, LayoutError, class_folders, find_base

__all__ = ["DTD"]

_LISTS = {
    "transfer": {"train": ("train", "val"), "val": ("test",), "test": ("test",)},
    "official": {"train": ("train",), "val": ("val",), "test": ("test",)},
}


class DTD(ImageListDataset):
    """DTD, 47 texture classes (the folders of ``images/``, sorted). See the module docstring.

    Args:
        partition: which of the ten official splits, 1..10 (default 1).
        protocol: ``"transfer"`` (train = train + val lists, val/test = test list) or
            ``"official"``.
    """

    LAYOUT = """
        root/dtd/dtd/
            images/banded/banded_0002.jpg ...   (47 class folders)
            labels/train1.txt, val1.txt, test1.txt ... train10.txt, val10.txt, test10.txt
                (lines like 'banded/banded_0002.jpg')
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None,
                 *, partition: int = 1, protocol: str = "transfer"):
        if protocol not in _LISTS:
            raise ValueError(f"dtd: protocol must be one of {sorted(_LISTS)}, not {protocol!r}")
        if split not in _LISTS[protocol]:
            raise ValueError(f"dtd: split must be one of {sorted(_LISTS[protocol])}, not {split!r}")
        if not 1 <= int(partition) <= 10:
            raise ValueError(f"dtd: partition must be 1..10, not {partition!r}")
        base = find_base("dtd", root, ("dtd/dtd", "dtd", "."),
                         lambda d: (d / "images").is_dir() and (d / "labels").is_dir(), self.LAYOUT)
        classes = class_folders(base / "images")    # one list for every split: hidden and empty folders left out
        index = {c: i for i, c in enumerate(classes)}
        paths, labels = [], []
        for name in _LISTS[protocol][split]:
            listing = base / "labels" / f"{name}{partition}.txt"
            if not listing.is_file():
                raise LayoutError("dtd", base, f"no split file 'labels/{listing.name}'",
                                  self.LAYOUT)
            for line in listing.read_text().split():
                cls = line.split("/")[0]
                if cls not in index:
                    raise ValueError(f"dtd: {listing} names class {cls!r}, which has no folder with "
                                     f"images in {base / 'images'}")
                paths.append(line)
                labels.append(index[cls])
        super().__init__(base / "images", paths, labels, classes, transform, split)
        self.partition, self.protocol = int(partition), protocol
