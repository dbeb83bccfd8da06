"""What differs between training a classifier, a segmenter and a detector; everything else is the trainer's.

A task builds the datasets, the model, the optimiser and schedule, the loss (and mixup), how a
batch is collated and how its loss comes out of the model, and evaluates; the trainer around it
does batching, seeding, resumption, checkpoints, signals, DDP and tracking the same way for all.
"""
import json
import shlex
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..data.bad_samples import BadSampleLog
from ..models import create_model, load_pretrained
from ..recipes import DetRecipe, Recipe, SegRecipe, TrainConfig
from ..runtime.amp import autocast
from ..runtime.distributed import DistInfo, all_reduce_sum
from ..runtime.sampling import sampler_for_eval
from .aux_loss import AuxLossModel, total_loss
from .engine import LossFn, StepContext, evaluate
from .optim import build_criterion, build_mixup, build_optimizer, build_scheduler, clip_after_backward

__all__ = ["ClassificationTask", "SegmentationTask", "DetectionTask", "task_for", "train_and_val", "RECORD_KEY",
           "model_record", "build_from_checkpoint"]

RECORD_KEY = "model_record"    # the key of model.pth / checkpoint.pth that says how to rebuild the model
_RECORD_FIELDS = {"task": str, "arch": str, "num_classes": int, "kwargs": dict}


