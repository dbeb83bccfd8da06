"""ImageNet-ReaL ("Are we done with ImageNet?", Beyer et al. 2020): reassessed labels of ImageNet-1k val.

``real.json`` (google-research/reassessed-imagenet) is a JSON list with one entry per val image, in
the order of the val file names ``ILSVRC2012_val_00000001.JPEG`` ... (entry ``i`` is image number
``i + 1``), each a list of the class indices a human rater accepted, possibly empty. A top-1
prediction is correct if it is in its image's set; images with an empty set are not scored, as the
paper does. Images are matched to entries by the number in their file name, never by a reader's
order (ImageNet-1k val as class folders is ordered by synset, not by number).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Collection, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["VAL_FILE", "load_real_labels", "val_image_number", "real_label_sets", "real_accuracy"]

VAL_FILE = "ILSVRC2012_val_{:08d}.JPEG"   # image number n (1-based) is ReaL entry n - 1
_VAL_NUMBER = re.compile(r"ILSVRC2012_val_(\d{8})\.[A-Za-z]+")


def load_real_labels(path: Union[str, Path], num_classes: int = 1000) -> List[Tuple[int, ...]]:
    """The entries of a ReaL label file, checked: a JSON list of lists of ints in ``0..num_classes-1``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ReaL labels {path} do not exist (real.json of google-research/reassessed-imagenet)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"ReaL labels {path} are not JSON ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"ReaL labels {path}: expected a JSON list with one list of labels per val image, "
                         f"not a {type(data).__name__}")
    for i, entry in enumerate(data):
        if not (isinstance(entry, list) and all(type(y) is int and 0 <= y < num_classes for y in entry)):
            raise ValueError(f"ReaL labels {path}: entry {i} (image {VAL_FILE.format(i + 1)}) is {entry!r}; each "
                             f"entry must be a list of class indices in 0..{num_classes - 1}")
    return [tuple(entry) for entry in data]


def val_image_number(file: Union[str, Path], what: str = "") -> int:
    """The number ``n`` of an ImageNet-1k val image ``.../ILSVRC2012_val_%08d.JPEG`` (1-based)."""
    match = _VAL_NUMBER.fullmatch(Path(file).name)
    if not match:
        raise ValueError(f"{what or 'ReaL labels'}: val image {file} is not named ILSVRC2012_val_<8 digits>.JPEG, "
                         "so it cannot be matched to its ReaL labels")
    return int(match.group(1))


def real_label_sets(path: Union[str, Path], files: Sequence[Union[str, Path]],
                    num_classes: int = 1000) -> List[Tuple[int, ...]]:
    """The ReaL label set of each of ``files`` (the val set's images, in the order they are scored).

    The label file must have exactly one entry per val image (50,000 for the full set) and every file
    must carry its number (``ILSVRC2012_val_%08d``), each once; anything else is a ``ValueError``
    naming the label file (and the image).
    """
    labels = load_real_labels(path, num_classes)
    if len(labels) != len(files):
        raise ValueError(f"ReaL labels {path} have {len(labels)} entries but the validation set has {len(files)} "
                         f"images (the full ImageNet-1k val set: 50,000); they must be the labels of this set")
    what = f"ReaL labels {path}"
    sets, seen = [], {}
    for file in files:
        n = val_image_number(file, what)
        if not 1 <= n <= len(labels):
            raise ValueError(f"{what}: val image {file} is number {n}, outside the file's 1..{len(labels)}")
        if n in seen:
            raise ValueError(f"{what}: val images {seen[n]} and {file} both carry number {n}")
        seen[n] = file
        sets.append(labels[n - 1])
    return sets


def real_accuracy(top1: Sequence[int], label_sets: Sequence[Collection[int]],
                  skip: Optional[Collection[int]] = None) -> Dict[str, Optional[float]]:
    """``top1_real`` (%, None when nothing is scored) and ``real_images`` (how many were scored).

    ``top1[i]`` is the top-1 prediction for the image whose ReaL labels are ``label_sets[i]``; images
    with no ReaL label, and the indices in ``skip`` (unreadable files replaced by another), are not scored.
    """
    if len(top1) != len(label_sets):
        raise ValueError(f"{len(top1)} predictions for {len(label_sets)} images")
    skip = set(skip or ())
    scored = correct = 0
    for i, (pred, real) in enumerate(zip(top1, label_sets)):
        if not real or i in skip:
            continue
        scored += 1
        correct += int(pred) in real
    return {"top1_real": 100.0 * correct / scored if scored else None, "real_images": scored}
