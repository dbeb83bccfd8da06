"""A timm model's top-1 / top-5 with the pipeline's own evaluation: ``editrepro evaluate --model NAME
--pretrained | --checkpoint FILE``, so published weights (timm's DeiT III) calibrate the numbers it gives EDIT.

The dataset reader, the bad-sample policy and the metric loop (``training.engine.evaluate``) are those of
``evaluate --weights``; the images go through timm's ``create_transform`` of the model's data config
(``resolve_data_config``: its input size, crop, interpolation, mean and std), which is how timm measured the
top-1 it publishes (for DeiT III: 224 px, crop 0.9, bicubic: ``transforms_imagenet_eval``, the factory the
pipeline's ``build_eval_transform`` also calls). In float32 unless ``amp`` says otherwise.
"""
import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .sources import TimmSource, load_timm_model

__all__ = ["evaluate_timm"]


def evaluate_timm(source: TimmSource, dataset: str, data_root: str, split: str = "val", batch_size: int = 128,
                  workers: int = 4, out: Optional[Union[str, Path]] = None, tags: Optional[Dict[str, str]] = None,
                  max_bad_samples: Optional[int] = None, amp: str = "off", device: str = "auto") -> Dict[str, Any]:
    """Top-1 / top-5 of ``source`` on ``dataset``'s ``split``; the JSON is ``evaluate --weights``'s, with the
    data config and no training run."""
    from timm.data import create_transform
    from torch.utils.data import DataLoader

    from ..data import build_dataset
    from ..data.bad_samples import BadSampleLog, TolerantDataset
    from ..fileio import atomic_write_text
    from ..models.complexity import count_params
    from ..runtime.amp import autocast_dtype
    from ..runtime.distributed import init_distributed
    from ..training.engine import evaluate

    dist_info = init_distributed(device)
    loaded = load_timm_model(source, device=str(dist_info.device))
    if not loaded.num_classes:
        raise ValueError(f"{source.describe()} has no classifier (num_classes=0): nothing to score on {dataset}")
    data = build_dataset(dataset, data_root, split, transform=create_transform(**loaded.data_config,
                                                                               is_training=False))
    loader = DataLoader(TolerantDataset(data), batch_size=batch_size, num_workers=workers, shuffle=False)
    metrics = evaluate(loaded.model, loader, dist_info.device, autocast_dtype(amp, dist_info.device), show_progress=True,
                       bad_samples=BadSampleLog.for_dataset(data, max_bad_samples, f"{split} set of {dataset}"))
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in loaded.data_config.items()}
    result = {"model": source.name, "task": "classification", "dataset": dataset, "split": split,
              "img_size": int(loaded.data_config["input_size"][-1]), "weights": source.describe(),
              "source": loaded.source, "checkpoint": source.checkpoint, "model_args": dict(source.model_args),
              **metrics, "crop_ratio": loaded.data_config["crop_pct"], "data_config": config, "amp": amp,
              "params": count_params(loaded.model), "run_id": None, "tags": dict(tags or {})}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    return result
