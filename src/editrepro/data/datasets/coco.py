"""COCO 2017 object detection (the ``instances_{train,val}2017.json`` files), read with pycocotools.

Items are ``(image, target)`` with the boxes in absolute pixels, XYXY, and the labels contiguous
class indices (categories sorted by COCO id; ``category_ids[k]`` is the COCO id of label k), ready
for torchvision's detectors and for a joint ``torchvision.transforms.v2`` transform
(``editrepro.data.det_transforms``). As torchvision's detection references do, crowd annotations
(``iscrowd=1``) are left out of the targets (COCOeval treats them as ignore regions) and boxes are
clipped to the image; the training split skips images without a non-crowd box (mmdetection's
``filter_empty_gt``), the validation split keeps every image (they all count for evaluation).

The annotation file is checked when the reader is built, before any training step, and every
problem of a kind is reported at once (the first few, and a count): a file that is not JSON (its
line and column), entries without the fields a detector needs, image entries whose file is not in
the image folder (one directory listing, not a stat per file), boxes with a negative width or
height, category ids that the file does not define, annotations of images it does not list, and
duplicate ids. Boxes with zero width or height, or outside their image, cannot be trained on and
are left out with one warning naming them: COCO's own train2017 has two (annotations 918 and
2206849, zero height); more than 0.1% of the annotations is an error.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from ._common import LayoutError, find_base, load_rgb, normalise_split

__all__ = ["CocoDetection", "CocoAnnotationError", "load_coco"]

log = logging.getLogger(__name__)

SHOWN = 5  # problems of a kind listed in a message; the rest are counted


class CocoAnnotationError(ValueError):
    """A COCO annotation file that cannot be read or trained on. ``path`` is the file; the message
    names it, the offending image and annotation ids, and what was expected."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path, self.problems = Path(path), list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"coco: {self.path} cannot be used:\n{listed}")


class _Problems:
    """Problems collected by kind; each kind is reported as its count and its first few cases."""

    def __init__(self):
        self.kinds: dict[str, list[str]] = {}

    def add(self, kind: str, case: str) -> None:
        self.kinds.setdefault(kind, []).append(case)

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def lines(self) -> list[str]:
        out = []
        for kind, cases in self.kinds.items():
            more = f"; ... and {len(cases) - SHOWN} more" if len(cases) > SHOWN else ""
            n = len(cases)
            out.append(f"{kind}, {n} case{'s' if n != 1 else ''}: {'; '.join(cases[:SHOWN])}{more}")
        return out

    def raise_if_any(self, path: Path) -> None:
        if self.kinds:
            raise CocoAnnotationError(path, self.lines())


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _fmt_box(bbox: Any) -> str:
    if isinstance(bbox, list) and all(_is_number(v) for v in bbox):
        return "[" + ", ".join(f"{v:g}" for v in bbox) + "]"
    return json.dumps(bbox)[:80]


def _read_json(path: Path) -> dict:
    """The parsed annotation file; ``CocoAnnotationError`` (file, line, column) if not JSON."""
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as e:
        raise CocoAnnotationError(path, [
            f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno} (character {e.pos})"
        ]) from None
    except UnicodeDecodeError as e:
        raise CocoAnnotationError(path, [f"not a UTF-8 JSON file: {e}"]) from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        got = (f"keys {sorted(data)[:10]}" if isinstance(data, dict)
               else f"a JSON {type(data).__name__}")
        raise CocoAnnotationError(path, [
            "expected a COCO instances file: a JSON object with the lists 'images', "
            f"'annotations' and 'categories'; got {got}"])
    return data


