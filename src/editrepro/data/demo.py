"""Small, learnable demo datasets written in seconds, in exactly the layouts the readers read.

``generate_demo_data(root)`` (or ``editrepro demo-data --out data/demo``) writes::

    root/
        imagenet1k/{train,val}/n0XXXXXXX/*.JPEG   10 classes, 60 + 20 images each; val images are
                                                   ILSVRC2012_val_00000001.JPEG .. _00000200 (numbers
                                                   dealt across classes, as the real ones are; ReaL's
                                                   entries follow the numbers)
        imagenet1k/real.json                       ImageNet-ReaL labels of that val set (one list
                                                   per image number: some empty, some multi-label,
                                                   some without the original label)
        imagenetv2-matched-frequency-format-val/   ImageNet-V2 stand-in: class-index folders 0..9
                                                   of 10 images each (<sha1>.jpeg, as released)
        imagenet21k/n0XXXXXXX/*.JPEG              30 synsets of 8..40 images: the raw tree
                                                   that the ImageNet-21k cleaning reads
        cifar-10-batches-py/                       data_batch_1..5, test_batch, batches.meta
        cifar-100-python/                          train, test, meta (fine and coarse labels)
        flowers-102/                               jpg/image_00001.jpg ..., imagelabels.mat,
                                                   setid.mat (102 classes)
        dtd/dtd/                                   images/<47 classes>/,
                                                   labels/{train,val,test}{1..10}.txt
        caltech256/256_ObjectCategories/           001.ak47 .. 008.bathtub (62..66 images
                                                   each) and 257.clutter
        ADEChallengeData2016/                      {images,annotations}/{training,validation}/,
                                                   objectInfo150.txt
        coco/                                      {train,val}2017/000000000042.jpg ...,
                                                   annotations/instances_{train,val}2017.json
                                                   (4 categories, 64 + 24 images; 62 of
                                                   the 64 have a box to train on)
        DONE                                       written last: the options and their hash

and returns the root to pass to ``build_dataset`` for each name (``demo_roots``). Every reader reads
its demo set with its default options; ``imagenet21k`` is the raw class-folder tree, which the
ImageNet-21k cleaning turns into the manifests its reader reads.

**Learnable classes.** Each class is a (shape, stripe texture, hue) combination drawn at a random
position, size and rotation on a noisy background (``editrepro.data.synthetic``); segmentation
masks are exactly the painted shapes and regions. A nearest-class-mean classifier on 16 x 16
pixels is far above chance on the ImageNet-1k-like validation set (tests/data/test_demo.py).
The ImageNet-1k-like set has one grayscale JPEG and Caltech-256 one grayscale and one CMYK, as
the real sets do.

**COCO-like detection.** Real COCO category ids (1 person, 3 car, 18 dog, 44 bottle: not
contiguous, as COCO's are), each a shape and colour; every image has one to three large objects
(extents of about 25% to 60% of the shorter side) and each box is the tight box of the object's pixels
left visible by the objects painted after it (an object with fewer than 60 visible pixels gets no
annotation). As in the real set, image ids are sparse and the ``images`` list is not sorted,
two training images have an ``iscrowd`` region (a cluster of small shapes of one category; one of
the two has nothing else), one training image and one validation image have no object at all,
``area`` is the visible pixel count and ``segmentation`` the box as a polygon.

**ImageNet-21k, scaled down 25x.** The reference cleaning drops every class with 500 images or
fewer and takes the first 50 (in sorted ``ls`` order) of each kept class as validation; the demo
tree is sized for threshold 20 and 2 validation images (``DemoSizes.imagenet21k_threshold``,
``imagenet21k_val_per_class``), with classes of 8..40 images including several of exactly 20 and 21;
``DemoSizes().imagenet21k_expected()`` gives the counts the cleaning should find. File names are
``<synset>_<id>.JPEG`` with unpadded ids, so sorted ``ls`` order differs from numeric order as in
the real data.

**Deterministic and idempotent.** The same seed and options give the same bytes (fixed JPEG
quality, no timestamps: the ``.mat`` header's creation date is replaced by a fixed text) for the
same NumPy and Pillow versions. Each dataset is written to a hidden staging folder and renamed
into place, and ``DONE`` is written last; a call that finds ``DONE`` with the same options'
hash returns at once. A different seed or size rewrites the sets.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..fileio import atomic_write_text
from .synthetic import class_style, render_image, render_objects, render_scene

__all__ = ["DemoSizes", "generate_demo_data", "demo_roots", "ade20k_demo_ids", "coco_demo_ids",
           "demo_real_labels", "DEMO_VERSION", "COCO_CATEGORIES"]

log = logging.getLogger(__name__)

DEMO_VERSION = 3  # bump whenever the generator's output changes, so old sets are rewritten
JPEG_QUALITY = 90

# stable, non-seeded numbers per dataset, so a seed changes pixels but never names or counts
_SALT = {"imagenet1k": 1, "imagenet21k": 2, "cifar10": 3, "cifar100": 4, "flowers102": 5, "dtd": 6,
         "caltech256": 7, "ade20k": 8, "coco": 9, "imagenet_v2": 10}


# real class names where the demo set keeps them
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")

DTD_CLASSES = (
    "banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked",
    "crosshatched", "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly", "gauzy",
    "grid", "grooved", "honeycombed", "interlaced", "knitted", "lacelike", "lined", "marbled",
    "matted", "meshed", "paisley", "perforated", "pitted", "pleated", "polka-dotted", "porous",
    "potholed", "scaly", "smeared", "spiralled", "sprinkled", "stained", "stratified", "striped",
    "studded", "swirly", "veined", "waffled", "woven", "wrinkled", "zigzagged")

# real COCO categories (id, name, supercategory), ids as COCO numbers them (with its gaps)
COCO_CATEGORIES = ((1, "person", "person"), (3, "car", "vehicle"), (18, "dog", "animal"),
                   (44, "bottle", "kitchen"), (62, "chair", "furniture"), (72, "tv", "electronic"),
                   (85, "clock", "indoor"), (90, "toothbrush", "indoor"))
COCO_MIN_VISIBLE = 60  # an object with fewer visible pixels gets no annotation
# image index (in id order) -> what is special about it: no object; a crowd region besides one
# to three objects; a crowd region and nothing else (the others: one to three objects)
_COCO_SPECIAL = {"train": {1: "empty", 3: "crowd", 6: "crowd only"}, "val": {1: "empty"}}

CALTECH256_FIRST = ("ak47", "american-flag", "backpack", "baseball-bat", "baseball-glove",
                    "basketball-hoop", "bat", "bathtub", "bear", "beer-mug", "billiards",
                    "binoculars")


@dataclass(frozen=True)
class DemoSizes:
    """How much the demo holds. Image sides are drawn uniformly in the ``*_size`` ranges (both ends
    included, height and width apart, so most images are not square)."""

    image_size: tuple[int, int] = (48, 80)
    imagenet1k_classes: int = 10
    imagenet1k_train_per_class: int = 60
    imagenet1k_val_per_class: int = 20
    imagenet_v2_per_class: int = 10  # as ImageNet-V2 matched frequency: 10 per class
    # ImageNet-21k-like raw tree, scaled down 25x: threshold 500 -> 20, validation 50 -> 2
    imagenet21k_class_sizes: tuple[int, ...] = (
        31, 8, 20, 40, 19, 21, 12, 25, 20, 33, 16, 22, 10, 28, 21, 38, 20, 18, 35, 14,
        26, 21, 9, 30, 20, 24, 15, 36, 22, 27)
    imagenet21k_threshold: int = 20
    imagenet21k_val_per_class: int = 2
    imagenet21k_size: tuple[int, int] = (32, 56)
    cifar10_train_per_class: int = 50  # spread over the five data batches
    cifar10_test_per_class: int = 20
    cifar100_train_per_class: int = 5
    cifar100_test_per_class: int = 2
    flowers102_per_class: tuple[int, int, int] = (1, 1, 2)  # trnid, valid, tstid
    dtd_per_class: tuple[int, int, int] = (2, 2, 2)  # train, val, test of each partition
    caltech256_classes: int = 8  # the first 8 real categories, 001.ak47 .. 008.bathtub
    caltech256_per_class: tuple[int, int] = (62, 66)  # > 60: the default 60-per-class split works
    caltech256_clutter: int = 12
    ade20k_train: int = 60
    ade20k_val: int = 20
    ade20k_size: tuple[int, int] = (64, 96)
    ade20k_classes: int = 12  # ids used, spread over 1..150 (both ends); the first 4 are "stuff"
    coco_train: int = 64
    coco_val: int = 24
    coco_size: tuple[int, int] = (96, 128)
    coco_categories: int = 4  # the first of COCO_CATEGORIES

    def __post_init__(self):
        for name in ("image_size", "imagenet21k_size", "ade20k_size", "coco_size"):
            lo, hi = getattr(self, name)
            if not 8 <= lo <= hi:
                raise ValueError(f"{name} must be (lo, hi) with 8 <= lo <= hi, not {(lo, hi)}")
        if not 1 <= self.caltech256_classes <= len(CALTECH256_FIRST):
            raise ValueError(f"caltech256_classes must be 1..{len(CALTECH256_FIRST)}, "
                             f"not {self.caltech256_classes}")
        if self.ade20k_classes < 5:
            raise ValueError("ade20k_classes must be at least 5 (four stuff classes and a thing)")
        if min(self.imagenet21k_class_sizes, default=0) < 1:
            raise ValueError("imagenet21k_class_sizes must be positive")
        if self.coco_size[0] < 32:
            raise ValueError(f"coco_size must start at 32 or more, not {self.coco_size}")
        if not 1 <= self.coco_categories <= len(COCO_CATEGORIES):
            raise ValueError(f"coco_categories must be 1..{len(COCO_CATEGORIES)}, "
                             f"not {self.coco_categories}")
        if self.coco_train < 1 or self.coco_val < 1:
            raise ValueError("coco_train and coco_val must be at least 1")

    def imagenet21k_expected(self) -> dict[str, int]:
        """What the reference cleaning rule (keep classes with more than ``threshold`` images, first
        ``val_per_class`` as validation) should find in the demo tree."""
        kept = [n for n in self.imagenet21k_class_sizes if n > self.imagenet21k_threshold]
        val = self.imagenet21k_val_per_class * len(kept)
        dropped = len(self.imagenet21k_class_sizes) - len(kept)
        return {"classes": len(kept), "dropped_classes": dropped, "train": sum(kept) - val,
                "val": val}


def _rng(seed: int, dataset: str, *index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SALT[dataset], *index])


def _stable_permutation(n: int, *key) -> np.ndarray:
    """A permutation of range(n) fixed by ``key`` alone (sha256 order), so names and splits do
    not depend on the seed or on NumPy's random streams."""
    digests = [hashlib.sha256(repr((*key, i)).encode()).digest() for i in range(n)]
    return np.array(sorted(range(n), key=digests.__getitem__), dtype=np.int64)


