"""The COCO detection reader on the demo set (the real layout) and on hand-made broken files; the
detection transforms and collate."""
import json
import logging
import pickle

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from editrepro.data import LayoutError, build_dataset
from editrepro.data.bad_samples import TolerantDataset
from editrepro.data.datasets.coco import CocoAnnotationError, CocoDetection
from editrepro.data.demo import COCO_CATEGORIES, DemoSizes, coco_demo_ids
from editrepro.data.det_transforms import (
    build_det_eval_transform, build_det_train_transform, detection_collate,
)


def _json(demo, split):
    return json.loads((demo["coco"] / "annotations" / f"instances_{split}2017.json").read_text())


def _expected_targets(doc):
    """image id -> [(XYXY box, COCO category id)] of its non-crowd annotations, in file order."""
    out = {im["id"]: [] for im in doc["images"]}
    for a in doc["annotations"]:
        if not a["iscrowd"]:
            x, y, w, h = a["bbox"]
            out[a["image_id"]].append(([x, y, x + w, y + h], a["category_id"]))
    return out


# ------------------------------------------------------------------------------------ demo set

def test_demo_set_is_coco_like(demo):
    z = DemoSizes()
    train, val = _json(demo, "train"), _json(demo, "val")
    ids = coco_demo_ids(z)
    assert [len(train["images"]), len(val["images"])] == [z.coco_train, z.coco_val]
    assert sorted(im["id"] for im in train["images"]) == ids["train"]
    assert not set(ids["train"]) & set(ids["val"])
    assert [im["id"] for im in train["images"]] != ids["train"]  # listed unsorted, as COCO's
    cat_ids = [c["id"] for c in train["categories"]]
    assert cat_ids == [1, 3, 18, 44] == [c[0] for c in COCO_CATEGORIES[:z.coco_categories]]
    for doc, split in ((train, "train"), (val, "val")):
        names = {p.name for p in (demo["coco"] / f"{split}2017").iterdir()}
        assert names == {f"{im['id']:012d}.jpg" for im in doc["images"]}
        assert {"info", "licenses", "images", "annotations", "categories"} <= set(doc)
        sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
        for a in doc["annotations"]:
            h, w = sizes[a["image_id"]]
            x, y, bw, bh = a["bbox"]
            assert 0 <= x < x + bw <= w and 0 <= y < y + bh <= h
            assert 60 <= a["area"] <= bw * bh
            if not a["iscrowd"]:
                assert 0.15 * min(h, w) <= max(bw, bh) <= 0.75 * min(h, w)  # large objects
    assert sum(a["iscrowd"] for a in train["annotations"]) == 2
    assert sum(a["iscrowd"] for a in val["annotations"]) == 0
    assert len({a["image_id"] for a in val["annotations"]}) == z.coco_val - 1  # one empty image
    assert {a["category_id"] for a in train["annotations"]} == set(cat_ids)


def test_reader_on_the_demo_set(demo):
    z = DemoSizes()
    train = build_dataset("coco", demo["coco"], "train")
    val = build_dataset("coco", demo["coco"], "val")
    assert isinstance(train, CocoDetection)
    assert train.num_classes == val.num_classes == z.coco_categories == len(train.classes)
    assert train.category_ids == [1, 3, 18, 44]
    assert train.classes == ["person", "car", "dog", "bottle"]
    for ds, split in ((train, "train"), (val, "val")):
        doc = _json(demo, split)
        expected = _expected_targets(doc)
        sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
        kept = sorted(i for i, t in expected.items() if t or split == "val")
        assert ds.image_ids == kept and len(ds) == len(kept)
        assert sorted(ds.coco.getImgIds()) == sorted(sizes)  # the whole file, for COCOeval
        assert ds.ann_file.name == f"instances_{split}2017.json"
        for i in range(len(ds)):
            image, target = ds[i]
            image_id = target["image_id"]
            assert image_id == ds.image_ids[i] and ds.path(i).name == f"{image_id:012d}.jpg"
            h, w = sizes[image_id]
            assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
            assert image.shape == (3, h, w)
            boxes, labels = target["boxes"], target["labels"]
            assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.dtype == torch.float32
            assert boxes.format == tv_tensors.BoundingBoxFormat.XYXY and boxes.canvas_size == (h, w)
            assert labels.dtype == torch.int64 and labels.shape == (len(boxes),)
            want = expected[image_id]
            assert boxes.tolist() == [b for b, _ in want]  # XYXY of the file's XYWH
            assert [ds.category_ids[k] for k in labels.tolist()] == [c for _, c in want]
            if len(boxes):
                assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all()
                assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= h).all()
                assert (boxes[:, 2:] > boxes[:, :2]).all()
    # train: the image without objects and the crowd-only one are skipped, crowds left out
    train_doc = _json(demo, "train")
    crowd_images = {a["image_id"] for a in train_doc["annotations"] if a["iscrowd"]}
    assert len(crowd_images) == 2 and len(crowd_images & set(train.image_ids)) == 1
    assert train.skipped == z.coco_train - len(train) == 2 and train.crowd_annotations == 2
    # val: every image kept, the empty one with no boxes
    assert len(val) == z.coco_val and val.skipped == 0
    empty = [i for i in range(len(val)) if len(val[i][1]["boxes"]) == 0]
    assert len(empty) == 1