def model_record(task: str, arch: str, num_classes: int, img_size: Optional[int],
                 kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """How a job's model is built, as plain data: the task, the timm name (``arch``), the class count, the
    resolution its builder is given, and every other keyword argument of the builder (a classifier's:
    ``create_model``'s, the recipe-derived ones included). Saved with the weights under ``model_record``
    (loadable with ``weights_only=True``); a task's ``model()`` builds from this very record, so the record and
    the weights cannot disagree, and :func:`build_from_checkpoint` rebuilds from it."""
    return {"task": str(task), "arch": str(arch), "num_classes": int(num_classes),
            "img_size": None if img_size is None else int(img_size), "kwargs": _plain(kwargs)}


def build_classifier(record: Mapping[str, Any], img_size: Optional[int] = None) -> nn.Module:
    """The classifier a :func:`model_record` describes (at ``img_size`` instead of its own), freshly initialised."""
    return create_model(record["arch"], num_classes=record["num_classes"], img_size=img_size or record["img_size"],
                        **record["kwargs"])


def _plain(value: Any) -> Any:
    """Mappings as dicts, sequences as lists: what a weights-only load reads back as it was written."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def train_and_val(cfg: TrainConfig, train_transform, eval_transform) -> Tuple[Dataset, Dataset]:
    """The job's training and validation sets, with one class list: the validation split is read with the
    training split's classes (an error naming the difference, before any step, where it has others)."""
    from ..data import build_dataset

    d, opts = cfg.data, dict(cfg.data.options)
    train = build_dataset(d.name, d.root, d.train_split, transform=train_transform, **opts)
    val = build_dataset(d.name, d.root, d.val_split, transform=eval_transform, classes=getattr(train, "classes", None),
                        classes_from=f"the {d.train_split} split's class list", **opts)
    return train, val


class ClassificationTask:
    """Image classification with a recipe of the paper's Table 2; the headline metric is top-1."""
    headline = "top1"
    collate = None                     # torch's default: a batch of tensors
    loss_fn: Optional[LossFn] = None   # the engine's: criterion + the model's weighted auxiliary losses

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.recipe: Recipe = cfg.recipe

    def datasets(self) -> Tuple[Dataset, Dataset]:
        from ..data import build_eval_transform, build_train_transform

        r, cfg = self.recipe, self.cfg
        train_tf = build_train_transform(cfg.img_size, crop=r.crop, hflip=r.hflip, three_augment=r.three_augment,
                                         color_jitter=r.color_jitter, rand_augment=r.rand_augment,
                                         re_prob=r.random_erasing)
        eval_tf = build_eval_transform(cfg.img_size, crop_ratio=r.eval_crop_ratio)
        return train_and_val(cfg, train_tf, eval_tf)

    def construction(self, num_classes: int) -> Dict[str, Any]:
        """How this job's model is built (:func:`model_record`): the timm name, and every ``create_model``
        argument besides the class count and resolution -- the recipe's (drop path for the model's size,
        LayerScale init where the recipe sets one) and the config's ``model_kwargs`` (which win over them)."""
        cfg, r = self.cfg, self.recipe
        kwargs: Dict[str, Any] = {"drop_path_rate": self.drop_path_rate}
        if r.layer_scale is not None:                 # LayerScale: the ViT families; null for PVTv2 and LaViT
            kwargs["init_values"] = r.layer_scale
        kwargs.update(cfg.model_kwargs)
        return model_record(cfg.task, cfg.model, num_classes, cfg.img_size, kwargs)

    def build(self, record: Dict[str, Any], pretrained: Optional[str] = None,
              img_size: Optional[int] = None) -> nn.Module:
        """The classifier ``record`` describes (at ``img_size`` instead of its own resolution), with
        ``pretrained``'s weights loaded into it (``load_pretrained``: another family is refused, naming both)."""
        model = build_classifier(record, img_size=img_size)
        if pretrained:
            load_pretrained(model, pretrained)
        return model

    def model(self, num_classes: int) -> nn.Module:
        return self.build(self.construction(num_classes), pretrained=self.cfg.init_checkpoint)

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return build_optimizer(model, self.recipe)

    def aux_weights(self, model: nn.Module) -> Dict[str, float]:
        """Auxiliary losses the training adds: LaViT's DP loss when the recipe weighs it (0 turns it off;
        a model without Less-Attention layers, like the PVTv2 baseline sharing the recipe, has none)."""
        if self.recipe.dp_loss_weight > 0 and hasattr(model, "forward_aux"):
            return {"dp_loss": float(self.recipe.dp_loss_weight)}
        return {}

    def train_module(self, model: nn.Module) -> nn.Module:
        """What the training step calls: the model, or its view returning the auxiliary losses too."""
        if self.aux_weights(model):
            return AuxLossModel(model, dp_form=self.recipe.dp_loss_form)
        return model

    @property
    def drop_path_rate(self) -> float:
        return self.recipe.drop_path_for(self.cfg.model)

    def ema(self, model: nn.Module) -> Optional[ModelEmaV3]:
        return ModelEmaV3(model, decay=self.recipe.ema_decay) if self.recipe.ema else None

    def repeats(self, distributed: bool) -> int:
        """Repeated augmentation: each image this many times per epoch (DeiT III uses it across devices only)."""
        return self.recipe.repeated_aug_repeats if (self.recipe.repeated_aug and distributed) else 1

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        """A timm scheduler; the trainer calls ``step(epoch)`` and ``step_update(global step)`` and the one
        the schedule is not counted in (``t_in_epochs``) does nothing."""
        return build_scheduler(optimizer, self.recipe)

    def criterion(self) -> nn.Module:
        return build_criterion(self.recipe)

    def mixup(self, num_classes: int) -> Optional[Callable]:
        return build_mixup(self.recipe, num_classes)

    def clip(self) -> Optional[float]:
        return clip_after_backward(self.recipe, self.cfg.model)

    def evaluate(self, model: nn.Module, val_set: Dataset, dist: DistInfo, amp_dtype, batch_size: int,
                 workers: int, show_progress: bool, bad_samples: Optional[BadSampleLog] = None) -> Dict[str, float]:
        subset = Subset(val_set, sampler_for_eval(len(val_set), dist.rank, dist.world_size))
        loader = DataLoader(subset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
                            pin_memory=dist.device.type == "cuda")
        return evaluate(model, loader, dist.device, amp_dtype, show_progress=show_progress, bad_samples=bad_samples)

    def summary(self, val: Dict[str, Any]) -> Dict[str, Any]:
        return {"top1": val.get("top1"), "top5": val.get("top5"), "val_loss": val.get("loss"),
                "val_images": val.get("n")}


class _DenseTask:
    """What segmentation and detection share: one crop or image set per step, no EMA, mixup or repeated
    augmentation, the backbone's drop-path and the gradient clip straight from the recipe."""
    collate = None

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.recipe = cfg.recipe

    @property
    def drop_path_rate(self) -> float:
        return float(self.recipe.drop_path)

    def ema(self, model: nn.Module) -> None:
        return None

    def train_module(self, model: nn.Module) -> nn.Module:
        return model

    def repeats(self, distributed: bool) -> int:
        return 1

    def mixup(self, num_classes: int) -> None:
        return None

    def clip(self) -> Optional[float]:
        return self.recipe.grad_clip


def segmentation_loss(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, ctx: StepContext):
    """Cross-entropy of the logits and, for a model with an auxiliary head (UperNet's FCN head), of its
    logits too, weighted by ``ctx.aux_weights["aux_loss"]``."""
    out = model(images)
    if isinstance(out, tuple):
        logits, extra = out
        aux = {f"{k}_loss": ctx.criterion(v, masks) for k, v in extra.items()}
        return total_loss(ctx.criterion(logits, masks), aux, ctx.aux_weights)
    return ctx.criterion(out, masks), {}


class SegmentationTask(_DenseTask):
    """ADE20K with Segmenter, Semantic FPN or UperNet (the recipe's ``head``): crops of ``img_size``, poly
    schedule per iteration, mIoU by sliding windows."""
    headline = "miou"
    loss_fn = staticmethod(segmentation_loss)
    recipe: SegRecipe

    def datasets(self) -> Tuple[Dataset, Dataset]:
        from ..data import build_seg_eval_transform, build_seg_train_transform

        r, cfg = self.recipe, self.cfg
        train_tf = build_seg_train_transform(cfg.img_size, base_size=r.base_size, ratio_range=r.ratio_range,
                                             cat_max_ratio=r.cat_max_ratio, hflip=r.hflip, photometric=r.photometric)
        eval_tf = build_seg_eval_transform(cfg.img_size)
        return train_and_val(cfg, train_tf, eval_tf)

    def construction(self, num_classes: int) -> Dict[str, Any]:
        """:func:`model_record` of the segmenter: the backbone, the crop size, and the other arguments of
        ``create_seg_model`` besides the recipe (which the saved config holds)."""
        cfg = self.cfg
        return model_record(cfg.task, cfg.model, num_classes, cfg.img_size,
                            {"model_kwargs": dict(cfg.model_kwargs), "backbone_img_size": cfg.backbone_img_size,
                             "drop_path_rate": self.drop_path_rate})

    def build(self, record: Dict[str, Any], pretrained: Optional[str] = None,
              img_size: Optional[int] = None) -> nn.Module:
        """The segmenter ``record`` describes, at its own crop size (``img_size`` is ignored: the sliding window
        runs any image at it)."""
        from ..segmentation.factory import create_seg_model

        return create_seg_model(self.recipe, record["arch"], record["num_classes"], record["img_size"],
                                pretrained=pretrained, **record["kwargs"])

    def model(self, num_classes: int) -> nn.Module:
        return self.build(self.construction(num_classes), pretrained=self.cfg.init_checkpoint)

    def aux_weights(self, model: nn.Module) -> Dict[str, float]:
        """UperNet's auxiliary head: its loss weighted by the recipe's ``aux_weight``."""
        return {"aux_loss": float(self.recipe.aux_weight)} if getattr(model, "aux_head", None) is not None else {}

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        from timm.optim import create_optimizer_v2

        r = self.recipe
        extra = {"betas": tuple(r.opt_betas)} if r.optimizer == "adamw" else {"momentum": r.momentum}
        return create_optimizer_v2(model, opt=r.optimizer, lr=r.lr, weight_decay=r.weight_decay, **extra)

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        from timm.scheduler import PolyLRScheduler

        r = self.recipe
        # warmup inside the poly schedule's span (mmsegmentation's: the decay counts from iteration 0)
        return PolyLRScheduler(optimizer, t_initial=r.epochs * steps_per_epoch, power=r.poly_power, lr_min=r.min_lr,
                               warmup_t=r.warmup_steps, warmup_lr_init=r.lr * r.warmup_ratio, t_in_epochs=False)

    def criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss(ignore_index=255)

    def evaluate(self, model: nn.Module, val_set: Dataset, dist: DistInfo, amp_dtype, batch_size: int,
                 workers: int, show_progress: bool, multi_scale: bool = False,
                 bad_samples: Optional[BadSampleLog] = None) -> Dict[str, float]:
        return evaluate_segmentation(model, val_set, self.cfg.img_size, self.recipe, dist, amp_dtype,
                                     multi_scale=multi_scale, show_progress=show_progress, workers=workers,
                                     bad_samples=bad_samples)

    def summary(self, val: Dict[str, Any]) -> Dict[str, Any]:
        return {"miou_ss": val.get("miou"), "pixel_acc": val.get("pixel_acc"), "val_images": val.get("n")}


@torch.no_grad()
def evaluate_segmentation(model: nn.Module, val_set: Dataset, window: int, recipe: SegRecipe, dist: DistInfo,
                          amp_dtype=None, multi_scale: bool = False, show_progress: bool = False,
                          workers: int = 0, bad_samples: Optional[BadSampleLog] = None) -> Dict[str, float]:
    """mIoU over the whole validation set (one confusion matrix summed across ranks); unreadable samples
    (of a ``TolerantDataset``) counted into ``bad_samples`` and held to its limit."""
    import torch.nn.functional as F
    from tqdm import tqdm

    from ..segmentation import ConfusionMatrix, multi_scale_logits, sliding_window_logits

    model.eval()
    num_classes = model.num_classes
    cm = ConfusionMatrix(num_classes, device=dist.device)
    subset = Subset(val_set, sampler_for_eval(len(val_set), dist.rank, dist.world_size))
    loader = DataLoader(subset, batch_size=None, shuffle=False, num_workers=workers)
    stride = recipe.eval_stride or window
    bad = 0
    for item in tqdm(loader, desc="eval ms" if multi_scale else "eval", disable=not show_progress,
                     leave=False, mininterval=1.0):
        image, mask = item[0].to(dist.device), item[1].to(dist.device)
        if bad_samples is not None and len(item) > 2:
            bad += bad_samples.add([item[2]])
        with autocast(dist.device, amp_dtype):
            if multi_scale:
                scores = multi_scale_logits(model, image, window, stride, num_classes, recipe.eval_scales,
                                            recipe.eval_flip)
            else:
                scores = sliding_window_logits(model, image, window, stride, num_classes)
        scores = F.interpolate(scores[None].float(), size=mask.shape[-2:], mode="bilinear", align_corners=False)[0]
        cm.update(scores.argmax(dim=0), mask)
    cm.matrix = all_reduce_sum(cm.matrix)
    result = cm.compute()
    result["n"] = len(val_set)
    result["bad_samples"] = int(all_reduce_sum(torch.tensor(float(bad), device=dist.device)).item())
    if bad_samples is not None:
        bad_samples.total = result["bad_samples"]
        bad_samples.check()
    result.pop("iou")
    return result


def detection_loss(model: nn.Module, images, targets, ctx: StepContext):
    """The sum of the losses torchvision's detector returns in training (RetinaNet: focal classification
    and L1 box regression), each a term of its own."""
    losses = model(images, targets)
    return sum(losses.values()), dict(losses)


class DetectionTask(_DenseTask):
    """RetinaNet on COCO over a pyramid backbone: the detector resizes, matches and computes its own
    losses; step-decay schedule with linear warmup (mmdetection's 1x / 3x); box AP by COCOeval."""
    headline = "AP"
    loss_fn = staticmethod(detection_loss)
    recipe: DetRecipe

    @property
    def collate(self):
        from ..data.det_transforms import detection_collate

        return detection_collate

    def datasets(self) -> Tuple[Dataset, Dataset]:
        from ..data.det_transforms import build_det_eval_transform, build_det_train_transform

        return train_and_val(self.cfg, build_det_train_transform(hflip=self.recipe.hflip), build_det_eval_transform())

    def construction(self, num_classes: int) -> Dict[str, Any]:
        """:func:`model_record` of the detector: the backbone, the resolution it was trained at, and every other
        argument of ``create_detector``."""
        r, cfg = self.recipe, self.cfg
        return model_record(cfg.task, cfg.model, num_classes, cfg.backbone_img_size or cfg.img_size,
                            {"min_size": r.min_size, "max_size": r.max_size, "fpn_channels": r.fpn_channels,
                             "drop_path_rate": self.drop_path_rate, "detections_per_img": r.detections_per_img,
                             "backbone_kwargs": dict(cfg.model_kwargs)})

    def build(self, record: Dict[str, Any], pretrained: Optional[str] = None,
              img_size: Optional[int] = None) -> nn.Module:
        """The detector ``record`` describes (``img_size`` is ignored: the detector resizes its inputs)."""
        from ..detection import create_detector

        return create_detector(record["arch"], record["num_classes"], img_size=record["img_size"],
                               pretrained=pretrained, **record["kwargs"])

    def model(self, num_classes: int) -> nn.Module:
        return self.build(self.construction(num_classes), pretrained=self.cfg.init_checkpoint)

    def aux_weights(self, model: nn.Module) -> Dict[str, float]:
        return {}

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        from timm.optim import create_optimizer_v2

        r = self.recipe
        extra = {"momentum": r.momentum} if r.optimizer == "sgd" else {}
        return create_optimizer_v2(model, opt=r.optimizer, lr=r.lr, weight_decay=r.weight_decay,
                                   filter_bias_and_bn=not r.decay_norm_and_bias, **extra)

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        from timm.scheduler import MultiStepLRScheduler

        r = self.recipe
        return MultiStepLRScheduler(optimizer, decay_t=[e * steps_per_epoch for e in r.lr_steps], decay_rate=r.lr_gamma,
                                    warmup_t=r.warmup_steps, warmup_lr_init=r.lr * r.warmup_ratio,
                                    warmup_prefix=False, t_in_epochs=False)

    def criterion(self) -> None:
        return None            # the detector computes its losses

    def evaluate(self, model: nn.Module, val_set: Dataset, dist: DistInfo, amp_dtype, batch_size: int,
                 workers: int, show_progress: bool, bad_samples: Optional[BadSampleLog] = None) -> Dict[str, Any]:
        from ..detection.evaluation import evaluate_detection

        return evaluate_detection(model, val_set, dist, amp_dtype, workers=workers, show_progress=show_progress,
                                  bad_samples=bad_samples)        # one image at a time: see evaluate_detection

    def summary(self, val: Dict[str, Any]) -> Dict[str, Any]:
        keys = ("AP", "AP50", "AP75", "APs", "APm", "APl")
        return {**{k: val.get(k) for k in keys}, "val_images": val.get("n")}


TASKS = {"classification": ClassificationTask, "segmentation": SegmentationTask, "detection": DetectionTask}


def task_for(cfg: TrainConfig):
    return TASKS[cfg.task](cfg)


def build_from_checkpoint(state: Mapping[str, Any], img_size: Optional[int] = None, ema: bool = False,
                          path: Optional[str] = None) -> nn.Module:
    """The model of a ``model.pth`` / ``checkpoint.pth`` of ``editrepro train`` (``state``, as loaded), rebuilt
    from its ``model_record`` by the task that built it, its weights (``ema``: the EMA weights, where saved)
    loaded, in eval mode; ``path`` (the file it was read from) is named in errors.

    ``img_size`` other than the training resolution resamples a classifier's position embeddings; a segmenter
    or detector is rebuilt as it was trained. A checkpoint written before the record existed is rebuilt from the
    config saved with it, as its task builds a model from that config (then without the recipe's arguments, as
    evaluation rebuilt it before); weights that fit neither are refused naming the file and what to do.
    """
    from ..models.weights import WeightsMismatch

    source = f"checkpoint {path}" if path else "the checkpoint"
    config = state.get("config")
    if not isinstance(config, Mapping):
        raise ValueError(f"{source} has no 'config': is it a model.pth or checkpoint.pth of editrepro train?")
    weights = state["model_ema"] if ema and state.get("model_ema") else state["model"]
    record = state.get(RECORD_KEY)
    if record is not None:
        _check_record(record, source)
        if record["task"] == "classification":      # the record alone rebuilds a classifier
            return _load(build_classifier(record, img_size=img_size), record["task"], weights, state, source)
        task = task_for(replace(TrainConfig.from_dict(dict(config)), init_checkpoint=None))   # a head: its recipe
        return _load(task.build(record), record["task"], weights, state, source)
    cfg = replace(TrainConfig.from_dict(dict(config)), init_checkpoint=None)
    num_classes = state.get("num_classes") or _head_rows(weights)
    task = task_for(cfg)
    candidates = [task.construction(num_classes)]       # what training built from this config
    plain = model_record(cfg.task, cfg.model, num_classes, cfg.img_size, dict(cfg.model_kwargs))
    if cfg.task == "classification" and plain != candidates[0]:   # evaluation's rebuild before the record
        candidates.append(plain)
    failures: List[str] = []
    for candidate in candidates:
        try:
            return _load(task.build(candidate, img_size=img_size), cfg.task, weights, state, source)
        except (WeightsMismatch, RuntimeError) as e:
            failures.append(str(e).splitlines()[0][:600])
    args = " ".join("--model-arg " + shlex.quote(f"{k}={json.dumps(v, separators=(',', ':'))}")
                    for k, v in candidates[0]["kwargs"].items())
    raise WeightsMismatch(
        f"{path or 'the checkpoint'} was written before checkpoints recorded how to rebuild their model (it has no "
        f"{RECORD_KEY!r}), and {cfg.model} as its config builds it ({_described_kwargs(candidates[0])}) does not "
        f"fit its weights: {failures[0]}. Train the job again with this version (delete its model.pth and "
        "metrics.json; snakemake reruns it)"
        + (f", or evaluate the file as a timm model with the arguments that built it: editrepro evaluate --model "
           f"{cfg.model} --checkpoint {path or 'FILE'} {args}".rstrip() if cfg.task == "classification" else ""))


def _head_rows(weights: Mapping[str, Any]) -> int:
    head = weights.get("head.weight")
    if head is None:
        raise ValueError("the checkpoint says neither its class count (num_classes) nor has a head.weight")
    return int(head.shape[0])


def _described_kwargs(record: Mapping[str, Any]) -> str:
    kwargs = ", ".join(f"{k}={v!r}" for k, v in record["kwargs"].items())
    return f"num_classes={record['num_classes']}, img_size={record['img_size']}" + (f", {kwargs}" if kwargs else "")


def _check_record(record: Any, source: str) -> None:
    """A ``model_record`` must be the dict :func:`model_record` writes: a ``ValueError`` naming the file and key."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{source}: {RECORD_KEY} is a {type(record).__name__}, not the dict editrepro train writes")
    for key, kind in _RECORD_FIELDS.items():
        if not isinstance(record.get(key), kind):
            raise ValueError(f"{source}: {RECORD_KEY}.{key} is {record.get(key)!r}, expected a {kind.__name__} "
                             f"(the record editrepro train writes: {', '.join(_RECORD_FIELDS)}, img_size)")
    if record["task"] not in TASKS:
        raise ValueError(f"{source}: {RECORD_KEY}.task is {record['task']!r}, expected one of {', '.join(TASKS)}")


def _load(model: nn.Module, task: str, weights: Mapping[str, Any], state: Mapping[str, Any], source: str) -> nn.Module:
    """``weights`` into ``model``, in eval mode: a classifier's through ``load_pretrained`` (position embeddings
    resampled to its resolution; weights of another model refused naming both), a dense model's as they are."""
    from ..models.weights import WeightsMismatch

    if task == "classification":
        load_pretrained(model, {"model": weights, "config": state.get("config"), RECORD_KEY: state.get(RECORD_KEY)},
                        source=source)
    else:
        try:
            model.load_state_dict(weights)
        except RuntimeError as e:
            raise WeightsMismatch(f"{source} does not fit the {type(model).__name__} its config and record "
                                  f"describe: {str(e).splitlines()[0][:600]}") from None
    return model.eval()
