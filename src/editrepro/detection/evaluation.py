"""COCO box AP of a detector over a validation set, exact across ranks.

Each rank runs its share of the images (``sampler_for_eval``), turns the detections into COCO
result entries (boxes in the original image's pixels, COCO category ids), and rank 0 scores the
union with ``pycocotools``' ``COCOeval`` against the set's own annotations; every rank returns
the same metrics. Images go through the detector one at a time, as mmdetection tests: in a batch
torchvision pads every image to the largest, which changes the detections near its borders, so a
result would depend on the batch it was evaluated in.
"""
from typing import Any, Dict, List, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from ..data.bad_samples import BadSampleLog
from ..data.det_transforms import detection_collate
from ..runtime.amp import autocast
from ..runtime.distributed import DistInfo, all_reduce_sum
from ..runtime.sampling import sampler_for_eval
from .coco_eval import coco_metrics, to_coco_results

__all__ = ["evaluate_detection"]


@torch.no_grad()
def evaluate_detection(model: nn.Module, val_set: Dataset, dist: DistInfo, amp_dtype=None, batch_size: int = 1,
                       workers: int = 0, show_progress: bool = False,
                       bad_samples: Optional[BadSampleLog] = None) -> Dict[str, Any]:
    """``AP, AP50, AP75, APs, APm, APl`` (x100), ``n`` images and ``bad_samples`` of ``model`` on ``val_set``
    (a COCO reader, or one wrapped by ``TolerantDataset``: its ``coco`` and ``category_ids`` are read)."""
    model.eval()
    subset = Subset(val_set, sampler_for_eval(len(val_set), dist.rank, dist.world_size))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=detection_collate)
    results: List[Dict[str, Any]] = []
    bad = 0
    for batch in tqdm(loader, desc="eval", disable=not show_progress, leave=False, mininterval=1.0):
        images, targets = batch[0], batch[1]
        if bad_samples is not None and len(batch) > 2:
            bad += bad_samples.add(batch[2])
        with autocast(dist.device, amp_dtype):
            outputs = model([image.to(dist.device, non_blocking=True) for image in images])
        outputs = [{k: v.float().cpu() for k, v in o.items()} for o in outputs]
        results += to_coco_results(outputs, [int(t["image_id"]) for t in targets], val_set.category_ids)
    results = _gather(results, dist)
    bad = int(all_reduce_sum(torch.tensor(float(bad), device=dist.device)).item())
    metrics = coco_metrics(val_set.coco, results) if dist.is_main else None
    metrics = _broadcast(metrics, dist)
    metrics.pop("summary", None)
    metrics.update(n=len(val_set), bad_samples=bad)
    if bad_samples is not None:
        bad_samples.total = bad
        bad_samples.check()
    return metrics


def _gather(results: List[Dict[str, Any]], dist: DistInfo) -> List[Dict[str, Any]]:
    if not dist.distributed:
        return results
    parts: List[Any] = [None] * dist.world_size
    torch.distributed.all_gather_object(parts, results)
    return [r for part in parts for r in part]


def _broadcast(obj: Any, dist: DistInfo) -> Any:
    if not dist.distributed:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]
