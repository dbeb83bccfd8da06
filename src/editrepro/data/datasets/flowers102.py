"""Oxford Flowers-102: ``jpg/`` plus ``imagelabels.mat`` and ``setid.mat``.

The transfer protocol (DeiT, DeiT III, EDIT) trains on the official train and validation sets
together (2,040 images) and evaluates on the official test set (6,149 images): that is
``protocol="transfer"``, the default, where ``split="val"`` and ``split="test"`` both mean the
test set. ``protocol="official"`` keeps the three sets apart: train = trnid, val = valid,
test = tstid.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from torchvision.datasets import Flowers102 as _TVFlowers102

from ._common import ImageListDataset, find_base

__all__ = ["Flowers102"]

_SETS = {
    "transfer": {"train": ("trnid", "valid"), "val": ("tstid",), "test": ("tstid",)},
    "official": {"train": ("trnid",), "val": ("valid",), "test": ("tstid",)},
}


def _is_base(d: Path) -> bool:
    return ((d / "jpg").is_dir() and (d / "imagelabels.mat").is_file()
            and (d / "setid.mat").is_file())


def _ints(array) -> np.ndarray:
    return np.asarray(array).astype(np.int64).ravel()


class Flowers102(ImageListDataset):
    """Flowers-102; labels 1..102 in ``imagelabels.mat`` become 0..101. See the module docstring.

    Args:
        protocol: ``"transfer"`` (train = trnid + valid, val/test = tstid) or ``"official"``.
    """

    LAYOUT = """
        root/flowers-102/
            jpg/image_00001.jpg ... image_08189.jpg
            imagelabels.mat    'labels': 1 x N, values 1..102, for image ids 1..N
            setid.mat          'trnid', 'valid', 'tstid': 1-based image ids
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None,
                 *, protocol: str = "transfer"):
        if protocol not in _SETS:
            raise ValueError(
                f"flowers102: protocol must be one of {sorted(_SETS)}, not {protocol!r}")
        if split not in _SETS[protocol]:
            raise ValueError(
                f"flowers102: split must be one of {sorted(_SETS[protocol])}, not {split!r}")
        from scipy.io import loadmat

        base = find_base("flowers102", root, ("flowers-102", "."), _is_base, self.LAYOUT)
        labels = _ints(loadmat(base / "imagelabels.mat", squeeze_me=True)["labels"])
        setid = loadmat(base / "setid.mat", squeeze_me=True)
        ids = np.concatenate([_ints(setid[key]) for key in _SETS[protocol][split]])
        bad_ids = len(ids) and (ids.min() < 1 or ids.max() > len(labels))
        if labels.min() < 1 or labels.max() > 102 or bad_ids:
            raise ValueError(
                f"flowers102: labels must be 1..102 and ids 1..{len(labels)} in {base}")
        super().__init__(base / "jpg", [f"image_{i:05d}.jpg" for i in ids], labels[ids - 1] - 1,
                         list(_TVFlowers102.classes), transform, split)
        self.protocol = protocol