def test_a_pickled_reader_leaves_coco_out_and_reloads_it(demo):
    train = build_dataset("coco", demo["coco"], "train", build_det_train_transform())
    blob = pickle.dumps(train)
    again = pickle.loads(blob)
    assert again._coco is None and len(again) == len(train)
    torch.manual_seed(0)
    a = train[5]
    torch.manual_seed(0)
    b = again[5]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1]["boxes"], b[1]["boxes"])
    assert sorted(again.coco.getImgIds()) == sorted(train.coco.getImgIds())


def test_transforms_flip_boxes_and_give_plain_tensors(demo):
    raw = build_dataset("coco", demo["coco"], "train")
    flipped = build_dataset("coco", demo["coco"], "train", build_det_train_transform())
    i = next(i for i in range(len(raw)) if len(raw[i][1]["boxes"]) >= 2)
    image, target = raw[i]
    w = image.shape[-1]
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        x, t = flipped[i]
        assert type(x) is torch.Tensor and x.dtype == torch.float32 and x.shape == image.shape
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert type(t["boxes"]) is torch.Tensor and t["boxes"].dtype == torch.float32
        assert torch.equal(t["labels"], target["labels"]) and t["image_id"] == target["image_id"]
        unflipped = image.float() / 255
        if torch.allclose(x, unflipped.flip(-1)):
            b = target["boxes"]
            want = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
            assert torch.allclose(t["boxes"], want)  # x1' = W - x2, x2' = W - x1
            seen.add("flipped")
        else:
            assert torch.allclose(x, unflipped) and torch.equal(t["boxes"], target["boxes"])
            seen.add("kept")
    assert seen == {"flipped", "kept"}
    torch.manual_seed(0)
    never = build_det_train_transform(hflip=False)
    assert all(torch.equal(never(image, target)[1]["boxes"], target["boxes"]) for _ in range(8))


def test_an_image_without_boxes_passes_the_transforms_and_collate(demo):
    val = build_dataset("coco", demo["coco"], "val")
    i = next(i for i in range(len(val)) if len(val[i][1]["boxes"]) == 0)
    image, target = val[i]
    for tf in (build_det_train_transform(), build_det_eval_transform()):
        x, t = tf(image, target)
        assert x.shape == image.shape and t["boxes"].shape == (0, 4)
        assert t["labels"].shape == (0,) and t["labels"].dtype == torch.int64
    evaluated = build_dataset("coco", demo["coco"], "val", build_det_eval_transform())
    images, targets = detection_collate([evaluated[i], evaluated[0]])
    assert len(images) == len(targets) == 2 and targets[0]["boxes"].shape == (0, 4)


def test_collate_batches_with_workers_and_keeps_the_notes(demo):
    val = build_dataset("coco", demo["coco"], "val", build_det_eval_transform())
    images, targets = next(iter(DataLoader(val, batch_size=4, collate_fn=detection_collate)))
    assert len(images) == 4 and [t["image_id"] for t in targets] == val.image_ids[:4]
    loader = DataLoader(TolerantDataset(val), batch_size=3, collate_fn=detection_collate,
                        num_workers=2)
    images, targets, notes = next(iter(loader))
    assert len(images) == len(targets) == 3 and notes == ["", "", ""]
    assert detection_collate([]) == ([], [])


# --------------------------------------------------------------------------- hand-made files

CATS = [{"id": 3, "name": "car", "supercategory": "vehicle"},
        {"id": 1, "name": "person", "supercategory": "person"}]  # out of order: sorted by id