def _size(rng: np.random.Generator, lo_hi: tuple[int, int]) -> tuple[int, int]:
    lo, hi = lo_hi
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


def _image(rng: np.random.Generator, lo_hi: tuple[int, int], style) -> np.ndarray:
    return render_image(rng, *_size(rng, lo_hi), style)


def _save_jpeg(array: np.ndarray, path: Path, mode: str | None = None) -> None:
    img = Image.fromarray(array)
    if mode is not None:
        img = img.convert(mode)
    img.save(path, format="JPEG", quality=JPEG_QUALITY)


def _synsets(n: int, first: int, step: int) -> list[str]:
    return [f"n{first + step * k:08d}" for k in range(n)]  # increasing: label k = class k


# ------------------------------------------------------------------------------------ writers

def _val_numbers(z: DemoSizes) -> np.ndarray:
    """The ``ILSVRC2012_val_%08d`` number of val image ``j`` of class ``k`` (index ``k * per_class + j``): 1..N
    dealt across the classes in a fixed order, as the real numbers are (synset-folder order is not number order)."""
    return _stable_permutation(z.imagenet1k_classes * z.imagenet1k_val_per_class, "imagenet1k", "val") + 1


def _write_imagenet1k(out: Path, seed: int, z: DemoSizes) -> None:
    synsets = _synsets(z.imagenet1k_classes, 1440764, 104729)
    numbers = _val_numbers(z)
    for split, per_class, offset in (("train", z.imagenet1k_train_per_class, 0),
                                     ("val", z.imagenet1k_val_per_class, 10_000)):
        for k, syn in enumerate(synsets):
            d = out / split / syn
            d.mkdir(parents=True)
            style = class_style(k, len(synsets))
            for j in range(per_class):
                if split == "train":
                    name = f"{syn}_{j + 1}.JPEG"
                else:
                    name = f"ILSVRC2012_val_{numbers[k * per_class + j]:08d}.JPEG"
                gray = (split, k, j) == ("train", 0, 0)  # one grayscale JPEG, as the real set has
                image = _image(_rng(seed, "imagenet1k", k, offset + j), z.image_size, style)
                _save_jpeg(image, d / name, "L" if gray else None)
    (out / "real.json").write_text(json.dumps(demo_real_labels(z)))