def load_coco(ann_file: str | Path, data: dict | None = None):
    """A ``pycocotools.coco.COCO`` of ``ann_file`` (or of its already parsed ``data``), its
    prints silenced."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = _read_json(Path(ann_file)) if data is None else data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _duplicates(ids: list[int]) -> list[int]:
    return [i for i, n in Counter(ids).items() if n > 1]


def _check_categories(cats: list, problems: _Problems) -> None:
    for n, c in enumerate(cats):
        if not (isinstance(c, dict) and _is_int(c.get("id")) and isinstance(c.get("name"), str)):
            problems.add("categories entries without an integer 'id' and a string 'name'",
                         f"entry {n}: {json.dumps(c)[:80]}")
    ids = [c["id"] for c in cats if isinstance(c, dict) and _is_int(c.get("id"))]
    for i in _duplicates(ids):
        problems.add("category ids given more than once", f"category {i}")
    if not cats:
        problems.add("empty 'categories' list", "the file defines no category")


def _check_images(images: list, problems: _Problems) -> None:
    for n, im in enumerate(images):
        if not isinstance(im, dict) or not _is_int(im.get("id")):
            problems.add("images entries without an integer 'id'",
                         f"entry {n}: {json.dumps(im)[:80]}")
            continue
        if not (isinstance(im.get("file_name"), str) and im["file_name"]):
            problems.add("images entries without a 'file_name'", f"image {im['id']}")
        h, w = im.get("height"), im.get("width")
        if not (_is_int(h) and _is_int(w) and h > 0 and w > 0):
            problems.add("images entries without a positive integer 'height' and 'width'",
                         f"image {im['id']}: height {h!r}, width {w!r}")
    ids = [im["id"] for im in images if isinstance(im, dict) and _is_int(im.get("id"))]
    for i in _duplicates(ids):
        problems.add("image ids given more than once", f"image {i}")


def _check_files(images: list[dict], image_dir: Path, problems: _Problems) -> None:
    """Each entry's file is in ``image_dir``: one listing (COCO train has 118k images)."""
    with os.scandir(image_dir) as it:
        present = {e.name for e in it}
    for im in images:
        name = im["file_name"]
        found = name in present if "/" not in name else (image_dir / name).is_file()
        if not found:
            problems.add(f"image entries whose file is not in {image_dir}",
                         f"image {im['id']} ({name})")


def _check_annotations(anns: list, image_ids: set, cat_ids: list[int],
                       problems: _Problems) -> np.ndarray:
    """Check every annotation; returns their boxes as an (N, 4) float64 array of [x, y, w, h]."""
    known_cats = set(cat_ids)
    boxes = np.zeros((len(anns), 4), np.float64)
    for n, a in enumerate(anns):
        if not isinstance(a, dict) or not _is_int(a.get("id")):
            problems.add("annotations without an integer 'id'", f"entry {n}: {json.dumps(a)[:80]}")
            continue
        aid, img, cat, bbox = a["id"], a.get("image_id"), a.get("category_id"), a.get("bbox")
        if not _is_int(img) or img not in image_ids:
            problems.add("annotations whose image_id has no entry in 'images'",
                         f"annotation {aid}: image_id {img!r}")
        if not _is_int(cat) or cat not in known_cats:
            problems.add(f"annotations whose category_id is not among the file's categories "
                         f"(known ids: {', '.join(map(str, cat_ids))})",
                         f"annotation {aid} (image {img}): category_id {cat!r}")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            problems.add("annotations without a 'bbox' of four finite numbers "
                         "[x, y, width, height]",
                         f"annotation {aid} (image {img}): bbox {_fmt_box(bbox)}")
            continue
        if bbox[2] < 0 or bbox[3] < 0:
            problems.add("boxes with a negative width or height (COCO's bbox is "
                         "[x, y, width, height])",
                         f"annotation {aid} (image {img}): bbox {_fmt_box(bbox)}")
        boxes[n] = bbox
    ids = [a["id"] for a in anns if isinstance(a, dict) and _is_int(a.get("id"))]
    for i in _duplicates(ids):
        problems.add("annotation ids given more than once", f"annotation {i}")
    return boxes


