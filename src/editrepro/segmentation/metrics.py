"""mIoU as Segmenter and mmsegmentation define it: over the whole dataset, not per image.

Intersections and unions are summed over every pixel of every image per class (one
confusion matrix built with ``bincount``); classes whose union is empty (absent from both
prediction and ground truth) are left out of the mean; pixels labelled ``ignore_index``
count nowhere. Matches torchmetrics' ``MulticlassJaccardIndex(average='macro',
ignore_index=255)``; its ``segmentation.MeanIoU`` averages per image instead.
"""
from typing import Dict

import torch

__all__ = ["ConfusionMatrix", "mean_iou"]


class ConfusionMatrix:
    """Accumulates (target, prediction) pair counts; ``all_reduce`` across ranks before reading."""

    def __init__(self, num_classes: int, ignore_index: int = 255, device=None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        keep = target != self.ignore_index
        t, p = target[keep].long(), prediction[keep].long()
        if t.numel() and (t.max() >= self.num_classes or t.min() < 0):
            raise ValueError(f"target labels must be in 0..{self.num_classes - 1} or {self.ignore_index}")
        self.matrix += torch.bincount(t * self.num_classes + p, minlength=self.num_classes ** 2).reshape(
            self.num_classes, self.num_classes).to(self.matrix.device)

    def compute(self) -> Dict[str, float]:
        return mean_iou(self.matrix)


def mean_iou(matrix: torch.Tensor) -> Dict[str, float]:
    """``miou`` (x100, classes with a non-empty union), ``pixel_acc`` (x100) and per-class IoU."""
    m = matrix.double()
    intersection = m.diag()
    union = m.sum(0) + m.sum(1) - intersection
    present = union > 0
    iou = torch.where(present, intersection / union.clamp(min=1), torch.full_like(union, float("nan")))
    total = m.sum()
    return {
        "miou": 100.0 * iou[present].mean().item() if present.any() else float("nan"),
        "pixel_acc": 100.0 * (intersection.sum() / total).item() if total > 0 else float("nan"),
        "classes_present": int(present.sum().item()),
        "iou": iou.tolist(),
    }
