"""Evaluate a finished job's weights on any dataset and resolution (the ``evaluate`` command)."""
import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

from torch.utils.data import DataLoader

from ..fileio import atomic_write_text
from ..models.complexity import count_params
from ..recipes import SegRecipe
from ..runtime.amp import autocast_dtype
from ..runtime.distributed import init_distributed
from ..tracking import Tracker
from .checkpoint import load_checkpoint
from .engine import evaluate
from .tasks import build_from_checkpoint

__all__ = ["evaluate_weights", "load_trained_model"]


def load_trained_model(weights: Union[str, Path], img_size: Optional[int] = None, ema: bool = False):
    """Rebuild a training job's model from its ``model.pth`` / ``checkpoint.pth``: ``(model, config)``.

    The model is the one training built, from the construction record saved with the weights
    (``tasks.build_from_checkpoint``; a checkpoint written before the record, from its config). ``img_size``
    other than the training resolution resamples a classifier's position embeddings; a segmenter is rebuilt
    at its crop size.
    """
    state = load_checkpoint(weights)
    model = build_from_checkpoint(state, img_size=img_size, ema=ema, path=str(weights))
    model.trained_classes = state.get("classes")   # the class list saved with the weights (None before issue 24)
    return model.eval(), state["config"]


def evaluate_weights(weights: Union[str, Path], dataset: Optional[str] = None, data_root: Optional[str] = None,
                     split: str = "val", img_size: Optional[int] = None, crop_ratio: Optional[float] = None,
                     batch_size: int = 128, workers: int = 4, out: Optional[Union[str, Path]] = None,
                     tags: Optional[Dict[str, str]] = None, max_bad_samples: Optional[int] = None,
                     imagenet_v2: Optional[Union[str, Path]] = None,
                     real_labels: Optional[Union[str, Path]] = None) -> Dict[str, Any]:
    """Top-1 / top-5 of a training job's weights; the result also lands in that job's MLflow run.

    For an ImageNet-1k classifier on val, ``imagenet_v2`` (ImageNet-V2's class-index folders) adds
    ``top1_v2`` / ``top5_v2`` (same transform, resolution and crop ratio) and ``real_labels`` (ReaL's
    ``real.json``) adds ``top1_real`` and ``real_images``, from the val pass's own top-1 predictions.

    The training job's ``metrics.json`` beside the weights supplies its run id, commit and
    config hash, so the evaluation JSON says which run it measured.
    """
    from ..data import build_dataset, build_eval_transform
    from ..data.bad_samples import BadSampleLog, TolerantDataset

    model, cfg = load_trained_model(weights, img_size)
    img_size = img_size or cfg["img_size"]
    dataset = dataset or cfg["data"]["name"]
    data_root = data_root or cfg["data"]["root"]
    options = (cfg["data"].get("options") or {}) if dataset == cfg["data"]["name"] else {}
    _check_imagenet_extras(imagenet_v2, real_labels, cfg["recipe"]["task"], dataset, split)
    dist_info = init_distributed("auto")
    model.to(dist_info.device)
    amp = autocast_dtype(cfg.get("amp", "auto"), dist_info.device)
    if cfg["recipe"]["task"] == "segmentation":
        metrics = _evaluate_segmenter(model, cfg, dataset, data_root, split, options, dist_info, amp, workers,
                                      max_bad_samples, weights)
    elif cfg["recipe"]["task"] == "detection":
        metrics = _evaluate_detector(model, cfg, dataset, data_root, split, options, dist_info, amp, workers,
                                     max_bad_samples, weights)
    else:
        crop_ratio = crop_ratio if crop_ratio is not None else cfg["recipe"]["eval_crop_ratio"]
        transform = build_eval_transform(img_size, crop_ratio=crop_ratio)
        # the trained class list wins on the training dataset (a val-only copy is read with it, and train/'s
        # must equal it); on any dataset the head must have its class count: both checked before any step
        stored = getattr(model, "trained_classes", None) if dataset == cfg["data"]["name"] else None
        data = build_dataset(dataset, data_root, split, transform=transform, classes=stored,
                             classes_from=f"the class list saved in {weights}", **options)
        check_head(model, data, weights, dataset, split, data_root)
        extras = _ImageNetExtras(data, transform, imagenet_v2, real_labels)   # checked before the val pass
        loader = DataLoader(TolerantDataset(data), batch_size=batch_size, num_workers=workers, shuffle=False)
        bad = BadSampleLog.for_dataset(data, max_bad_samples, f"{split} set of {dataset}")
        metrics = evaluate(model, loader, dist_info.device, amp, show_progress=True, bad_samples=bad,
                           predictions=extras.predictions)
        metrics["crop_ratio"] = crop_ratio
        metrics.update(extras.score(model, bad, batch_size, workers, dist_info.device, amp, max_bad_samples))
    train_metrics_path = Path(weights).with_name("metrics.json")
    train_metrics = json.loads(train_metrics_path.read_text()) if train_metrics_path.is_file() else {}
    result = {"model": cfg["model"], "task": cfg["recipe"]["task"], "dataset": dataset, "split": split,
              "img_size": img_size, "weights": str(weights), **metrics,
              "run_id": train_metrics.get("run_id"), "git_commit": train_metrics.get("git_commit"),
              "config_hash": train_metrics.get("config_hash"), "params": train_metrics.get("params"),
              "train_metrics": str(train_metrics_path) if train_metrics else None, "tags": dict(tags or {})}
    if result["run_id"]:
        tracker = Tracker(train_metrics.get("experiment", cfg.get("experiment", "default")))
        tracker.start(run_id=result["run_id"])
        tracker.log_metrics({f"eval/{dataset}_{split}_{img_size}/{k}": v for k, v in metrics.items()
                             if isinstance(v, (int, float)) and k not in ("n", "crop_ratio")},
                            step=0, flush=True)
        tracker.set_tags({f"eval.{k}": v for k, v in (tags or {}).items()})
        tracker.end()
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    return result


