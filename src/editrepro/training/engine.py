"""One epoch of training and one evaluation pass; both return plain metric dicts.

Every optimizer step seeds the global RNGs from (seed, epoch, step, rank), so drop-path
and mixup draws, like the augmentations (see ``runtime/sampling.py``), do not depend on history:
a job resumed at step k computes what the uninterrupted job computed at step k.

A batch is ``(inputs, targets)``: tensors for classification and segmentation, lists of images and
of target dicts for detection (moved to the device element by element). How a step's loss comes out
of the model is ``StepContext.loss_fn``: by default ``criterion(model(inputs), targets)`` plus the
model's weighted auxiliary losses; a task replaces it where its model computes the loss itself
(torchvision's detectors) or returns further outputs (UperNet's auxiliary head).

Batches may carry a third element, the notes of ``data.bad_samples.TolerantDataset`` (which
samples were unreadable and replaced); they are counted into ``StepContext.bad_samples`` and
across ranks, and past its limit the step stops the job.
"""
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import torch
from torch import nn
from tqdm import tqdm

from ..data.bad_samples import BadSampleLog
from ..runtime.amp import autocast
from ..runtime.distributed import all_reduce_sum
from ..runtime.sampling import mix_seed, seed_all
from .aux_loss import split_output, total_loss

__all__ = ["NonFiniteLossError", "StepContext", "train_one_epoch", "evaluate", "to_device", "batch_size_of",
           "LossFn"]

# (model, inputs, targets, ctx) -> (loss, its terms by name): how a training step's loss is computed
LossFn = Callable[[nn.Module, Any, Any, "StepContext"], Tuple[torch.Tensor, Dict[str, torch.Tensor]]]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; no update was applied."""


@dataclass
class StepContext:
    """What ``train_one_epoch`` needs besides the model and data."""
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    device: torch.device
    accum_steps: int = 1
    mixup: Optional[Callable] = None
    amp_dtype: Optional[torch.dtype] = None
    scaler: Optional[torch.amp.GradScaler] = None
    clip_grad: Optional[float] = None
    ema: Optional[nn.Module] = None
    aux_weights: Dict[str, float] = field(default_factory=dict)   # auxiliary loss -> weight (model returns it)
    bad_samples: Optional[BadSampleLog] = None                       # unreadable samples met (and their limit)
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    show_progress: bool = True
    loss_fn: Optional[LossFn] = None          # None: classification_loss


def classification_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: StepContext
                        ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``criterion(logits, targets)`` plus the model's auxiliary losses, weighted (``total_loss``)."""
    logits, aux = split_output(model(inputs))
    return total_loss(ctx.criterion(logits, targets), aux, ctx.aux_weights)


def to_device(x: Any, device: torch.device) -> Any:
    """Tensors, and the lists, tuples and dicts of them a detection batch is, moved to ``device``."""
    if torch.is_tensor(x):
        return x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device) for v in x)
    return x


def batch_size_of(inputs: Any) -> int:
    """Images in a batch: a tensor's first dimension or a list's length."""
    return int(inputs.shape[0]) if torch.is_tensor(inputs) else len(inputs)


def _unpack(batch) -> tuple:
    """``(inputs, targets, notes)`` of a batch; no notes unless the dataset is a ``TolerantDataset``."""
    return batch[0], batch[1], (batch[2] if len(batch) > 2 else ())


