"""Every reader on the demo data (written in the real layouts); torchvision cross-checks them."""
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy.io import loadmat
from torch.utils.data import DataLoader

from editrepro.data import (
    DATASETS, LayoutError, build_dataset, build_seg_train_transform, build_train_transform,
)
from editrepro.data.demo import DemoSizes, ade20k_demo_ids
from editrepro.data.det_transforms import build_det_train_transform


def _labels(ds):
    return np.asarray(ds.targets)


def _check_classification(ds, n, num_classes):
    assert len(ds) == n
    assert ds.num_classes == num_classes == len(ds.classes)
    y = _labels(ds)
    assert y.min() >= 0 and y.max() < num_classes
    img, label = ds[len(ds) // 2]
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert isinstance(label, int) and label == y[len(ds) // 2]


# ---------------------------------------------------------------------------------------- ImageNet

def test_imagenet1k(demo):
    z = DemoSizes()
    train = build_dataset("imagenet1k", demo["imagenet1k"], "train")
    val = build_dataset("imagenet1k", demo["imagenet1k"], "val")
    k = z.imagenet1k_classes
    _check_classification(train, k * z.imagenet1k_train_per_class, k)
    _check_classification(val, k * z.imagenet1k_val_per_class, k)
    assert train.classes == sorted(train.classes) == val.classes  # ImageFolder: sorted synsets
    assert all(c.startswith("n") and len(c) == 9 for c in train.classes)
    assert np.bincount(_labels(train)).tolist() == [z.imagenet1k_train_per_class] * k
    # the demo's one grayscale JPEG comes back as RGB
    gray = [i for i in range(len(train)) if Image.open(train.path(i)).mode == "L"]
    assert gray and train[gray[0]][0].mode == "RGB"
    with pytest.raises(ValueError, match="split"):
        build_dataset("imagenet1k", demo["imagenet1k"], "test")  # no labelled test set: no alias


def test_imagenet1k_flat_val_is_explained(tmp_path):
    (tmp_path / "val").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(LayoutError, match="holds images directly; sort them into synset folders"):
        build_dataset("imagenet1k", tmp_path, "val")


def _clean_like_the_reference(tree, out, threshold, val_per_class):
    """A stand-in for the ImageNet-21k cleaning: keep classes with > threshold images, the first
    val_per_class in sorted order are validation; write the manifests the reader reads."""
    rows = {"train": [], "val": []}
    kept = [d for d in sorted(tree.iterdir()) if d.is_dir() and len(list(d.iterdir())) > threshold]
    for label, d in enumerate(kept):
        files = sorted(p.name for p in d.iterdir())
        for i, name in enumerate(files):
            split = "val" if i < val_per_class else "train"
            rows[split].append((f"{d.name}/{name}", label, d.name))
    out.mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        pd.DataFrame(r, columns=["path", "label", "synset"]).to_parquet(out / f"{split}.parquet")
    pd.DataFrame({"label": range(len(kept)), "synset": [d.name for d in kept]}).to_csv(
        out / "classes.tsv", sep="\t", index=False)
    return kept


def test_imagenet21k_reads_the_cleaning_manifests(demo, tmp_path):
    z = DemoSizes()
    tree = demo["imagenet21k"]
    counts = sorted(len(list(d.iterdir())) for d in tree.iterdir())
    assert counts == sorted(z.imagenet21k_class_sizes)
    # the demo tree straddles the scaled threshold, with classes exactly at it and just above
    assert min(counts) < z.imagenet21k_threshold < max(counts)
    assert z.imagenet21k_threshold in counts and z.imagenet21k_threshold + 1 in counts
    kept = _clean_like_the_reference(tree, tmp_path / "clean", z.imagenet21k_threshold,
                                     z.imagenet21k_val_per_class)
    expected = z.imagenet21k_expected()
    assert len(kept) == expected["classes"]

    # manifests beside the images' root: root = the manifest directory, image_root = the tree
    train = build_dataset("imagenet21k", tmp_path / "clean", "train", image_root=tree)
    val = build_dataset("imagenet21k", tmp_path / "clean", "val", image_root=tree)
    _check_classification(train, expected["train"], expected["classes"])
    _check_classification(val, expected["val"], expected["classes"])
    assert train.classes == [d.name for d in kept]
    # the sorted-ls rule: unpadded ids, so the first files are not the numerically smallest
    assert train.path(0).parent.name == train.classes[train.targets[0]]

    # manifest= names a file directly; without classes.tsv the classes come from the manifests
    (tmp_path / "clean" / "classes.tsv").unlink()
    one = build_dataset("imagenet21k", tree, "val", manifest=tmp_path / "clean" / "val.parquet")
    assert len(one) == expected["val"] and one.classes == train.classes


def test_imagenet21k_errors_name_the_missing_piece(demo, tmp_path):
    with pytest.raises(LayoutError, match="no manifest 'train.parquet'") as e:
        build_dataset("imagenet21k", tmp_path, "train")
    assert "classes.tsv" in str(e.value) and str(tmp_path) in str(e.value)
    _clean_like_the_reference(demo["imagenet21k"], tmp_path / "clean", 20, 2)
    with pytest.raises(LayoutError, match="image_root"):
        build_dataset("imagenet21k", tmp_path / "clean", "train")  # images are elsewhere


# ------------------------------------------------------------------------------------------- CIFAR

@pytest.mark.parametrize("name, cls_name, per_class, n_classes", [
    ("cifar10", "CIFAR10", ("cifar10_train_per_class", "cifar10_test_per_class"), 10),
    ("cifar100", "CIFAR100", ("cifar100_train_per_class", "cifar100_test_per_class"), 100),
])
def test_cifar_matches_torchvision(demo, monkeypatch, name, cls_name, per_class, n_classes):
    import torchvision.datasets.cifar as tv_cifar

    z = DemoSizes()
    for split, attr, tv_train in (("train", per_class[0], True), ("test", per_class[1], False)):
        ds = build_dataset(name, demo[name], split)
        _check_classification(ds, getattr(z, attr) * n_classes, n_classes)
        assert ds[0][0].size == (32, 32)
        # torchvision reads the same pickles identically once its md5 checks are out of the way
        monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
        ref = getattr(tv_cifar, cls_name)(str(demo[name]), train=tv_train)
        np.testing.assert_array_equal(ds.data, ref.data)
        assert ds.targets.tolist() == list(ref.targets) and ds.classes == ref.classes
    val, test = (build_dataset(name, demo[name], s) for s in ("val", "test"))
    assert len(val) == len(test)
    # the pickles' own folder works as root too
    folder = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}[name]
    assert len(build_dataset(name, demo[name] / folder, "val")) == len(ds)


# ------------------------------------------------------------------------------------- Flowers-102

def test_flowers102_splits_and_labels(demo, monkeypatch):
    z = DemoSizes()
    trn, val, tst = (102 * n for n in z.flowers102_per_class)
    train = build_dataset("flowers102", demo["flowers102"], "train")
    test = build_dataset("flowers102", demo["flowers102"], "test")
    _check_classification(train, trn + val, 102)  # transfer protocol: train + val
    _check_classification(test, tst, 102)
    val_set = build_dataset("flowers102", demo["flowers102"], "val")
    assert val_set.path(0) == test.path(0) and len(val_set) == len(test)  # val means test
    official = {s: len(build_dataset("flowers102", demo["flowers102"], s, protocol="official"))
                for s in ("train", "val", "test")}
    assert official == {"train": trn, "val": val, "test": tst}

    # labels 1..102 in imagelabels.mat -> 0..101, looked up by image id
    mat = loadmat(demo["flowers102"] / "flowers-102" / "imagelabels.mat", squeeze_me=True)["labels"]
    for i in range(0, len(train), 17):
        image_id = int(train.path(i).stem.split("_")[1])
        assert train.targets[i] == mat[image_id - 1] - 1
    assert set(_labels(train)) == set(range(102))
    assert train.classes[0] == "pink primrose"

    import torchvision.datasets.flowers102 as tv_flowers

    monkeypatch.setattr(tv_flowers, "check_integrity", lambda *a, **k: True)
    ref = tv_flowers.Flowers102(str(demo["flowers102"]), split="test")
    assert [p.name for p in ref._image_files] == [test.path(i).name for i in range(len(test))]
    assert list(ref._labels) == test.targets.tolist()


# --------------------------------------------------------------------------------------------- DTD

def test_dtd_partition_1(demo):
    z = DemoSizes()
    tr, va, te = (47 * n for n in z.dtd_per_class)
    train = build_dataset("dtd", demo["dtd"], "train")
    test = build_dataset("dtd", demo["dtd"], "test")
    _check_classification(train, tr + va, 47)  # train1 + val1
    _check_classification(test, te, 47)
    assert train.classes[:3] == ["banded", "blotchy", "braided"]
    names = lambda ds: {ds.path(i) for i in range(len(ds))}  # noqa: E731
    assert not names(train) & names(test)
    lists = demo["dtd"] / "dtd" / "dtd" / "labels"
    listed = [(lists / f"{s}1.txt").read_text().split() for s in ("train", "val")]
    assert len(names(train)) == len(listed[0]) + len(listed[1])
    official = [len(build_dataset("dtd", demo["dtd"], s, protocol="official"))
                for s in ("train", "val", "test")]
    assert official == [tr, va, te]
    other = build_dataset("dtd", demo["dtd"], "test", partition=2)
    assert len(other) == te and names(other) != names(test)
    with pytest.raises(ValueError, match="partition"):
        build_dataset("dtd", demo["dtd"], "test", partition=11)

    import torchvision.datasets as tvd

    ref = tvd.DTD(str(demo["dtd"]), split="test", partition=1)
    assert [str(p) for p in ref._image_files] == [str(test.path(i)) for i in range(len(test))]
    assert list(ref._labels) == test.targets.tolist()


# ------------------------------------------------------------------------------------- Caltech-256

def test_caltech256_seeded_split(demo):
    z = DemoSizes()
    lo, hi = z.caltech256_per_class
    sizes = [lo + k % (hi - lo + 1) for k in range(z.caltech256_classes)]
    train = build_dataset("caltech256", demo["caltech256"], "train")
    test = build_dataset("caltech256", demo["caltech256"], "val")
    _check_classification(train, 60 * z.caltech256_classes, z.caltech256_classes)
    _check_classification(test, sum(sizes) - 60 * z.caltech256_classes, z.caltech256_classes)
    assert train.classes[:2] == ["ak47", "american-flag"] and "clutter" not in train.classes
    files = lambda ds: [ds.path(i) for i in range(len(ds))]  # noqa: E731
    assert not set(files(train)) & set(files(test))
    # deterministic for a seed, different for another
    assert files(build_dataset("caltech256", demo["caltech256"], "train")) == files(train)
    other = build_dataset("caltech256", demo["caltech256"], "train", seed=1)
    assert len(other) == len(train) and files(other) != files(train)
    small = build_dataset("caltech256", demo["caltech256"], "train", train_per_class=10,
                          include_clutter=True)
    assert small.num_classes == z.caltech256_classes + 1 and small.classes[-1] == "clutter"
    assert len(small) == 10 * (z.caltech256_classes + 1)
    with pytest.raises(ValueError, match="leaves none to test"):
        build_dataset("caltech256", demo["caltech256"], "train", train_per_class=lo)


def test_caltech256_grayscale_and_cmyk_become_rgb(demo):
    modes = {}
    for split in ("train", "test"):
        ds = build_dataset("caltech256", demo["caltech256"], split)
        for i in range(len(ds)):
            raw = Image.open(ds.path(i))
            if raw.mode != "RGB":
                img = ds[i][0]
                modes[raw.mode] = (img.mode, img.size == raw.size)
    assert modes == {"L": ("RGB", True), "CMYK": ("RGB", True)}


# ------------------------------------------------------------------------------------------ ADE20K

def test_ade20k_label_mapping(demo):
    z = DemoSizes()
    train = build_dataset("ade20k", demo["ade20k"], "train")
    val = build_dataset("ade20k", demo["ade20k"], "val")
    assert (len(train), len(val)) == (z.ade20k_train, z.ade20k_val)
    assert train.num_classes == 150 and train.ignore_index == 255 and len(train.classes) == 150
    seen = set()
    for i in range(0, len(train), 7):
        img, mask = train[i]
        raw = np.asarray(Image.open(train.masks[i]))
        m = np.asarray(mask)
        assert img.mode == "RGB" and img.size == mask.size
        assert (m[raw == 0] == 255).all()
        assert (m[raw > 0] == raw[raw > 0] - 1).all()
        seen |= set(np.unique(raw).tolist())
    assert 0 in seen and seen - {0} <= set(ade20k_demo_ids(z))


def test_ade20k_missing_annotation_is_named(demo, tmp_path):
    base = tmp_path / "ADEChallengeData2016"
    for d in ("images/training", "annotations/training"):
        (base / d).mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(base / "images/training/ADE_train_00000001.jpg")
    with pytest.raises(LayoutError, match="ADE_train_00000001.png"):
        build_dataset("ade20k", tmp_path, "train")


# ----------------------------------------------------------------------------------- build_dataset

LAYOUT_HINTS = {
    "imagenet1k": "train/n01440764/",
    "imagenet21k": "train.parquet",
    "cifar10": "cifar-10-batches-py/",
    "cifar100": "cifar-100-python/",
    "flowers102": "setid.mat",
    "dtd": "labels/train1.txt",
    "caltech256": "256_ObjectCategories/",
    "ade20k": "annotations/training/",
    "coco": "annotations/instances_train2017.json",
}


@pytest.mark.parametrize("name", DATASETS)
def test_a_wrong_path_names_it_and_shows_the_layout(name, tmp_path):
    assert set(LAYOUT_HINTS) == set(DATASETS)
    for root in (tmp_path, tmp_path / "does-not-exist"):
        with pytest.raises(FileNotFoundError) as e:
            build_dataset(name, root, "train")
        msg = str(e.value)
        assert str(root) in msg and "Expected layout" in msg and LAYOUT_HINTS[name] in msg, msg


def test_build_dataset_rejects_unknown_names_options_and_splits(demo):
    with pytest.raises(ValueError, match="Known: imagenet1k, imagenet21k"):
        build_dataset("imagenet", demo["imagenet1k"], "train")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['per_class'\].*train_per_class"):
        build_dataset("caltech256", demo["caltech256"], "train", per_class=3)
    with pytest.raises(ValueError, match="split"):
        build_dataset("cifar10", demo["cifar10"], "training")


def test_classification_transform_is_applied(demo):
    ds = build_dataset("cifar10", demo["cifar10"], "train", transform=lambda im: torch.ones(2))
    x, y = ds[0]
    assert torch.equal(x, torch.ones(2)) and isinstance(y, int)


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "imagenet21k"])
def test_readers_and_transforms_pickle_for_spawned_workers(demo, name):
    if name == "ade20k":
        tf = build_seg_train_transform(32)
    elif name == "coco":
        tf = build_det_train_transform()
    else:
        tf = build_train_transform(32)
    ds = build_dataset(name, demo[name], "train", tf)
    again = pickle.loads(pickle.dumps(ds))
    assert len(again) == len(ds)
    torch.manual_seed(0)
    a = ds[3]
    torch.manual_seed(0)
    b = again[3]
    assert a[0].shape == b[0].shape
    if name == "coco":
        assert torch.equal(a[1]["boxes"], b[1]["boxes"])
    elif name != "ade20k":
        assert a[1] == b[1]


def test_a_dataloader_with_workers_batches_the_demo(demo):
    ds = build_dataset("imagenet1k", demo["imagenet1k"], "train", build_train_transform(32))
    x, y = next(iter(DataLoader(ds, batch_size=16, shuffle=True, num_workers=2)))
    assert x.shape == (16, 3, 32, 32) and y.dtype == torch.int64 and y.max() < ds.num_classes
