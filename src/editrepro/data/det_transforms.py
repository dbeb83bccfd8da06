"""Joint (image, target) transforms for object detection, and the collate function for its batches.

Both pipelines are ``torchvision.transforms.v2`` ones, so the boxes (``tv_tensors.BoundingBoxes``,
as ``CocoDetection`` gives them) move with the image. They leave resizing and normalisation out:
torchvision's detectors do both in their ``GeneralizedRCNNTransform`` (and map the boxes back to
the original image for evaluation). Training flips horizontally with probability 0.5, as
torchvision's detection references and mmdetection's COCO configs do.

Both give plain tensors: the image float32 (3, H, W) in [0, 1] and the target ``{"boxes": float32
(n, 4) XYXY in pixels, "labels": int64 (n,), "image_id": int}``, what torchvision's detectors
take. Every random draw comes from torch's generator.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = ["build_det_train_transform", "build_det_eval_transform", "detection_collate",
           "ToPlainTensors"]


def _plain(x: Any) -> Any:
    return x.as_subclass(torch.Tensor) if isinstance(x, tv_tensors.TVTensor) else x


class ToPlainTensors:
    """(image, target) with the ``tv_tensors`` wrappers taken off (the values are not copied)."""

    def __call__(self, image, target: dict):
        return _plain(image), {k: _plain(v) for k, v in target.items()}

    def __repr__(self) -> str:
        return "ToPlainTensors()"


def _pipeline(steps: list) -> v2.Compose:
    # ToImage: a PIL image or a plain tensor also works (the boxes must be BoundingBoxes)
    return v2.Compose([v2.ToImage(), *steps, v2.ToDtype(torch.float32, scale=True),
                       ToPlainTensors()])


def build_det_train_transform(hflip: bool = True) -> v2.Compose:
    """Training: horizontal flip (p = 0.5) when ``hflip``, then the image to float in [0, 1]."""
    return _pipeline([v2.RandomHorizontalFlip(0.5)] if hflip else [])


def build_det_eval_transform() -> v2.Compose:
    """Evaluation: the image to float in [0, 1]; the boxes as they are."""
    return _pipeline([])


def detection_collate(batch: Sequence[tuple]) -> tuple[list, ...]:
    """Dataset items -> ``(images, targets)`` lists (images differ in size, so they are not
    stacked); with ``TolerantDataset``'s third element, ``(images, targets, notes)``."""
    if not batch:
        return [], []
    columns = tuple(list(c) for c in zip(*batch))
    if len(columns) not in (2, 3):
        raise ValueError(f"detection items are (image, target) or (image, target, note), "
                         f"not {len(columns)} elements")
    return columns
