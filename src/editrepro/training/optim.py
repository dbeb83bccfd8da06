"""Optimiser, schedule, loss and mixup of a recipe, all from timm.

- LAMB is timm's ``Lamb``; its ``max_grad_norm`` (``lamb_max_grad_norm``, 1.0) is the global-norm clip
  apex FusedLAMB applies inside its step (DeiT III's ``--opt fusedlamb``), whatever ``--clip-grad`` says.
  ``grad_clip`` is ``--clip-grad``: ``clip_grad_norm_`` on the unscaled gradients before any optimizer's step,
  as timm's ``NativeScaler`` does (the engine).
- Weight decay is off for biases, norms, LayerScale and the model's ``no_weight_decay()``
  (pos-embed, [CLS]) through timm's parameter groups.
- The schedule is timm's cosine with linear warmup, stepped once per epoch: ``schedule_epoch`` says which
  epoch's lr an epoch trains at (``sched_step``: DeiT's and PVT's main.py, or timm's train.py).
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

from ..recipes import Recipe

__all__ = ["build_optimizer", "build_scheduler", "build_criterion", "build_mixup", "clip_after_backward",
           "schedule_epoch"]


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    kwargs = dict(eps=recipe.opt_eps, betas=recipe.opt_betas)
    if recipe.optimizer == "lamb":
        kwargs["max_grad_norm"] = recipe.lamb_max_grad_norm  # FusedLAMB's own clip; None disables it
    return create_optimizer_v2(model, opt=recipe.optimizer, lr=recipe.peak_lr, weight_decay=recipe.weight_decay,
                               filter_bias_and_bn=True, **kwargs)


def clip_after_backward(recipe: Recipe, model_name: str) -> Optional[float]:
    """The clip the training step applies itself (``--clip-grad``, for ``model_name``'s size), after unscaling and
    before the optimizer step; LAMB's own clip (``lamb_max_grad_norm``) comes on top, inside its step."""
    return recipe.grad_clip_for(model_name)


def schedule_epoch(recipe, epoch: int) -> int:
    """The epoch index whose learning rate (``scheduler.step(index)``) epoch ``epoch`` trains at.

    ``reference`` (DeiT's and PVT's main.py): the scheduler starts at lr(0) and ``lr_scheduler.step(epoch)``
    follows each epoch, so epoch 0 and epoch 1 both train at lr(0) and epoch e >= 1 at lr(e - 1).
    ``timm`` (timm's train.py: ``step(epoch + 1)`` after each epoch): epoch e trains at lr(e). A recipe
    without ``sched_step`` (segmentation, detection: stepped per iteration) gets the identity."""
    if getattr(recipe, "sched_step", "timm") == "reference":
        return max(epoch - 1, 0)
    return epoch


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
