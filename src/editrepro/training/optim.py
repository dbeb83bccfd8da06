"""Optimiser, schedule, loss and mixup of a recipe, all from timm.

- LAMB is timm's ``Lamb``; its ``max_grad_norm`` is the global-norm clip apex FusedLAMB
  applies internally (DeiT III's optimiser). AdamW clips through ``clip_grad_norm_``.
- Weight decay is off for biases, norms, LayerScale and the model's ``no_weight_decay()``
  (pos-embed, [CLS]) through timm's parameter groups.
- The schedule is timm's cosine with linear warmup, stepped once per epoch.
- ``bce`` is timm's ``BinaryCrossEntropy(smoothing=0, target_threshold=0)``: DeiT III's
  BCE on mixup targets binarised with ``> 0``.
"""
from typing import Optional

import torch
from torch import nn
from timm.data import Mixup
from timm.loss import BinaryCrossEntropy, LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler

from .config import Recipe

__all__ = ["build_optimizer", "build_scheduler", "build_criterion", "build_mixup", "clip_after_backward"]


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    kwargs = dict(eps=recipe.opt_eps, betas=recipe.opt_betas)
    if recipe.optimizer == "lamb":
        kwargs["max_grad_norm"] = recipe.grad_clip  # None disables LAMB's internal clip
    return create_optimizer_v2(model, opt=recipe.optimizer, lr=recipe.lr, weight_decay=recipe.weight_decay,
                               filter_bias_and_bn=True, **kwargs)


def clip_after_backward(recipe: Recipe) -> Optional[float]:
    """The clip the training step applies itself (AdamW); LAMB clips inside its step."""
    return recipe.grad_clip if recipe.optimizer != "lamb" else None


def build_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> CosineLRScheduler:
    return CosineLRScheduler(
        optimizer,
        t_initial=recipe.epochs,
        lr_min=recipe.min_lr,
        warmup_t=recipe.warmup_epochs,
        warmup_lr_init=recipe.warmup_lr,
        t_in_epochs=True,
    )


def build_mixup(recipe: Recipe, num_classes: int) -> Optional[Mixup]:
    if not recipe.uses_mixup:
        return None
    return Mixup(
        mixup_alpha=recipe.mixup,
        cutmix_alpha=recipe.cutmix,
        prob=recipe.mixup_prob,
        switch_prob=recipe.mixup_switch_prob,
        mode="batch",
        label_smoothing=recipe.label_smoothing,
        num_classes=num_classes,
    )


def build_criterion(recipe: Recipe) -> nn.Module:
    """The training loss; it takes the targets ``build_mixup`` produces (soft) or class indices."""
    if recipe.loss == "bce":
        return BinaryCrossEntropy(smoothing=0.0, target_threshold=0.0)
    if recipe.uses_mixup:
        return SoftTargetCrossEntropy()  # label smoothing is folded into the mixup targets
    if recipe.label_smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing=recipe.label_smoothing)
    return nn.CrossEntropyLoss()