def demo_real_labels(z: DemoSizes) -> list[list[int]]:
    """The demo's ImageNet-ReaL labels: entry ``i`` for val image number ``i + 1``. Fixed by the sizes alone:
    of each class's val images (``j = 0, 1, ...`` as generated), every 10th from the 3rd has no label (ReaL leaves some
    unlabelled), from the 7th two (its class and the next), from the 9th only the next class (the original
    label judged wrong); the rest their own class."""
    n, per_class = z.imagenet1k_classes, z.imagenet1k_val_per_class
    labels: list[list[int]] = [[] for _ in range(n * per_class)]
    for index, number in enumerate(_val_numbers(z).tolist()):
        k, j = divmod(index, per_class)
        labels[number - 1] = {3: [], 7: sorted({k, (k + 1) % n}), 9: [(k + 1) % n]}.get((j + 1) % 10, [k])
    return labels


def _write_imagenet_v2(out: Path, seed: int, z: DemoSizes) -> None:
    """ImageNet-V2's layout: folder ``k`` (the class index, not a synset) of images of demo class ``k``."""
    n = z.imagenet1k_classes
    for k in range(n):
        d = out / str(k)
        d.mkdir()
        for j in range(z.imagenet_v2_per_class):
            image = _image(_rng(seed, "imagenet_v2", k, j), z.image_size, class_style(k, n))
            _save_jpeg(image, d / f"{hashlib.sha1(repr(('imagenet_v2', k, j)).encode()).hexdigest()}.jpeg")