def check_head(model, data, weights, dataset: str, split: str, data_root) -> None:
    """A model's head must have as many classes as the dataset it is evaluated on (else its labels mean other
    classes, or run out of range a whole pass later): a ``ValueError`` naming both counts."""
    head, have = getattr(model, "num_classes", None), getattr(data, "num_classes", None)
    if head and have and int(head) != int(have):
        raise ValueError(f"the model in {weights} has a {int(head)}-class head but {dataset} ({split} split in "
                         f"{data_root}) has {int(have)} classes: evaluate it on the dataset it was trained on "
                         f"({int(head)} classes), or fine-tune it on {dataset} first")


def _evaluate_segmenter(model, cfg: Dict[str, Any], dataset: str, data_root: str, split: str, options, dist_info,
                        amp, workers: int, max_bad_samples: Optional[int] = None, weights=None) -> Dict[str, Any]:
    """Single- and multi-scale mIoU of a segmenter, and its parameters at the paper's size."""
    from ..data import build_dataset, build_seg_eval_transform
    from ..data.bad_samples import BadSampleLog, TolerantDataset
    from ..segmentation.factory import paper_size_complexity
    from .tasks import evaluate_segmentation

    recipe = SegRecipe.from_dict(cfg["recipe"])
    data = build_dataset(dataset, data_root, split, transform=build_seg_eval_transform(cfg["img_size"]), **options)
    check_head(model, data, weights, dataset, split, data_root)
    bad = BadSampleLog.for_dataset(data, max_bad_samples, f"{split} set of {dataset}")
    data = TolerantDataset(data)
    ss = evaluate_segmentation(model, data, cfg["img_size"], recipe, dist_info, amp, show_progress=True, workers=workers,
                               bad_samples=bad)
    ms = evaluate_segmentation(model, data, cfg["img_size"], recipe, dist_info, amp, multi_scale=True,
                               show_progress=True, workers=workers)
    return {"miou_ss": ss["miou"], "miou_ms": ms["miou"], "pixel_acc_ss": ss["pixel_acc"],
            "pixel_acc_ms": ms["pixel_acc"], "classes_present": ss["classes_present"], "n": ss["n"],
            "bad_samples": ss["bad_samples"],
            "params": count_params(model), **_paper_arch(paper_size_complexity(recipe.head, cfg["model"]))}


