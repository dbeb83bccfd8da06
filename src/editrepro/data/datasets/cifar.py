"""CIFAR-10 and CIFAR-100 from their python pickles, checking that the files exist, not their md5.

torchvision's readers compare every file with the published md5, which locally generated data
(the demo sets) cannot match; the pickle format is read here the way torchvision reads it.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ._common import find_base, normalise_split

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(Dataset):
    """CIFAR-10: 50,000 training and 10,000 test images of 32x32; "val" means the test batch.

    ``root`` is the folder holding ``cifar-10-batches-py/`` (torchvision's convention) or that
    folder itself. Attributes: ``data`` (N, 32, 32, 3 uint8), ``targets``, ``classes``.
    """

    name = "cifar10"
    base_folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file, names_key, labels_key = "batches.meta", "label_names", "labels"
    LAYOUT = """
        root/cifar-10-batches-py/
            data_batch_1 ... data_batch_5, test_batch
                (pickles: 'data' N x 3072 uint8, 'labels')
            batches.meta   (pickle: 'label_names')
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None):
        self.split = normalise_split(self.name, split, test_alias=True)
        files = self.train_files if self.split == "train" else self.test_files
        needed = (*files, self.meta_file)
        base = find_base(self.name, root, (self.base_folder, "."),
                         lambda d: all((d / f).is_file() for f in needed), self.LAYOUT)
        data, labels = [], []
        for f in files:
            entry = _unpickle(base / f)
            data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(entry[self.labels_key])
        self.data = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))  # N, H, W, C
        self.targets = np.asarray(labels, dtype=np.int64)
        self.classes = list(_unpickle(base / self.meta_file)[self.names_key])
        self.root, self.transform = base, transform
        if len(self.targets) != len(self.data):
            raise ValueError(f"{self.name}: {len(self.data)} images but {len(self.targets)} "
                             f"labels in {base}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img = Image.fromarray(self.data[index])
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.targets[index])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
                f"samples={len(self)})")


class CIFAR100(CIFAR10):
    """CIFAR-100 with its 100 fine labels; "val" means the test file."""

    name = "cifar100"
    base_folder = "cifar-100-python"
    train_files, test_files = ("train",), ("test",)
    meta_file, names_key, labels_key = "meta", "fine_label_names", "fine_labels"
    LAYOUT = """
        root/cifar-100-python/
            train, test   (pickles: 'data' N x 3072 uint8, 'fine_labels', 'coarse_labels')
            meta          (pickle: 'fine_label_names', 'coarse_label_names')
    """


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")  # the originals are Python 2 pickles
