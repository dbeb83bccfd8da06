"""COCO box AP of a detector's outputs: torchvision's output format -> COCO results -> COCOeval.

``to_coco_results`` turns per-image detector outputs (XYXY boxes in the original image's pixels,
contiguous labels) into COCO result dicts (XYWH boxes, COCO category ids); ``coco_metrics`` runs
pycocotools' ``COCOeval`` on them over every image of the ground truth (images without any
detection count as misses) and gives the summary figures x100. Crowd ground truth is what
COCOeval makes of it: an ignore region, neither a miss nor, when matched, a false positive.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
from typing import Any, Iterable, Mapping, Sequence

import torch

__all__ = ["to_coco_results", "coco_metrics", "METRICS"]

log = logging.getLogger(__name__)

# COCOeval.stats[0:6], in order
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def to_coco_results(outputs: Sequence[Mapping[str, Any]], image_ids: Sequence[int],
                    category_ids: Sequence[int]) -> list[dict]:
    """COCO result dicts ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.

    Args:
        outputs: One dict per image with ``boxes`` (n, 4) XYXY in the original image's pixels,
            ``scores`` (n,) and ``labels`` (n,) contiguous class indices (tensors or arrays).
        image_ids: The COCO image id of each output.
        category_ids: The COCO id of each label (``CocoDetection.category_ids``).
    """
    if len(outputs) != len(image_ids):
        raise ValueError(f"{len(outputs)} outputs but {len(image_ids)} image ids")
    cat_ids = torch.as_tensor(list(category_ids), dtype=torch.int64)
    results = []
    for out, image_id in zip(outputs, image_ids):
        boxes = torch.as_tensor(out["boxes"]).detach().to("cpu", torch.float64).reshape(-1, 4)
        scores = torch.as_tensor(out["scores"]).detach().to("cpu", torch.float64).reshape(-1)
        labels = torch.as_tensor(out["labels"]).detach().to("cpu", torch.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(f"image {int(image_id)}: {len(boxes)} boxes, {len(scores)} scores "
                             f"and {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(cat_ids)):
            bad = labels[(labels < 0) | (labels >= len(cat_ids))].unique().tolist()
            raise ValueError(f"image {int(image_id)}: labels {bad} are not class indices "
                             f"0..{len(cat_ids) - 1} (one per category id)")
        xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)
        for box, score, cat in zip(xywh.tolist(), scores.tolist(), cat_ids[labels].tolist()):
            results.append({"image_id": int(image_id), "category_id": int(cat),
                            "bbox": [round(v, 2) for v in box], "score": float(score)})
    return results


def _no_results(coco_gt):
    """What ``coco_gt.loadRes([])`` would be if it did not fail on an empty list."""
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {"images": list(coco_gt.dataset["images"]),
                     "categories": copy.deepcopy(coco_gt.dataset.get("categories", [])),
                     "annotations": []}
    empty.createIndex()
    return empty


def coco_metrics(coco_gt, results: Iterable[Mapping[str, Any]]) -> dict:
    """COCOeval's box AP of ``results`` against ``coco_gt`` (a ``pycocotools.coco.COCO``).

    Returns ``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl`` (percent; ``None`` where
    COCOeval gives -1: no ground truth in that area range), ``detections`` (how many results)
    and ``summary`` (COCOeval's printed table). Every image of ``coco_gt`` is evaluated; no
    results at all give 0.
    """
    from pycocotools.cocoeval import COCOeval

    results = [dict(r) for r in results]  # loadRes writes into them
    known_images, known_cats = set(coco_gt.getImgIds()), set(coco_gt.getCatIds())
    images = {r["image_id"] for r in results} - known_images
    if images:
        raise ValueError(f"results for image ids the ground truth does not have: "
                         f"{sorted(images)[:10]}{' ...' if len(images) > 10 else ''}")
    cats = {r["category_id"] for r in results} - known_cats
    if cats:
        raise ValueError(f"results with category ids the ground truth does not have: "
                         f"{sorted(cats)[:10]} (known: {sorted(known_cats)})")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco_dt = coco_gt.loadRes(results) if results else _no_results(coco_gt)
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.params.imgIds = sorted(known_images)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    summary = printed.getvalue()
    log.debug("COCOeval:\n%s", summary)
    metrics: dict[str, Any] = {
        name: (None if value < 0 else 100.0 * float(value))
        for name, value in zip(METRICS, evaluator.stats[:len(METRICS)])}
    metrics["detections"] = len(results)
    metrics["summary"] = summary
    return metrics
