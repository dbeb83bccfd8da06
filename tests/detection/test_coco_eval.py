"""COCO box AP: the detector-output conversion and COCOeval on a small hand-made ground truth."""
import json

import numpy as np
import pytest
import torch

from editrepro.data.datasets.coco import load_coco
from editrepro.detection.coco_eval import coco_metrics, to_coco_results

# two categories with COCO-like, non-contiguous ids; no small object (area < 32**2)
CATEGORIES = [{"id": 5, "name": "cup", "supercategory": "kitchen"},
              {"id": 9, "name": "boat", "supercategory": "vehicle"}]
IMAGES = [{"id": 11, "file_name": "000000000011.jpg", "height": 100, "width": 100},
          {"id": 42, "file_name": "000000000042.jpg", "height": 150, "width": 200},
          {"id": 77, "file_name": "000000000077.jpg", "height": 80, "width": 90}]  # no object
OBJECTS = [  # (id, image, category, bbox): medium, medium, large
    (1, 11, 5, [10.0, 10.0, 40.0, 40.0]),
    (2, 11, 9, [50.0, 55.0, 40.0, 30.0]),
    (3, 42, 5, [20.0, 30.0, 100.0, 110.0]),
]
CROWD = (4, 42, 9, [130.0, 10.0, 60.0, 50.0])


def _ann(aid, image, cat, bbox, iscrowd=0):
    return {"id": aid, "image_id": image, "category_id": cat, "bbox": bbox, "iscrowd": iscrowd,
            "area": bbox[2] * bbox[3], "segmentation": [[bbox[0], bbox[1], bbox[0] + bbox[2],
                                                         bbox[1], bbox[0] + bbox[2],
                                                         bbox[1] + bbox[3], bbox[0],
                                                         bbox[1] + bbox[3]]]}


@pytest.fixture()
def gt(tmp_path):
    path = tmp_path / "instances_val2017.json"
    anns = [_ann(*o) for o in OBJECTS] + [_ann(*CROWD, iscrowd=1)]
    path.write_text(json.dumps({"images": IMAGES, "annotations": anns, "categories": CATEGORIES}))
    return load_coco(path)


def _result(image, cat, bbox, score=1.0):
    return {"image_id": image, "category_id": cat, "bbox": list(bbox), "score": score}


def test_predicting_the_ground_truth_gives_100(gt, capsys):
    m = coco_metrics(gt, [_result(i, c, b) for _, i, c, b in OBJECTS])
    assert m["AP"] == m["AP50"] == m["AP75"] == pytest.approx(100.0)
    assert m["APm"] == pytest.approx(100.0) and m["APl"] == pytest.approx(100.0)
    assert m["APs"] is None  # no small ground truth: COCOeval's -1
    assert m["detections"] == 3
    assert "Average Precision" in m["summary"]
    assert capsys.readouterr().out == ""  # pycocotools' prints are captured


def test_no_predictions_give_0(gt):
    m = coco_metrics(gt, [])
    assert m["AP"] == m["AP50"] == m["AP75"] == 0.0
    assert m["APs"] is None and m["APm"] == 0.0 and m["detections"] == 0


def test_predictions_far_off_give_about_0(gt):
    m = coco_metrics(gt, [_result(i, c, [b[0] + 300, b[1] + 300, b[2], b[3]])
                          for _, i, c, b in OBJECTS])
    assert m["AP"] < 0.01 and m["AP50"] < 0.01


def test_a_missed_object_and_a_wrong_class_cost_ap(gt):
    (_, i1, c1, b1), (_, i2, _, b2), _ = OBJECTS
    m = coco_metrics(gt, [_result(i1, c1, b1), _result(i2, 5, b2)])  # object 2 as the wrong class
    assert 0.0 < m["AP"] < 100.0


def test_crowd_ground_truth_is_neither_a_miss_nor_a_false_positive(gt):
    perfect = [_result(i, c, b) for _, i, c, b in OBJECTS]
    on_the_crowd = _result(CROWD[1], CROWD[2], CROWD[3], score=0.9)
    assert coco_metrics(gt, perfect)["AP"] == pytest.approx(100.0)  # the crowd is not missed
    assert coco_metrics(gt, perfect + [on_the_crowd])["AP"] == pytest.approx(100.0)


def test_unknown_images_and_categories_are_refused(gt):
    with pytest.raises(ValueError, match="image ids.*999"):
        coco_metrics(gt, [_result(999, 5, [0, 0, 10, 10])])
    with pytest.raises(ValueError, match=r"category ids.*\[6\]"):
        coco_metrics(gt, [_result(11, 6, [0, 0, 10, 10])])


def test_to_coco_results_maps_labels_to_ids_and_xyxy_to_xywh(gt):
    outputs = [
        {"boxes": torch.tensor([[10.0, 10.0, 50.0, 50.0], [50.0, 55.0, 90.0, 85.0]]),
         "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 1])},
        {"boxes": np.array([[20.0, 30.0, 120.0, 140.0]], np.float32),
         "scores": np.array([0.7], np.float32), "labels": np.array([0])},
        {"boxes": torch.zeros((0, 4)), "scores": torch.zeros(0),
         "labels": torch.zeros(0, dtype=torch.int64)},
    ]
    results = to_coco_results(outputs, [11, 42, 77], [5, 9])
    assert [(r["image_id"], r["category_id"]) for r in results] == [(11, 5), (11, 9), (42, 5)]
    assert results[1]["bbox"] == [50.0, 55.0, 40.0, 30.0]
    assert results[2]["bbox"] == [20.0, 30.0, 100.0, 110.0]
    assert all(type(v) is float for r in results for v in [*r["bbox"], r["score"]])
    assert results[0]["score"] == pytest.approx(0.9)
    json.dumps(results)  # plain Python numbers
    assert coco_metrics(gt, results)["AP"] == pytest.approx(100.0)


def test_to_coco_results_refuses_labels_out_of_range_and_length_mismatch():
    out = {"boxes": torch.zeros((1, 4)), "scores": torch.ones(1), "labels": torch.tensor([2])}
    with pytest.raises(ValueError, match=r"labels \[2\]"):
        to_coco_results([out], [1], [5, 9])
    with pytest.raises(ValueError, match="2 outputs but 1 image ids"):
        to_coco_results([out, out], [1], [5, 9])