def _write_imagenet21k(out: Path, seed: int, z: DemoSizes) -> None:
    n = len(z.imagenet21k_class_sizes)
    for k, (syn, count) in enumerate(zip(_synsets(n, 4475, 98711), z.imagenet21k_class_sizes)):
        d = out / syn
        d.mkdir(parents=True)
        style = class_style(k, n)
        for j in range(count):
            image_id = (j * 7919 + 13 * k) % 20000 + 1  # unpadded: ls order is not numeric order
            image = _image(_rng(seed, "imagenet21k", k, j), z.imagenet21k_size, style)
            _save_jpeg(image, d / f"{syn}_{image_id}.JPEG")


def _cifar_arrays(seed: int, dataset: str, n_classes: int, per_class: int, offset: int):
    """(N, 3072) uint8 rows (R, G, B planes, as CIFAR stores them) and labels, classes mixed."""
    order = _stable_permutation(n_classes * per_class, dataset, offset)
    labels = (order // per_class).tolist()
    data = np.empty((len(order), 3072), np.uint8)
    for i, (y, j) in enumerate(zip(labels, (order % per_class).tolist())):
        image = render_image(_rng(seed, dataset, y, offset + j), 32, 32, class_style(y, n_classes))
        data[i] = image.transpose(2, 0, 1).reshape(-1)
    return data, labels


def _dump(obj: dict, path: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # the originals are Python 2 pickles


def _write_cifar10(out: Path, seed: int, z: DemoSizes) -> None:
    data, labels = _cifar_arrays(seed, "cifar10", 10, z.cifar10_train_per_class, 0)
    for b, idx in enumerate(np.array_split(np.arange(len(labels)), 5), start=1):
        _dump({"batch_label": f"training batch {b} of 5", "labels": [labels[i] for i in idx],
               "data": data[idx], "filenames": [f"demo_{i:05d}.png" for i in idx]},
              out / f"data_batch_{b}")
    data, labels = _cifar_arrays(seed, "cifar10", 10, z.cifar10_test_per_class, 10_000)
    _dump({"batch_label": "testing batch 1 of 1", "labels": labels, "data": data,
           "filenames": [f"demo_test_{i:05d}.png" for i in range(len(labels))]},
          out / "test_batch")
    _dump({"num_cases_per_batch": -(-10 * z.cifar10_train_per_class // 5),
           "label_names": list(CIFAR10_CLASSES), "num_vis": 3072}, out / "batches.meta")


def _write_cifar100(out: Path, seed: int, z: DemoSizes) -> None:
    for name, per_class, offset in (("train", z.cifar100_train_per_class, 0),
                                    ("test", z.cifar100_test_per_class, 10_000)):
        data, labels = _cifar_arrays(seed, "cifar100", 100, per_class, offset)
        _dump({"filenames": [f"demo_{name}_{i:05d}.png" for i in range(len(labels))],
               "batch_label": f"{name}ing batch 1 of 1", "fine_labels": labels,
               "coarse_labels": [y // 5 for y in labels], "data": data}, out / name)
    _dump({"fine_label_names": [f"class_{k:02d}" for k in range(100)],
           "coarse_label_names": [f"superclass_{k:02d}" for k in range(20)]}, out / "meta")


def _savemat(path: Path, arrays: dict) -> None:
    """``scipy.io.savemat`` with the header's creation date replaced: reproducible bytes."""
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, arrays)
    raw = bytearray(buf.getvalue())
    raw[:116] = b"MATLAB 5.0 MAT-file, written by editrepro demo data".ljust(116, b" ")
    path.write_bytes(bytes(raw))


def _write_flowers102(out: Path, seed: int, z: DemoSizes) -> None:
    (out / "jpg").mkdir()
    per_class = sum(z.flowers102_per_class)
    ids = _stable_permutation(102 * per_class, "flowers102") + 1  # image id of (class, j)
    labels = np.zeros(len(ids), np.uint8)
    sets = {"trnid": [], "valid": [], "tstid": []}
    for k in range(102):
        which = [key for key, count in zip(sets, z.flowers102_per_class) for _ in range(count)]
        for j, key in enumerate(which):
            image_id = int(ids[k * per_class + j])
            image = _image(_rng(seed, "flowers102", k, j), z.image_size, class_style(k, 102))
            _save_jpeg(image, out / "jpg" / f"image_{image_id:05d}.jpg")
            labels[image_id - 1] = k + 1
            sets[key].append(image_id)
    _savemat(out / "imagelabels.mat", {"labels": labels[None, :]})
    _savemat(out / "setid.mat",
             {key: np.array(sorted(ids), np.uint16)[None, :] for key, ids in sets.items()})


def _write_dtd(out: Path, seed: int, z: DemoSizes) -> None:
    data = out / "dtd"
    (data / "labels").mkdir(parents=True)
    per_class = sum(z.dtd_per_class)
    for k, cls in enumerate(DTD_CLASSES):
        (data / "images" / cls).mkdir(parents=True)
        for j in range(per_class):
            image = _image(_rng(seed, "dtd", k, j), z.image_size, class_style(k, len(DTD_CLASSES)))
            _save_jpeg(image, data / "images" / cls / f"{cls}_{j + 1:04d}.jpg")
    bounds = np.cumsum((0,) + tuple(z.dtd_per_class))
    for p in range(1, 11):  # the ten partitions: each class's images dealt anew
        lists = {"train": [], "val": [], "test": []}
        for k, cls in enumerate(DTD_CLASSES):
            order = _stable_permutation(per_class, "dtd", p, k)
            for s, name in enumerate(lists):
                chosen = order[bounds[s]:bounds[s + 1]]
                lists[name] += sorted(f"{cls}/{cls}_{j + 1:04d}.jpg" for j in chosen)
        for name, lines in lists.items():
            (data / "labels" / f"{name}{p}.txt").write_text("".join(f"{x}\n" for x in lines))


def _write_caltech256(out: Path, seed: int, z: DemoSizes) -> None:
    cats = out / "256_ObjectCategories"
    n = z.caltech256_classes
    lo, hi = z.caltech256_per_class
    folders = [(f"{k + 1:03d}.{name}", k) for k, name in enumerate(CALTECH256_FIRST[:n])]
    for folder, k in folders + [("257.clutter", None)]:
        (cats / folder).mkdir(parents=True)
        count = z.caltech256_clutter if k is None else lo + k % (hi - lo + 1)
        for j in range(count):
            rng = _rng(seed, "caltech256", 999 if k is None else k, j)
            image = _image(rng, z.image_size, None if k is None else class_style(k, n))
            # one grayscale and one CMYK JPEG: the real set has both, and readers must give RGB
            mode = {(0, 0): "L", (1, 0): "CMYK"}.get((k, j))
            _save_jpeg(image, cats / folder / f"{folder[:3]}_{j + 1:04d}.jpg", mode)


def ade20k_demo_ids(z: DemoSizes) -> list[int]:
    """The ADE20K class ids (1..150) the demo paints; the first four are "stuff"."""
    return sorted({int(round(x)) for x in np.linspace(1, 150, min(z.ade20k_classes, 150))})


def _write_ade20k(out: Path, seed: int, z: DemoSizes) -> None:
    ids = ade20k_demo_ids(z)
    for split, sub, prefix, count in (("train", "training", "ADE_train", z.ade20k_train),
                                      ("val", "validation", "ADE_val", z.ade20k_val)):
        (out / "images" / sub).mkdir(parents=True)
        (out / "annotations" / sub).mkdir(parents=True)
        for j in range(count):
            rng = _rng(seed, "ade20k", 0 if split == "train" else 1, j)
            img, mask = render_scene(rng, *_size(rng, z.ade20k_size), ids)
            _save_jpeg(img, out / "images" / sub / f"{prefix}_{j + 1:08d}.jpg")
            Image.fromarray(mask).save(out / "annotations" / sub / f"{prefix}_{j + 1:08d}.png")
    rows = ["Idx\tRatio\tTrain\tVal\tName"]
    rows += [f"{i}\t0\t0\t0\tdemo_class_{i:03d}" for i in range(1, 151)]
    (out / "objectInfo150.txt").write_text("\n".join(rows) + "\n")


def coco_demo_ids(z: DemoSizes) -> dict[str, list[int]]:
    """The demo's COCO image ids of each split, increasing: sparse, and train and val
    interleaved (as COCO's are), fixed by the sizes alone."""
    total = z.coco_train + z.coco_val
    ids = 8 + np.cumsum([1 + (t * 7919) % 23 for t in range(total)])
    order = _stable_permutation(total, "coco")
    return {"val": sorted(ids[order[:z.coco_val]].tolist()),
            "train": sorted(ids[order[z.coco_val:]].tolist())}


def _tight_box(mask: np.ndarray) -> list[float]:
    """COCO's [x, y, width, height] of the pixels of ``mask`` (pixel edges, not centres)."""
    ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    x0, y0 = float(xs[0]), float(ys[0])
    return [x0, y0, float(xs[-1] + 1) - x0, float(ys[-1] + 1) - y0]


def _write_coco(out: Path, seed: int, z: DemoSizes) -> None:
    cats = COCO_CATEGORIES[:z.coco_categories]
    styles = [class_style(k, len(cats)) for k in range(len(cats))]
    (out / "annotations").mkdir(parents=True)
    ids = coco_demo_ids(z)
    for s, (split, first_ann) in enumerate((("train", 1001), ("val", 900001))):
        folder = out / f"{split}2017"
        folder.mkdir()
        images, anns = [], []
        for j, image_id in enumerate(ids[split]):
            rng = _rng(seed, "coco", s, j)
            h, w = _size(rng, z.coco_size)
            special = _COCO_SPECIAL[split].get(j, "")
            count = 0 if special in ("empty", "crowd only") else int(rng.integers(1, 4))
            classes = rng.integers(len(cats), size=count).tolist()
            crowd = int(rng.integers(len(cats))) if special.startswith("crowd") else None
            img, visible, crowd_pixels = render_objects(
                rng, h, w, [styles[k] for k in classes], None if crowd is None else styles[crowd])
            name = f"{image_id:012d}.jpg"
            _save_jpeg(img, folder / name)
            images.append({"license": 1, "file_name": name, "height": h, "width": w,
                           "id": image_id})
            objects = [(k, m, 0) for k, m in zip(classes, visible)]
            if crowd is not None:
                objects.append((crowd, crowd_pixels, 1))
            for k, mask, iscrowd in objects:
                area = int(mask.sum())
                if area < COCO_MIN_VISIBLE:
                    continue
                x, y, bw, bh = box = _tight_box(mask)
                anns.append({"id": first_ann + len(anns), "image_id": image_id,
                             "category_id": cats[k][0], "bbox": box, "area": float(area),
                             "iscrowd": iscrowd,
                             "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]})
        images = [images[i] for i in _stable_permutation(len(images), "coco", split)]
        doc = {"info": {"description": "editrepro demo data: a small COCO-2017-like detection set",
                        "url": "", "version": "1.0", "year": 2017, "contributor": "editrepro",
                        "date_created": "2017/09/01"},
               "licenses": [{"id": 1, "name": "generated demo data", "url": ""}],
               "images": images, "annotations": anns,
               "categories": [{"id": i, "name": n, "supercategory": sup} for i, n, sup in cats]}
        (out / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(doc))


# ------------------------------------------------------------------------------ orchestration

# name -> (folder it owns under the demo root, writer, build_dataset's root relative to the demo
# root)
_SETS: dict[str, tuple[str, Callable[[Path, int, DemoSizes], None], str | None]] = {
    "imagenet1k": ("imagenet1k", _write_imagenet1k, "imagenet1k"),
    "imagenet21k": ("imagenet21k", _write_imagenet21k, "imagenet21k"),
    "cifar10": ("cifar-10-batches-py", _write_cifar10, "."),
    "cifar100": ("cifar-100-python", _write_cifar100, "."),
    "flowers102": ("flowers-102", _write_flowers102, "."),
    "dtd": ("dtd", _write_dtd, "."),
    "caltech256": ("caltech256", _write_caltech256, "."),
    "ade20k": ("ADEChallengeData2016", _write_ade20k, "."),
    "coco": ("coco", _write_coco, "coco"),
    # not a build_dataset name (no root): ImageNet-V2, read beside ImageNet-1k val by `evaluate --imagenet-v2`
    "imagenet_v2": ("imagenetv2-matched-frequency-format-val", _write_imagenet_v2, None),
}
MARKER = "DONE"


def demo_roots(root: str | Path) -> dict[str, Path]:
    """Dataset name -> the ``root`` argument of ``build_dataset`` for the demo under ``root``."""
    root = Path(root)
    return {name: (root / rel if rel != "." else root) for name, (_, _, rel) in _SETS.items() if rel is not None}


def _options(seed: int, sizes: DemoSizes) -> dict:
    opts = {"version": DEMO_VERSION, "seed": int(seed), "sizes": dataclasses.asdict(sizes)}
    opts["hash"] = hashlib.sha256(json.dumps(opts, sort_keys=True).encode()).hexdigest()
    return opts


def _publish(root: Path, folder: str, write: Callable[[Path], None]) -> None:
    """Write into a hidden staging folder, then swap it in: a crash never leaves half a set."""
    final = root / folder
    staging = root / f".{folder}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write(staging)
        if final.exists():
            old = root / f".{folder}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Staging and replaced folders that a killed run left behind (only ours, by their names)."""
    for folder, _, _ in _SETS.values():
        for stale in [*root.glob(f".{folder}.partial-*"), *root.glob(f".{folder}.old-*")]:
            shutil.rmtree(stale, ignore_errors=True)


def generate_demo_data(root: str | Path, seed: int = 0, *, force: bool = False,
                       **size_options) -> dict[str, Path]:
    """Write every demo set under ``root`` (module docstring) and return ``demo_roots(root)``.

    Args:
        root: output directory (created).
        seed: pixels, positions and noise; names and counts do not depend on it.
        force: rewrite even if ``root/DONE`` says the same options were written.
        size_options: fields of ``DemoSizes``.
    """
    fields = {f.name for f in dataclasses.fields(DemoSizes)}
    unknown = sorted(set(size_options) - fields)
    if unknown:
        raise ValueError(f"unknown demo size option(s) {unknown}; known: {sorted(fields)}")
    sizes = DemoSizes(**{k: tuple(v) if isinstance(v, list) else v
                         for k, v in size_options.items()})
    root = Path(root)
    opts = _options(seed, sizes)
    marker = root / MARKER
    roots = demo_roots(root)
    if not force and marker.is_file() and all((root / f).is_dir() for f, _, _ in _SETS.values()):
        try:
            if json.loads(marker.read_text()).get("hash") == opts["hash"]:
                log.info("demo data already complete in %s (seed %d)", root, seed)
                return roots
        except json.JSONDecodeError:
            pass
    root.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)  # incomplete until every set is in place again
    _remove_leftovers(root)
    t0 = time.perf_counter()
    for name, (folder, write, _) in _SETS.items():
        t = time.perf_counter()
        _publish(root, folder, lambda out, write=write: write(out, seed, sizes))
        log.debug("demo %s written in %.2f s", name, time.perf_counter() - t)
    atomic_write_text(marker, json.dumps(opts, indent=2, sort_keys=True) + "\n")
    log.info("demo data written to %s in %.1f s", root, time.perf_counter() - t0)
    return roots

