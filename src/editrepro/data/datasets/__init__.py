"""Dataset readers for the standard on-disk layouts, one per file, behind ``build_dataset``.

Nothing is downloaded: each reader reads the layout its dataset is distributed in (the
torchvision layouts where torchvision has the dataset) and, when the path is wrong, raises a
``LayoutError`` (a ``FileNotFoundError``) that names the path and shows the layout it expected.
``editrepro.data.generate_demo_data`` writes small sets in exactly these layouts.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable, Sequence

from torch.utils.data import Dataset

from ._common import ImageListDataset, LayoutError, class_list_difference
from .ade20k import ADE20K
from .caltech256 import Caltech256
from .cifar import CIFAR10, CIFAR100
from .coco import CocoDetection
from .dtd import DTD
from .flowers102 import Flowers102
from .imagenet import ImageNet1k, ImageNet21k
from .imagenet_v2 import ImageNetV2  # a test set beside ImageNet-1k val, not a build_dataset name

__all__ = [
    "DATASETS", "READERS", "build_dataset", "LayoutError", "ImageListDataset",
    "ImageNet1k", "ImageNet21k", "CIFAR10", "CIFAR100", "Flowers102", "DTD", "Caltech256", "ADE20K",
    "CocoDetection", "ImageNetV2",
]

# name -> reader; every reader is ``Reader(root, split, transform=None, **options)``
READERS: dict[str, type] = {
    "imagenet1k": ImageNet1k,
    "imagenet21k": ImageNet21k,
    "cifar10": CIFAR10,
    "cifar100": CIFAR100,
    "flowers102": Flowers102,
    "dtd": DTD,
    "caltech256": Caltech256,
    "ade20k": ADE20K,
    "coco": CocoDetection,
}
DATASETS = tuple(READERS)


def build_dataset(name: str, root: str | Path, split: str, transform: Callable | None = None, *,
                  classes: Sequence[str] | None = None, classes_from: str = "the class list given",
                  **options) -> Dataset:
    """Read dataset ``name`` from ``root``.

    ``split`` is "train" or "val"; "test" is accepted where the dataset calls its evaluation split
    so (CIFAR, Flowers-102, DTD, Caltech-256). Classification sets give ``(transform(PIL RGB
    image), int label)`` and have ``num_classes`` and ``classes``; ``ade20k`` gives
    ``transform(image, mask)`` (a joint transform) and has ``num_classes = 150`` and
    ``ignore_index = 255``. ``options`` are the reader's keyword options (e.g. ``caltech256``:
    ``train_per_class``, ``seed``, ``include_clutter``); an unknown one is refused with the list
    of known ones.

    ``classes`` is the class list this split must have (the training split's, or the one saved with
    trained weights, which ``classes_from`` names in the error): a reader whose classes are the training
    split's folders (``imagenet1k``) reads the split with it; for every dataset a list that differs from
    the dataset's own is a ``ValueError`` naming what differs, raised before any sample is read.
    """
    if name not in READERS:
        from ...schema import did_you_mean

        raise ValueError(f"unknown dataset {name!r}.{did_you_mean(name, DATASETS)} Known: {', '.join(DATASETS)}")
    reader = READERS[name]
    params = inspect.signature(reader).parameters
    known = [p for p in params if p not in ("root", "split", "transform", "classes")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; it takes {known or 'no options'}")
    if classes is not None and "classes" in params:
        options["classes"] = classes
    data = reader(root, split, transform, **options)
    own = getattr(data, "classes", None)
    if classes is not None and own is not None:
        diff = class_list_difference(classes, own, classes_from, f"the {split} split")
        if diff:
            raise ValueError(f"{name}: the {split} split in {root} does not have {classes_from}: {diff}")
    return data