def _image(image_id, h=40, w=60):
    return {"id": image_id, "file_name": f"{image_id:012d}.jpg", "height": h, "width": w}


def _ann(aid, image_id, cat=1, bbox=(5.0, 5.0, 10.0, 10.0), iscrowd=0):
    return {"id": aid, "image_id": image_id, "category_id": cat, "bbox": list(bbox),
            "area": 100.0, "iscrowd": iscrowd}


def _write(tmp_path, images, annotations, categories=CATS, split="train", files=None, text=None):
    """A COCO root under tmp_path: the images' files (all, or those named in files) and the
    annotation file (``text`` verbatim, or the JSON of the lists)."""
    root = tmp_path / "coco"
    (root / f"{split}2017").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    for im in images:
        if files is None or im["file_name"] in files:
            Image.new("RGB", (im["width"], im["height"]), (90, 120, 30)).save(
                root / f"{split}2017" / im["file_name"])
    ann_file = root / "annotations" / f"instances_{split}2017.json"
    ann_file.write_text(text if text is not None else json.dumps(
        {"images": images, "annotations": annotations, "categories": categories}))
    return root, ann_file


def test_hand_made_file_labels_crowds_and_clipping(tmp_path):
    images = [_image(7), _image(3), _image(12)]
    anns = [_ann(100, 7, cat=3), _ann(101, 7, cat=1, bbox=(50.0, 30.0, 20.0, 20.0)),
            _ann(102, 3, iscrowd=1), _ann(103, 12, cat=3, iscrowd=1), _ann(104, 12, cat=1)]
    root, _ = _write(tmp_path, images, anns)
    ds = CocoDetection(tmp_path, "train")  # the parent of coco/ works too
    assert ds.category_ids == [1, 3] and ds.classes == ["person", "car"]
    assert ds.image_ids == [7, 12]  # 3 has only a crowd annotation: skipped
    _, t = ds[0]
    assert t["labels"].tolist() == [1, 0]
    assert t["boxes"].tolist() == [[5, 5, 15, 15], [50, 30, 60, 40]]  # clipped to the 60x40 image
    assert ds[1][1]["labels"].tolist() == [0]  # the crowd of image 12 is left out
    _write(tmp_path, images, anns, split="val")  # val keeps every image
    val = CocoDetection(root, "val")
    assert val.image_ids == [3, 7, 12] and len(val[0][1]["boxes"]) == 0


def test_layout_errors(tmp_path):
    with pytest.raises(LayoutError, match="Expected layout") as e:
        build_dataset("coco", tmp_path, "train")
    assert "annotations/instances_train2017.json" in str(e.value)
    (tmp_path / "annotations").mkdir()
    with pytest.raises(LayoutError, match="no train2017/ image folder"):
        build_dataset("coco", tmp_path, "train")
    (tmp_path / "train2017").mkdir()
    with pytest.raises(LayoutError, match="annotations/instances_train2017.json"):
        build_dataset("coco", tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        build_dataset("coco", tmp_path, "test")


def test_invalid_json_names_the_file_line_and_column(tmp_path):
    text = '{\n  "images": [],\n  "annotations": [,\n  "categories": []\n}\n'
    _, ann_file = _write(tmp_path, [], [], text=text)
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "train")
    msg = str(e.value)
    assert str(ann_file) in msg and "not valid JSON" in msg and "line 3, column 19" in msg, msg
    _write(tmp_path, [], [], text='[{"images": []}]')
    with pytest.raises(CocoAnnotationError, match="'images', 'annotations' and 'categories'"):
        CocoDetection(tmp_path / "coco", "train")


def test_missing_image_files_are_named(tmp_path):
    images = [_image(i) for i in range(1, 10)]
    anns = [_ann(i, i) for i in range(1, 10)]
    _, ann_file = _write(tmp_path, images, anns, files={"000000000001.jpg"})
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "train")
    msg = str(e.value)
    assert str(ann_file) in msg and "image entries whose file is not in" in msg
    assert "8 cases: image 2 (" in msg
    assert "image 2 (000000000002.jpg)" in msg and "... and 3 more" in msg, msg
    assert "image 9 (" not in msg  # the first few, then a count


