"""ImageNet-V2's class-index folders and ImageNet-ReaL's labels: the label mapping, the scoring, bad input."""
import json

import pytest
from PIL import Image
from torchvision.datasets.folder import find_classes

from editrepro.data import build_dataset
from editrepro.data.datasets import ImageNetV2, LayoutError
from editrepro.data.datasets.imagenet_v2 import IMAGENET_V2_FOLDER
from editrepro.data.demo import DemoSizes, demo_real_labels
from editrepro.data.real_labels import load_real_labels, real_accuracy, real_label_sets, val_image_number


def val_file(n: int) -> str:
    return f"n01440764/ILSVRC2012_val_{n:08d}.JPEG"


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


# --------------------------------------------------------------------------------------------- ReaL

def test_real_accuracy_by_hand(tmp_path):
    """Six val images in reader (synset-folder) order, not number order; entry n - 1 is image n's."""
    labels = write_json(tmp_path / "real.json", [[0], [1, 2], [], [3], [0], [2]])
    numbers = [3, 1, 6, 2, 5, 4]                     # the order the reader gives them in
    files = [val_file(n) for n in numbers]
    sets = real_label_sets(labels, files, num_classes=4)
    assert sets == [(), (0,), (2,), (1, 2), (0,), (3,)]
    # predictions in reader order: #3 unlabelled (skipped whatever it says), #1 right, #6 wrong, #2 right (the
    # second of its two labels), #5 right, #4 wrong: 3 of the 5 labelled images
    top1 = [1, 0, 1, 2, 0, 0]
    assert real_accuracy(top1, sets) == {"top1_real": pytest.approx(100 * 3 / 5), "real_images": 5}
    # the multi-label image counts for either of its labels: its first label too
    assert real_accuracy([1, 0, 1, 1, 0, 0], sets)["top1_real"] == pytest.approx(100 * 3 / 5)
    assert real_accuracy([1, 0, 2, 1, 0, 3], sets)["top1_real"] == pytest.approx(100 * 5 / 5)
    # matched by reader position instead of file number, the same predictions would score 1 of 5
    by_position = [(0,), (1, 2), (), (3,), (0,), (2,)]
    assert real_accuracy(top1, by_position)["top1_real"] == pytest.approx(100 * 1 / 5)
    # an unreadable (replaced) image is not scored either
    assert real_accuracy(top1, sets, skip={1}) == {"top1_real": pytest.approx(100 * 2 / 4), "real_images": 4}


def test_nothing_labelled_scores_none(tmp_path):
    sets = real_label_sets(write_json(tmp_path / "real.json", [[], []]), [val_file(2), val_file(1)], 10)
    assert real_accuracy([0, 0], sets) == {"top1_real": None, "real_images": 0}


def test_val_image_number():
    assert val_image_number("/data/val/n01440764/ILSVRC2012_val_00050000.JPEG") == 50000
    with pytest.raises(ValueError, match="n01440764_10026.JPEG is not named ILSVRC2012_val_"):
        val_image_number("train/n01440764/n01440764_10026.JPEG")


@pytest.mark.parametrize("content,message", [
    ([[0], [1]], r"have 2 entries but the validation set has 3 images \(the full ImageNet-1k val set: 50,000\)"),
    ({"1": [0]}, "expected a JSON list with one list of labels per val image, not a dict"),
    ([[0], 1, [2]], r"entry 1 \(image ILSVRC2012_val_00000002.JPEG\) is 1; each entry must be a list of class "
                    r"indices in 0..3"),
    ([[0], [4], [2]], r"entry 1 .* is \[4\]"),
    ([[0], [-1], [2]], r"entry 1 .* is \[-1\]"),
    ([[0], ["1"], [2]], r"entry 1 .* is \['1'\]"),
    ([[0], [True], [2]], r"entry 1 .* is \[True\]"),
    ([[0], [1.0], [2]], r"entry 1 .* is \[1.0\]"),
])
def test_bad_real_labels_are_named(tmp_path, content, message):
    path = write_json(tmp_path / "real.json", content)
    with pytest.raises(ValueError, match=message) as e:
        real_label_sets(path, [val_file(n) for n in (1, 2, 3)], num_classes=4)
    assert str(path) in str(e.value)


def test_real_labels_that_are_not_json_or_missing(tmp_path):
    (tmp_path / "real.json").write_text("[[0], [1")
    with pytest.raises(ValueError, match=f"ReaL labels {tmp_path / 'real.json'} are not JSON"):
        load_real_labels(tmp_path / "real.json")
    with pytest.raises(FileNotFoundError, match=f"ReaL labels {tmp_path / 'nowhere.json'} do not exist"):
        load_real_labels(tmp_path / "nowhere.json")


