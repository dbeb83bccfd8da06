"""What differs between training a classifier, a segmenter and a detector; everything else is the trainer's.

A task builds the datasets, the model, the optimiser and schedule, the loss (and mixup), how a
batch is collated and how its loss comes out of the model, and evaluates; the trainer around it
does batching, seeding, resumption, checkpoints, signals, DDP and tracking the same way for all.
"""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..models import create_model, load_pretrained
from ..data.bad_samples import BadSampleLog
from .aux_loss import AuxLossModel, total_loss
from .config import DetRecipe, Recipe, SegRecipe, TrainConfig
from .distributed import DistInfo, all_reduce_sum
from .engine import LossFn, StepContext, autocast, evaluate
from .optim import build_criterion, build_mixup, build_optimizer, build_scheduler, clip_after_backward
from .sampling import sampler_for_eval

__all__ = ["ClassificationTask", "SegmentationTask", "DetectionTask", "task_for", "train_and_val"]


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

    def model(self, num_classes: int) -> nn.Module:
        cfg, r = self.cfg, self.recipe
        kwargs = dict(num_classes=num_classes, drop_path_rate=self.drop_path_rate)
        if r.layer_scale is not None:                 # LayerScale: the ViT families; null for PVTv2 and LaViT
            kwargs["init_values"] = r.layer_scale
        model = create_model(cfg.model, img_size=cfg.img_size, **kwargs, **dict(cfg.model_kwargs))
        if cfg.init_checkpoint:
            load_pretrained(model, cfg.init_checkpoint)
        return model

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

    def model(self, num_classes: int) -> nn.Module:
        from ..segmentation.factory import create_seg_model

        cfg = self.cfg
        return create_seg_model(self.recipe, cfg.model, num_classes, cfg.img_size, pretrained=cfg.init_checkpoint,
                                model_kwargs=dict(cfg.model_kwargs), backbone_img_size=cfg.backbone_img_size)

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

    def model(self, num_classes: int) -> nn.Module:
        from ..detection import create_detector

        r, cfg = self.recipe, self.cfg
        return create_detector(cfg.model, num_classes, img_size=cfg.backbone_img_size or cfg.img_size,
                               pretrained=cfg.init_checkpoint,
                               min_size=r.min_size, max_size=r.max_size, fpn_channels=r.fpn_channels,
                               drop_path_rate=self.drop_path_rate, detections_per_img=r.detections_per_img,
                               backbone_kwargs=dict(cfg.model_kwargs))

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
