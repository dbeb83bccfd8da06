"""Evaluate a finished job's weights on any dataset and resolution (the ``evaluate`` command)."""
import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

import timm
from torch.utils.data import DataLoader

from ..fileio import atomic_write_text
from ..models import load_pretrained
from ..tracking import Tracker
from .checkpoint import load_checkpoint
from .distributed import init_distributed
from .engine import evaluate
from .trainer import _amp_dtype

__all__ = ["evaluate_weights"]


def evaluate_weights(weights: Union[str, Path], dataset: Optional[str] = None, data_root: Optional[str] = None,
                     split: str = "val", img_size: Optional[int] = None, crop_ratio: Optional[float] = None,
                     batch_size: int = 128, workers: int = 4, out: Optional[Union[str, Path]] = None,
                     tags: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Top-1 / top-5 of a training job's weights; the result also lands in that job's MLflow run.

    The training job's ``metrics.json`` beside the weights supplies its run id, commit and
    config hash, so the evaluation JSON says which run it measured.
    """
    from ..data import build_dataset, build_eval_transform

    state = load_checkpoint(weights)
    if "config" not in state:
        raise ValueError(f"{weights} has no 'config': is it a model.pth or checkpoint.pth of editrepro train?")
    cfg = state["config"]
    img_size = img_size or cfg["img_size"]
    crop_ratio = crop_ratio if crop_ratio is not None else cfg["recipe"]["eval_crop_ratio"]
    dataset = dataset or cfg["data"]["name"]
    data_root = data_root or cfg["data"]["root"]
    dist_info = init_distributed("auto")
    data = build_dataset(dataset, data_root, split, transform=build_eval_transform(img_size, crop_ratio=crop_ratio),
                         **(cfg["data"].get("options") or {} if dataset == cfg["data"]["name"] else {}))
    num_classes = state.get("num_classes") or state["model"]["head.weight"].shape[0]
    model = timm.create_model(cfg["model"], num_classes=num_classes, img_size=img_size, **cfg.get("model_kwargs", {}))
    load_pretrained(model, {"model": state["model"]})
    model.to(dist_info.device)
    loader = DataLoader(data, batch_size=batch_size, num_workers=workers, shuffle=False)
    metrics = evaluate(model, loader, dist_info.device, _amp_dtype(cfg.get("amp", "auto"), dist_info.device),
                       show_progress=True)
    train_metrics_path = Path(weights).with_name("metrics.json")
    train_metrics = json.loads(train_metrics_path.read_text()) if train_metrics_path.is_file() else {}
    result = {"model": cfg["model"], "dataset": dataset, "split": split, "img_size": img_size,
              "crop_ratio": crop_ratio, "weights": str(weights), **metrics,
              "run_id": train_metrics.get("run_id"), "git_commit": train_metrics.get("git_commit"),
              "config_hash": train_metrics.get("config_hash"), "params": train_metrics.get("params"),
              "train_metrics": str(train_metrics_path) if train_metrics else None, "tags": dict(tags or {})}
    if result["run_id"]:
        tracker = Tracker(train_metrics.get("experiment", cfg.get("experiment", "default")))
        tracker.start(run_id=result["run_id"])
        tracker.log_metrics({f"eval/{dataset}_{split}_{img_size}/{k}": v for k, v in metrics.items() if k != "n"},
                            step=0, flush=True)
        tracker.set_tags({f"eval.{k}": v for k, v in (tags or {}).items()})
        tracker.end()
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    return result