def test_val_files_must_carry_distinct_numbers_in_range(tmp_path):
    path = write_json(tmp_path / "real.json", [[0], [1], [2]])
    with pytest.raises(ValueError, match=f"ReaL labels {path}: val image n01440764/img_2.JPEG is not named"):
        real_label_sets(path, [val_file(1), "n01440764/img_2.JPEG", val_file(3)], 4)
    with pytest.raises(ValueError, match=r"ILSVRC2012_val_00000004.JPEG is number 4, outside the file's 1..3"):
        real_label_sets(path, [val_file(1), val_file(4), val_file(3)], 4)
    with pytest.raises(ValueError, match="both carry number 1"):
        real_label_sets(path, [val_file(1), "n01443537/ILSVRC2012_val_00000001.JPEG", val_file(3)], 4)


# ----------------------------------------------------------------------------------------- ImageNet-V2

def make_v2(root, classes, per_class=1):
    for name in classes:
        (root / str(name)).mkdir(parents=True)
        for j in range(per_class):
            Image.new("RGB", (8, 8), (j, 0, 0)).save(root / str(name) / f"{j:02x}ab.jpeg")
    return root


def test_v2_folder_names_are_class_indices_not_string_order(tmp_path):
    root = make_v2(tmp_path / IMAGENET_V2_FOLDER, range(12), per_class=2)
    ds = ImageNetV2(root, num_classes=12)
    assert len(ds) == 24 and ds.num_classes == 12
    by_folder = {ds.path(i).parent.name: int(ds.targets[i]) for i in range(len(ds))}
    assert by_folder == {str(k): k for k in range(12)}
    assert by_folder["10"] == 10 and by_folder["2"] == 2
    # what ImageFolder's sorted-string classes would have made of them: folder "10" as label 2
    assert find_classes(str(root))[1]["10"] == 2
    img, label = ds[[i for i in range(len(ds)) if ds.path(i).parent.name == "11"][0]]
    assert label == 11 and img.size == (8, 8)
    # the folder the tarball was extracted into works too
    assert len(ImageNetV2(tmp_path, num_classes=12)) == 24


@pytest.mark.parametrize("classes,message", [
    ([0, 1, 3], r"expected exactly the 4 class folders 0..3 .* but 1 class folder\(s\) missing \(2\)"),
    ([0, 1, 2, 3, 4], r"1 unexpected folder\(s\) \(4\)"),
    ([0, 1, 2, "03"], r"1 class folder\(s\) missing \(3\) and 1 unexpected folder\(s\) \(03\)"),
    (["n01440764", "n01443537"], r"4 class folder\(s\) missing \(0, 1, 2, 3\) and 2 unexpected folder\(s\)"),
])
def test_v2_without_the_expected_class_folders_is_named(tmp_path, classes, message):
    root = make_v2(tmp_path / "v2", classes)
    with pytest.raises(LayoutError, match=message) as e:
        ImageNetV2(root, num_classes=4)
    assert str(root) in str(e.value) and "Expected layout:" in str(e.value)


def test_v2_missing_or_empty_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"the folder does not exist \\(looked in {tmp_path / 'nowhere'}\\)"):
        ImageNetV2(tmp_path / "nowhere")
    for k in range(3):
        (tmp_path / "empty" / str(k)).mkdir(parents=True)
    with pytest.raises(LayoutError, match="no images in the class folders"):
        ImageNetV2(tmp_path / "empty", num_classes=3)


# ------------------------------------------------------------------------------------------ the demo

def test_the_demo_stand_ins_fit_its_imagenet1k(demo, demo_root):
    val = build_dataset("imagenet1k", demo["imagenet1k"], "val")
    z = DemoSizes()
    # ReaL: one entry per val image, matched by file number; empty, multi-label and relabelled entries
    labels = json.loads((demo["imagenet1k"] / "real.json").read_text())
    assert labels == demo_real_labels(z) and len(labels) == len(val)
    sets = real_label_sets(demo["imagenet1k"] / "real.json", [val.path(i) for i in range(len(val))],
                           val.num_classes)
    numbers = [val_image_number(val.path(i)) for i in range(len(val))]
    assert sorted(numbers) == list(range(1, len(val) + 1)) and numbers != sorted(numbers)   # interleaved
    assert any(not s for s in sets) and any(len(s) > 1 for s in sets)
    assert any(s and int(val.targets[i]) not in s for i, s in enumerate(sets))
    assert sum(int(val.targets[i]) in s for i, s in enumerate(sets)) > len(val) // 2
    # ImageNet-V2: the demo's classes as class-index folders
    v2 = ImageNetV2(demo_root / IMAGENET_V2_FOLDER, num_classes=val.num_classes)
    assert len(v2) == z.imagenet_v2_per_class * z.imagenet1k_classes
    assert sorted(set(v2.targets.tolist())) == list(range(val.num_classes))