class CocoDetection(Dataset):
    """COCO 2017 detection: ``(image, target)``, or ``transform(image, target)`` with a transform.

    Without a transform, image is a ``tv_tensors.Image`` (uint8, 3 x H x W, RGB) and target
    ``{"boxes": tv_tensors.BoundingBoxes (n, 4) float32 XYXY in pixels, canvas (H, W); "labels":
    int64 (n,) in 0..num_classes-1; "image_id": int}``. Attributes: ``num_classes``, ``classes``
    (names), ``category_ids`` (COCO id of each label), ``image_ids`` (of the items, in order),
    ``coco`` (the ``pycocotools`` COCO of the annotation file, for COCOeval), ``ann_file``,
    ``images_dir``, ``skipped`` (image entries without an item: train images without a box),
    ``crowd_annotations`` (their count in the file); ``path(i)`` is item i's image file.

    Boxes, labels and file names are kept in flat arrays, so items never touch the COCO object's
    Python dicts (DataLoader workers do not copy them on write), and a pickled reader (spawned
    workers) leaves the COCO object out; ``coco`` reloads it on first use there.
    """

    LAYOUT = """
        root/
            train2017/000000000009.jpg ...
            val2017/000000000139.jpg ...
            annotations/instances_train2017.json
            annotations/instances_val2017.json
                (COCO "instances" files: lists of images, annotations and categories;
                 bbox = [x, y, width, height] in pixels)
    """

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None):
        self.split = normalise_split("coco", split, test_alias=False)
        sub = f"{self.split}2017"
        base = find_base("coco", root, (".", "coco"),
                         lambda d: (d / sub).is_dir() or (d / "annotations").is_dir(), self.LAYOUT)
        self.root, self.transform = base, transform
        self.images_dir = base / sub
        self.ann_file = base / "annotations" / f"instances_{sub}.json"
        if not self.images_dir.is_dir():
            raise LayoutError("coco", base, f"no {sub}/ image folder", self.LAYOUT)
        if not self.ann_file.is_file():
            raise LayoutError("coco", base, f"no annotation file annotations/{self.ann_file.name}",
                              self.LAYOUT)
        data = _read_json(self.ann_file)
        self._build(data)
        self._coco = load_coco(self.ann_file, data)

    # ------------------------------------------------------------------------------ checking

    def _build(self, data: dict) -> None:
        path = self.ann_file
        cats, images, anns = data["categories"], data["images"], data["annotations"]
        problems = _Problems()
        _check_categories(cats, problems)
        _check_images(images, problems)
        problems.raise_if_any(path)  # what follows needs well-formed images and categories
        _check_files(images, self.images_dir, problems)

        cats = sorted(cats, key=lambda c: c["id"])
        self.category_ids = [c["id"] for c in cats]
        self.classes = [c["name"] for c in cats]
        label_of = {c: k for k, c in enumerate(self.category_ids)}
        images = sorted(images, key=lambda im: im["id"])
        row_of = {im["id"]: r for r, im in enumerate(images)}

        xywh = _check_annotations(anns, set(row_of), self.category_ids, problems)
        problems.raise_if_any(path)

        n = len(anns)
        rows = np.fromiter((row_of[a["image_id"]] for a in anns), np.int64, n)
        labels = np.fromiter((label_of[a["category_id"]] for a in anns), np.int64, n)
        crowd = np.fromiter((bool(a.get("iscrowd", 0)) for a in anns), bool, n)
        sizes = np.array([(im["height"], im["width"]) for im in images], np.int64).reshape(-1, 2)
        # XYXY, clipped to the image (as torchvision's references do)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        hw = sizes[rows].astype(np.float64)
        np.clip(xyxy[:, 0::2], 0, hw[:, 1:2], out=xyxy[:, 0::2])
        np.clip(xyxy[:, 1::2], 0, hw[:, 0:1], out=xyxy[:, 1::2])
        empty = (xyxy[:, 2] <= xyxy[:, 0]) | (xyxy[:, 3] <= xyxy[:, 1])
        self._warn_empty_boxes(anns, xywh, np.flatnonzero(empty & ~crowd))

        keep = np.flatnonzero(~crowd & ~empty)
        keep = keep[np.argsort(rows[keep], kind="stable")]  # grouped by image, file order within
        counts = np.bincount(rows[keep], minlength=len(images))
        chosen = np.arange(len(images)) if self.split == "val" else np.flatnonzero(counts > 0)
        if len(chosen) == 0:
            raise CocoAnnotationError(path, ["no image has an annotation that is not a crowd "
                                             "region: nothing to train on"])
        starts = np.concatenate([[0], np.cumsum(counts)])
        pieces = [keep[starts[r]:starts[r + 1]] for r in chosen.tolist()]
        order = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
        self._boxes = xyxy[order].astype(np.float32)
        self._labels = labels[order]
        self._offsets = np.concatenate([[0], np.cumsum(counts[chosen])]).astype(np.int64)
        self._sizes = sizes[chosen]
        self.image_ids = [images[r]["id"] for r in chosen.tolist()]
        self._files = pa.array([images[r]["file_name"] for r in chosen.tolist()], pa.string())
        self.skipped = len(images) - len(chosen)
        self.crowd_annotations = int(crowd.sum())

    def _warn_empty_boxes(self, anns: list, xywh: np.ndarray, bad: np.ndarray) -> None:
        """Boxes of no area (or outside their image): left out, named once; too many is an error."""
        if len(bad) == 0:
            return
        cases = [f"annotation {anns[i]['id']} (image {anns[i]['image_id']}): bbox "
                 f"{_fmt_box(anns[i]['bbox'])}" for i in bad[:SHOWN].tolist()]
        more = f"; ... and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        what = (f"{len(bad)} box{'es' if len(bad) != 1 else ''} of zero width or height, or "
                f"outside the image: "
                f"{'; '.join(cases)}{more}")
        limit = max(1, math.ceil(0.001 * len(anns)))
        if len(bad) > limit:
            raise CocoAnnotationError(self.ann_file, [
                f"{what} (more than 0.1% of the annotations: a broken file, not a few slips)"])
        log.warning("coco: %s: %s; left out of the targets", self.ann_file, what)

    # ------------------------------------------------------------------------------- reading

    @property
    def num_classes(self) -> int:
        return len(self.category_ids)

    @property
    def coco(self):
        """The ``pycocotools.coco.COCO`` of ``ann_file`` (ground truth for COCOeval)."""
        if self._coco is None:
            self._coco = load_coco(self.ann_file)
        return self._coco

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_coco"] = None  # hundreds of MB for train2017; reloaded where needed
        return state

    def path(self, index: int) -> Path:
        return self.images_dir / self._files[index].as_py()

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int):
        path = self.path(index)
        pil = load_rgb(path)
        h, w = (int(v) for v in self._sizes[index])
        if pil.size != (w, h):
            raise ValueError(f"coco: {path} is {pil.size[0]}x{pil.size[1]} pixels but "
                             f"{self.ann_file.name} gives image {self.image_ids[index]} as {w}x{h} "
                             "(width x height): its boxes would not fit it")
        image = tv_tensors.Image(F.pil_to_tensor(pil))
        start, end = self._offsets[index], self._offsets[index + 1]
        target = {
            "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(self._boxes[start:end].copy()),
                                              format=tv_tensors.BoundingBoxFormat.XYXY,
                                              canvas_size=(h, w)),
            "labels": torch.from_numpy(self._labels[start:end].copy()),
            "image_id": self.image_ids[index],
        }
        if self.transform is not None:
            return self.transform(image, target)
        return image, target

    def __repr__(self) -> str:
        return (f"CocoDetection(root={str(self.root)!r}, split={self.split!r}, images={len(self)}, "
                f"classes={self.num_classes}, transform={self.transform!r})")