def test_bad_boxes_are_named(tmp_path):
    anns = [_ann(500, 1, bbox=(5.0, 5.0, -3.0, 10.0)), _ann(501, 1, bbox=(1.0, 2.0, 3.0)),
            _ann(502, 1, bbox=(4.0, 5.0, 6.0, -1.0)), _ann(503, 1)]
    _, ann_file = _write(tmp_path, [_image(1)], anns)
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "train")
    msg = str(e.value)
    assert str(ann_file) in msg and "boxes with a negative width or height" in msg
    assert "2 cases" in msg
    assert "annotation 500 (image 1): bbox [5, 5, -3, 10]" in msg
    assert "annotation 502 (image 1): bbox [4, 5, 6, -1]" in msg
    assert "annotation 501 (image 1): bbox [1, 2, 3]" in msg and "four finite numbers" in msg


def test_zero_size_boxes_are_left_out_with_a_warning_and_many_are_an_error(tmp_path, caplog):
    # COCO's own train2017 has two boxes of height 0 (annotations 918 and 2206849)
    anns = [_ann(i, 1) for i in range(5000, 6199)] + [_ann(918, 1, bbox=(296.65, 3.0, 1.03, 0.0))]
    _write(tmp_path, [_image(1)], anns)
    with caplog.at_level(logging.WARNING, logger="editrepro.data.datasets.coco"):
        ds = CocoDetection(tmp_path / "coco", "train")
    assert len(ds[0][1]["boxes"]) == 1199
    assert "annotation 918 (image 1): bbox [296.65, 3, 1.03, 0]" in caplog.text
    anns = [_ann(1, 1), _ann(2, 1, bbox=(5.0, 5.0, 0.0, 4.0)),
            _ann(3, 1, bbox=(80.0, 5.0, 5.0, 4.0))]
    _write(tmp_path, [_image(1)], anns)  # two of three: broken (the second lies outside the image)
    with pytest.raises(CocoAnnotationError, match=r"2 boxes of zero width or height, or outside "
                                                  r"the image: annotation 2 .*annotation 3"):
        CocoDetection(tmp_path / "coco", "train")


def test_unknown_categories_and_images_are_named(tmp_path):
    anns = [_ann(31, 1, cat=2), _ann(32, 1, cat=1), _ann(41, 999)]
    _, ann_file = _write(tmp_path, [_image(1)], anns)
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "train")
    msg = str(e.value)
    assert str(ann_file) in msg
    assert "category_id is not among the file's categories (known ids: 1, 3)" in msg
    assert "annotation 31 (image 1): category_id 2" in msg
    assert "annotations whose image_id has no entry in 'images'" in msg
    assert "annotation 41: image_id 999" in msg


def test_many_problems_of_a_kind_are_counted(tmp_path):
    anns = [_ann(1000 + i, 1, cat=7) for i in range(8)]
    _write(tmp_path, [_image(1)], anns)
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "train")
    msg = str(e.value)
    assert "annotations whose category_id" in msg and "8 cases" in msg and "... and 3 more" in msg
    assert "annotation 1004 " in msg and "annotation 1005 " not in msg


def test_malformed_entries_and_duplicates_are_named(tmp_path):
    images = [_image(1), _image(1), {"id": 2, "file_name": "000000000002.jpg", "height": 0,
                                     "width": 5}, {"file_name": "x.jpg"}]
    _write(tmp_path, images, [], split="val", files=set())
    with pytest.raises(CocoAnnotationError) as e:
        CocoDetection(tmp_path / "coco", "val")
    msg = str(e.value)
    assert "image ids given more than once, 1 case: image 1" in msg
    assert "image 2: height 0, width 5" in msg and "without an integer 'id'" in msg


def test_a_train_file_without_boxes_is_refused(tmp_path):
    _write(tmp_path, [_image(1)], [_ann(1, 1, iscrowd=1)])
    with pytest.raises(CocoAnnotationError, match="nothing to train on"):
        CocoDetection(tmp_path / "coco", "train")


def test_an_image_of_another_size_than_its_entry_fails_when_read_and_is_replaced(tmp_path):
    images = [_image(1), _image(2)]
    root, _ = _write(tmp_path, images, [_ann(1, 1), _ann(2, 2)])
    Image.new("RGB", (30, 20)).save(root / "train2017" / "000000000001.jpg")
    ds = CocoDetection(root, "train")
    with pytest.raises(ValueError, match=r"000000000001.jpg is 30x20 pixels but .* 1 as 60x40"):
        ds[0]
    *item, note = TolerantDataset(ds)[0]
    assert item[1]["image_id"] == 2 and "000000000001.jpg" in note