def train_one_epoch(
        model: nn.Module,
        batches: Iterable,
        ctx: StepContext,
        epoch: int,
        steps: int,
        start_step: int = 0,
        on_step: Optional[Callable[[int, Dict[str, float]], None]] = None,
        should_stop: Callable[[], bool] = lambda: False,
        checkpoint_due: Callable[[], bool] = lambda: False,
        on_checkpoint: Optional[Callable[[int], None]] = None,
) -> Dict[str, float]:
    """Run optimizer steps ``start_step .. steps-1`` of ``epoch``.

    After a step at which any rank's ``checkpoint_due()`` (the time-based checkpoint) is true,
    every rank calls ``on_checkpoint(next step)``; the last step of the epoch leaves it to the
    epoch's own checkpoint.

    Returns ``loss`` (mean over the steps run; the total with any auxiliary losses), ``terms``
    (the means of its terms: ``task_loss`` and each auxiliary loss, or a detector's losses), ``images_per_sec``,
    ``steps_done`` and ``next_step``; ``next_step < steps`` means the epoch was interrupted by
    ``should_stop`` (checked collectively after each step, so all ranks stop at the same step).
    """
    model.train()
    loss_fn = ctx.loss_fn or classification_loss
    it = iter(batches)
    loss_total, done, images = 0.0, 0, 0
    term_totals: Dict[str, float] = {}
    started = time.perf_counter()
    bar = tqdm(total=steps, initial=start_step, desc=f"epoch {epoch}", disable=not ctx.show_progress,
               dynamic_ncols=True, mininterval=1.0, leave=False)
    step = start_step
    while step < steps:
        t0 = time.perf_counter()
        step_seed = mix_seed(ctx.seed, epoch, step, ctx.rank, 0x5EED)
        loss_sum = torch.zeros((), device=ctx.device)
        term_sums: Dict[str, torch.Tensor] = {}
        n_images, new_bad = 0, 0
        for micro in range(ctx.accum_steps):
            images_, targets, notes = _unpack(next(it))
            if ctx.bad_samples is not None:
                new_bad += ctx.bad_samples.add(notes)
            images_ = to_device(images_, ctx.device)
            targets = to_device(targets, ctx.device)
            seed_all(mix_seed(step_seed, micro))
            if ctx.mixup is not None:
                images_, targets = ctx.mixup(images_, targets)
            last = micro == ctx.accum_steps - 1
            sync = nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
            with sync:
                with autocast(ctx.device, ctx.amp_dtype):
                    loss, terms = loss_fn(model, images_, targets, ctx)
                scaled = loss / ctx.accum_steps
                (ctx.scaler.scale(scaled) if ctx.scaler is not None else scaled).backward()
            loss_sum += loss.detach().float()
            for k, v in terms.items():
                term_sums[k] = term_sums.get(k, 0.0) + v.detach().float()
            n_images += batch_size_of(images_)
        # one collective per step: the global mean loss (and its terms), whether any rank wants to stop or to
        # checkpoint, and the bad samples met
        names = sorted(term_sums)
        flags = torch.tensor([float(should_stop()), float(checkpoint_due()), float(new_bad)], device=ctx.device)
        state = torch.cat([(loss_sum / ctx.accum_steps).reshape(1), flags]
                          + [(term_sums[k] / ctx.accum_steps).reshape(1) for k in names])
        state = all_reduce_sum(state).tolist()          # one transfer to the host a step
        loss_value = state[0] / ctx.world_size
        stop_now, checkpoint_now = state[1] > 0, state[2] > 0
        term_values = {k: state[4 + i] / ctx.world_size for i, k in enumerate(names)}
        if ctx.bad_samples is not None:
            ctx.bad_samples.total += int(state[3])
            ctx.bad_samples.check(ctx.bad_samples.total)
        if not math.isfinite(loss_value):
            ctx.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLossError(f"loss is {loss_value} at epoch {epoch}, step {step}")
        if ctx.scaler is not None:
            if ctx.clip_grad is not None:
                ctx.scaler.unscale_(ctx.optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), ctx.clip_grad)
            ctx.scaler.step(ctx.optimizer)
            ctx.scaler.update()
        else:
            if ctx.clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), ctx.clip_grad)
            ctx.optimizer.step()
        ctx.optimizer.zero_grad(set_to_none=True)
        if ctx.ema is not None:
            ctx.ema.update(model)
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)
        dt = time.perf_counter() - t0
        global_images = n_images * ctx.world_size
        loss_total += loss_value
        for k, v in term_values.items():
            term_totals[k] = term_totals.get(k, 0.0) + v
        done += 1
        images += global_images
        metrics = {"loss": loss_value, **term_values, "lr": ctx.optimizer.param_groups[0]["lr"],
                   "images_per_sec": global_images / dt}
        if on_step is not None:
            on_step(step, metrics)
        bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{metrics['lr']:.2e}", ips=f"{metrics['images_per_sec']:.0f}",
                        refresh=False)
        bar.update(1)
        step += 1
        if stop_now:
            break
        if checkpoint_now and on_checkpoint is not None and step < steps:
            on_checkpoint(step)
    bar.close()
    elapsed = time.perf_counter() - started
    return {
        "loss": loss_total / max(done, 1),
        "terms": {k: v / max(done, 1) for k, v in term_totals.items()},
        "bad_samples": ctx.bad_samples.total if ctx.bad_samples is not None else 0,
        "images_per_sec": images / elapsed if elapsed > 0 else 0.0,
        "steps_done": done,
        "next_step": step,
    }


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, device: torch.device, amp_dtype: Optional[torch.dtype] = None,
             show_progress: bool = False, bad_samples: Optional[BadSampleLog] = None,
             predictions: Optional[list] = None) -> Dict[str, float]:
    """Top-1, top-5 (top-k with k = min(5, classes)) and cross-entropy, exact across ranks; with
    ``bad_samples``, the unreadable (replaced) samples counted and held to its limit; with
    ``predictions`` (a list), each batch's top-1 classes (a CPU int64 tensor) appended to it, in this
    rank's batch order (ImageNet-ReaL scores them per image)."""
    model.eval()
    sums = torch.zeros(5, device=device, dtype=torch.float64)  # loss, top1, top5, n, bad samples
    for batch in tqdm(batches, desc="eval", disable=not show_progress, leave=False, mininterval=1.0):
        images, targets, notes = _unpack(batch)
        if bad_samples is not None:
            sums[4] += bad_samples.add(notes)
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(images)
        logits = logits.float()
        k = min(5, logits.shape[-1])
        top = logits.topk(k, dim=-1).indices
        hit = top.eq(targets[:, None])
        if predictions is not None:
            predictions.append(top[:, 0].cpu())
        sums[0] += nn.functional.cross_entropy(logits, targets, reduction="sum").double()
        sums[1] += hit[:, 0].sum()
        sums[2] += hit.any(dim=-1).sum()
        sums[3] += targets.numel()
    sums = all_reduce_sum(sums)
    n = max(sums[3].item(), 1.0)
    if bad_samples is not None:
        bad_samples.total = int(sums[4].item())
        bad_samples.check(bad_samples.total)
    return {"loss": sums[0].item() / n, "top1": 100.0 * sums[1].item() / n, "top5": 100.0 * sums[2].item() / n,
            "n": int(sums[3].item()), "bad_samples": int(sums[4].item())}
