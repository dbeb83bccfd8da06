"""What differs between training a classifier and a segmenter; everything else is the trainer's.

A task builds the datasets, the model, the optimiser and schedule, the loss (and mixup),
and evaluates; the trainer around it does batching, seeding, resumption, checkpoints,
signals, DDP and tracking the same way for both.
"""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..models import create_model, load_pretrained
from ..data.bad_samples import BadSampleLog
from .aux_loss import AuxLossModel
from .config import Recipe, SegRecipe, TrainConfig
from .distributed import DistInfo, all_reduce_sum
from .engine import autocast, evaluate
from .optim import build_criterion, build_mixup, build_optimizer, build_scheduler, clip_after_backward
from .sampling import sampler_for_eval

__all__ = ["ClassificationTask", "SegmentationTask", "task_for"]


class ClassificationTask:
    """Image classification with a recipe of the paper's Table 2; the headline metric is top-1."""
    headline = "top1"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.recipe: Recipe = cfg.recipe

    def datasets(self) -> Tuple[Dataset, Dataset]:
        from ..data import build_dataset, build_eval_transform, build_train_transform

        r, cfg = self.recipe, self.cfg
        train_tf = build_train_transform(cfg.img_size, crop=r.crop, hflip=r.hflip, three_augment=r.three_augment,
                                         color_jitter=r.color_jitter, rand_augment=r.rand_augment,
                                         re_prob=r.random_erasing)
        eval_tf = build_eval_transform(cfg.img_size, crop_ratio=r.eval_crop_ratio)
        opts = dict(cfg.data.options)
        return (build_dataset(cfg.data.name, cfg.data.root, cfg.data.train_split, transform=train_tf, **opts),
                build_dataset(cfg.data.name, cfg.data.root, cfg.data.val_split, transform=eval_tf, **opts))

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
        return clip_after_backward(self.recipe)

    def evaluate(self, model: nn.Module, val_set: Dataset, dist: DistInfo, amp_dtype, batch_size: int,
                 workers: int, show_progress: bool, bad_samples: Optional[BadSampleLog] = None) -> Dict[str, float]:
        subset = Subset(val_set, sampler_for_eval(len(val_set), dist.rank, dist.world_size))
        loader = DataLoader(subset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=workers,
                            pin_memory=dist.device.type == "cuda")
        return evaluate(model, loader, dist.device, amp_dtype, show_progress=show_progress, bad_samples=bad_samples)

    def summary(self, val: Dict[str, Any]) -> Dict[str, Any]:
        return {"top1": val.get("top1"), "top5": val.get("top5"), "val_loss": val.get("loss"),
                "val_images": val.get("n")}


class SegmentationTask:
    """Segmenter on ADE20K: crops of ``img_size``, poly schedule per iteration, mIoU by sliding windows."""
    headline = "miou"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.recipe: SegRecipe = cfg.recipe

    def datasets(self) -> Tuple[Dataset, Dataset]:
        from ..data import build_dataset, build_seg_eval_transform, build_seg_train_transform

        r, cfg = self.recipe, self.cfg
        train_tf = build_seg_train_transform(cfg.img_size, base_size=r.base_size, ratio_range=r.ratio_range,
                                             cat_max_ratio=r.cat_max_ratio, hflip=r.hflip, photometric=r.photometric)
        eval_tf = build_seg_eval_transform(cfg.img_size)
        opts = dict(cfg.data.options)
        return (build_dataset(cfg.data.name, cfg.data.root, cfg.data.train_split, transform=train_tf, **opts),
                build_dataset(cfg.data.name, cfg.data.root, cfg.data.val_split, transform=eval_tf, **opts))

    def model(self, num_classes: int) -> nn.Module:
        from ..segmentation import create_segmenter

        r, cfg = self.recipe, self.cfg
        return create_segmenter(cfg.model, num_classes, cfg.img_size, pretrained=cfg.init_checkpoint,
                                decoder_layers=r.decoder_layers, dropout=r.decoder_dropout,
                                drop_path_rate=self.drop_path_rate,
                                backbone_kwargs={"init_values": r.layer_scale, **dict(cfg.model_kwargs)})

    @property
    def drop_path_rate(self) -> float:
        return float(self.recipe.drop_path)

    def ema(self, model: nn.Module) -> None:
        return None

    def aux_weights(self, model: nn.Module) -> Dict[str, float]:
        return {}

    def train_module(self, model: nn.Module) -> nn.Module:
        return model

    def repeats(self, distributed: bool) -> int:
        return 1

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        from timm.optim import create_optimizer_v2

        r = self.recipe
        return create_optimizer_v2(model, opt=r.optimizer, lr=r.lr, weight_decay=r.weight_decay, momentum=r.momentum)

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        from timm.scheduler import PolyLRScheduler

        r = self.recipe
        return PolyLRScheduler(optimizer, t_initial=r.epochs * steps_per_epoch, power=r.poly_power, lr_min=r.min_lr,
                               t_in_epochs=False)

    def criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss(ignore_index=255)

    def mixup(self, num_classes: int) -> None:
        return None

    def clip(self) -> Optional[float]:
        return self.recipe.grad_clip

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


def task_for(cfg: TrainConfig):
    return SegmentationTask(cfg) if cfg.task == "segmentation" else ClassificationTask(cfg)