def _paper_arch(counts: Dict[str, float]) -> Dict[str, Any]:
    """Counts of the model at the paper's architecture (not the demo's reduced one) and input size."""
    params = counts.get("params_m_inference", counts["params_m"])   # a training-only auxiliary head left out
    return {"params_paper_arch": round(params * 1e6), "gmacs_paper_arch": counts["gmacs"]}


def _evaluate_detector(model, cfg: Dict[str, Any], dataset: str, data_root: str, split: str, options, dist_info,
                       amp, workers: int, max_bad_samples: Optional[int] = None, weights=None) -> Dict[str, Any]:
    """COCO box AP of a detector, and its parameters and GMACs at the paper's size (1280 x 800)."""
    from ..data import build_dataset
    from ..data.bad_samples import BadSampleLog, TolerantDataset
    from ..data.det_transforms import build_det_eval_transform
    from ..detection import detector_complexity
    from ..detection.evaluation import evaluate_detection

    data = build_dataset(dataset, data_root, split, transform=build_det_eval_transform(), **options)
    check_head(model, data, weights, dataset, split, data_root)
    bad = BadSampleLog.for_dataset(data, max_bad_samples, f"{split} set of {dataset}")
    metrics = evaluate_detection(model, TolerantDataset(data), dist_info, amp, workers=workers, show_progress=True,
                                 bad_samples=bad)
    return {**metrics, "params": count_params(model), **_paper_arch(detector_complexity(cfg["model"]))}


def _check_imagenet_extras(imagenet_v2, real_labels, task: str, dataset: str, split: str) -> None:
    """ImageNet-V2 and ReaL score an ImageNet-1k classifier (ReaL: on the val split); anything else is refused."""
    given = [flag for flag, value in (("--imagenet-v2", imagenet_v2), ("--real-labels", real_labels)) if value]
    if given and (task != "classification" or dataset != "imagenet1k"):
        raise ValueError(f"{' and '.join(given)} score an ImageNet-1k classifier, not a {task} model on {dataset}")
    if real_labels and split != "val":
        raise ValueError(f"--real-labels are ImageNet-1k val's labels; the split evaluated is {split!r}")


class _ImageNetExtras:
    """ImageNet-V2 and ImageNet-ReaL beside an ImageNet-1k val evaluation: both sets' paths are checked when
    made (the V2 folders, the ReaL file against the val set's file names), so a bad path fails before the val
    pass; ``predictions`` collects that pass's top-1 for ReaL, and ``score`` adds the keys."""

    def __init__(self, val, transform, imagenet_v2, real_labels):
        from ..data.datasets.imagenet_v2 import ImageNetV2
        from ..data.real_labels import real_label_sets

        self.val = val
        self.real = (real_label_sets(real_labels, [val.path(i) for i in range(len(val))], val.num_classes)
                     if real_labels else None)
        self.v2 = ImageNetV2(imagenet_v2, transform, num_classes=val.num_classes) if imagenet_v2 else None
        self.predictions = [] if self.real is not None else None

    def score(self, model, bad, batch_size, workers, device, amp, max_bad_samples) -> Dict[str, Any]:
        import torch

        from ..data.bad_samples import BadSampleLog, TolerantDataset
        from ..data.real_labels import real_accuracy

        out: Dict[str, Any] = {}
        if self.v2 is not None:
            loader = DataLoader(TolerantDataset(self.v2), batch_size=batch_size, num_workers=workers, shuffle=False)
            v2 = evaluate(model, loader, device, amp, show_progress=True,
                          bad_samples=BadSampleLog.for_dataset(self.v2, max_bad_samples, "ImageNet-V2"))
            out.update(top1_v2=v2["top1"], top5_v2=v2["top5"], v2_images=v2["n"], v2_bad_samples=v2["bad_samples"])
        if self.real is not None:
            top1 = torch.cat(self.predictions).tolist()
            replaced = {i for i in range(len(self.val)) if str(self.val.path(i)) in bad.seen} if bad.seen else set()
            out.update(real_accuracy(top1, self.real, skip=replaced))
        return out
