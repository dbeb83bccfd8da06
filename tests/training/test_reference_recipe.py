"""The reference code's recipe details (docs/reference.md sections 2 and 7) against hand-computed values:
when the scheduler steps (DeiT's / PVT's main.py against timm's train.py), LAMB's own clip at 1.0, fp16 with a
loss scaler (the optimizer sees unscaled gradients), PVTv2's per-size clip and drop path, PVT's lr scaling."""
import json
import math
from dataclasses import replace

import pytest
import torch
from synthetic import Synthetic, job
from torch import nn

from editrepro.recipes import load_recipe
from editrepro.training.engine import StepContext, train_one_epoch
from editrepro.training.optim import build_optimizer, build_scheduler, clip_after_backward, schedule_epoch
from editrepro.training.trainer import Preempted, train

LR, MIN_LR, WARMUP_LR, EPOCHS, WARMUP = 1e-3, 1e-5, 1e-6, 6, 2


def timm_cosine(t: int) -> float:
    """timm's CosineLRScheduler._get_lr written out (timm/scheduler/cosine_lr.py: warmup_prefix False, one cycle,
    k_decay 1, t_initial = the recipe's epochs): linear warmup from warmup_lr for t < warmup_t, then the cosine
    over t / t_initial counted from t = 0, so the warmup epochs are inside the cosine's span."""
    if t < WARMUP:
        return WARMUP_LR + t * (LR - WARMUP_LR) / WARMUP
    return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * t / EPOCHS))


# the lr each epoch trains at: DeiT/PVT main.py (scheduler built at lr(0), step(epoch) after each epoch) and
# timm's train.py (step(epoch + 1) after each epoch)
REFERENCE = [timm_cosine(0), timm_cosine(0), timm_cosine(1), timm_cosine(2), timm_cosine(3), timm_cosine(4)]
TIMM = [timm_cosine(e) for e in range(EPOCHS)]


def schedule_recipe(mode):
    return load_recipe("config/recipes/in1k_pretrain.yaml", dict(epochs=EPOCHS, warmup_epochs=WARMUP, lr=LR,
                                                                 min_lr=MIN_LR, warmup_lr=WARMUP_LR, sched_step=mode))


def test_reference_lrs_written_out():
    # two epochs at warmup_lr, half way up in epoch 2, and the last epoch still above min_lr
    assert REFERENCE[0] == REFERENCE[1] == WARMUP_LR
    assert REFERENCE[2] == pytest.approx(WARMUP_LR + (LR - WARMUP_LR) / 2)
    assert REFERENCE[5] == pytest.approx(MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * 4 / 6)))
    assert REFERENCE[5] > MIN_LR + 0.2 * (LR - MIN_LR)


@pytest.mark.parametrize("mode,expected", [("reference", REFERENCE), ("timm", TIMM)])
def test_scheduler_stepped_as_the_mode_says(mode, expected):
    r = schedule_recipe(mode)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=r.lr)
    sched = build_scheduler(opt, r)
    lrs = []
    for epoch in range(EPOCHS):
        sched.step(schedule_epoch(r, epoch))
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx(expected, rel=1e-9)


def test_reference_is_every_classification_presets_default():
    for preset in ("in1k_pretrain", "in21k_pretrain", "finetune_in1k_from_in21k", "finetune_384", "transfer",
                   "lavit_in1k"):
        assert load_recipe(f"config/recipes/{preset}.yaml").sched_step == "reference", preset
    # a recipe that leaves the key out gets the schema's default
    assert load_recipe("config/recipes/in1k_pretrain.yaml", {}).sched_step == "reference"


def lrs_by_epoch(run_id, steps):
    """The lr the optimizer held at each logged step (train/lr: read after the step), grouped by epoch."""
    from mlflow.tracking import MlflowClient

    out = {}
    for m in MlflowClient().get_metric_history(run_id, "train/lr"):
        out.setdefault(m.step // steps, set()).add(m.value)
    return out


def test_trainer_trains_each_epoch_at_the_reference_lr_and_a_resumed_run_takes_it_up(tmp_path):
    kw = dict(epochs=EPOCHS, warmup_epochs=WARMUP, lr=LR, min_lr=MIN_LR, warmup_lr=WARMUP_LR, depth=1,
              mixup=0.0, cutmix=0.0, loss="ce", drop_path=0.0)
    steps = 32 // 16
    # SIGUSR1 while the first batch of epoch 3 loads: the job stops after that step and resumes mid-epoch
    with pytest.raises(Preempted, match="at epoch 3, step 1 of 2"):
        train(job(tmp_path / "run", **kw), datasets=(Synthetic(32, signal_at=3 * 32 + 5), Synthetic(16, seed=1)))
    metrics = train(job(tmp_path / "run", **kw), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    measured = lrs_by_epoch(metrics["run_id"], steps)
    assert sorted(measured) == list(range(EPOCHS))
    for epoch, lrs in measured.items():
        assert len(lrs) == 1, (epoch, lrs)          # one lr through the epoch, resumed part included
        assert lrs.pop() == pytest.approx(REFERENCE[epoch], rel=1e-9), epoch
    logged = [json.loads(line)["lr"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert logged == pytest.approx(REFERENCE, rel=1e-9)


def test_trainer_in_timm_mode_trains_epoch_e_at_lr_e(tmp_path):
    kw = dict(epochs=EPOCHS, warmup_epochs=WARMUP, lr=LR, min_lr=MIN_LR, warmup_lr=WARMUP_LR, depth=1,
              mixup=0.0, cutmix=0.0, loss="ce", drop_path=0.0, sched_step="timm")
    metrics = train(job(tmp_path / "run", **kw), datasets=(Synthetic(32), Synthetic(16, seed=1)))
    measured = lrs_by_epoch(metrics["run_id"], 2)
    assert {e: v.pop() for e, v in measured.items()} == pytest.approx(dict(enumerate(TIMM)), rel=1e-9)


# --- LAMB's own clip (apex FusedLAMB: max_grad_norm 1.0) ------------------------------------------------------


def lamb_first_moment_after_one_step(recipe, grad):
    model = nn.Linear(4, 3, bias=False)
    opt = build_optimizer(model, recipe)
    model.weight.grad = grad.clone()
    opt.step()
    return opt.state[model.weight]["exp_avg"]


@pytest.mark.parametrize("preset", ["transfer", "in1k_pretrain", "in21k_pretrain", "finetune_in1k_from_in21k"])
def test_every_lamb_preset_clips_a_huge_gradient_at_1(preset):
    recipe = load_recipe(f"config/recipes/{preset}.yaml")
    assert recipe.optimizer == "lamb" and recipe.lamb_max_grad_norm == 1.0 and recipe.grad_clip is None
    grad = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 100.0      # norm 2250.3
    norm = math.sqrt(sum((100.0 * i) ** 2 for i in range(12)))
    # first step: exp_avg = (1 - beta1) x the clipped gradient = 0.1 x g / (||g|| / 1.0)
    expected = 0.1 * grad / norm
    torch.testing.assert_close(lamb_first_moment_after_one_step(recipe, grad), expected, rtol=1e-6, atol=0)


def test_lamb_clip_off_and_below_threshold():
    grad = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 100.0
    off = load_recipe("config/recipes/transfer.yaml", {"lamb_max_grad_norm": None})
    torch.testing.assert_close(lamb_first_moment_after_one_step(off, grad), 0.1 * grad, rtol=1e-6, atol=0)
    small = grad / 1e4                                                      # norm 0.225 < 1: untouched
    torch.testing.assert_close(lamb_first_moment_after_one_step(load_recipe("config/recipes/transfer.yaml"), small),
                               0.1 * small, rtol=1e-6, atol=0)


# --- fp16 with a loss scaler: the optimizer (and the clip) see unscaled gradients --------------------------------


class Dot(nn.Module):
    """loss = sum(logits * targets): the weight's gradient is sum_i outer(t_i, x_i), known exactly."""

    def forward(self, logits, targets):
        return (logits.float() * targets).sum()


def fp16_step(recipe, model_name="edit_tiny_patch16_224", init_scale=16.0):
    """One engine step under CPU fp16 autocast with a GradScaler; returns the gradient norm the optimizer saw at
    its step and the model."""
    torch.manual_seed(0)
    model = nn.Linear(8, 4, bias=False)
    opt = build_optimizer(model, recipe)
    seen = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(model.weight.grad.norm().item()))
    x, t = torch.full((2, 8), 0.25), torch.full((2, 4), 0.125)
    ctx = StepContext(optimizer=opt, criterion=Dot(), device=torch.device("cpu"), amp_dtype=torch.float16,
                      scaler=torch.amp.GradScaler("cpu", init_scale=init_scale),
                      clip_grad=clip_after_backward(recipe, model_name), show_progress=False)
    train_one_epoch(model, [(x, t)], ctx, epoch=0, steps=1)
    return seen, opt, model


GRAD_NORM = 2 * 0.125 * 0.25 * math.sqrt(32)      # every entry 2 x 0.125 x 0.25: ||g|| = 0.3536


def test_fp16_scaler_hands_lamb_unscaled_gradients():
    recipe = load_recipe("config/recipes/transfer.yaml")
    seen, opt, model = fp16_step(recipe)
    # scaled by 16 the norm would be 5.66 > 1 and LAMB's clip would halve... everything; unscaled it is 0.354 < 1
    assert seen == pytest.approx([GRAD_NORM], rel=1e-3)
    torch.testing.assert_close(opt.state[model.weight]["exp_avg"], torch.full((4, 8), 0.1 * 0.0625), rtol=1e-3,
                               atol=0)


def test_fp16_scaler_clips_adamw_gradients_after_unscaling():
    recipe = load_recipe("config/recipes/finetune_384.yaml", {"grad_clip": 0.1})
    seen, _, _ = fp16_step(recipe)
    assert seen == pytest.approx([0.1], rel=1e-4)       # clipped from 0.354 (5.66 if clipped before unscaling)
    seen, _, _ = fp16_step(load_recipe("config/recipes/finetune_384.yaml", {"grad_clip": 1.0}))
    assert seen == pytest.approx([GRAD_NORM], rel=1e-3)   # below the clip: unscaled and untouched


def test_a_job_trains_under_fp16_with_the_scaler_on_cpu(tmp_path):
    cfg = replace(job(tmp_path / "run", epochs=2, depth=1), amp="fp16")
    metrics = train(cfg, datasets=(Synthetic(64), Synthetic(16, seed=1)))
    history = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(h["train_loss"]) for h in history) and metrics["top1"] is not None
    from editrepro.training.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "checkpoint.pth")["scaler"]["scale"] > 0


# --- PVTv2's recipe: per-size clip and drop path, lr per 512 images ----------------------------------------------


@pytest.mark.parametrize("model,clip,drop_path", [
    ("pvt_v2_b1", None, 0.1), ("pvt_v2_b2", None, 0.1), ("pvt_v2_b3", 1.0, 0.3),   # configs/pvt_v2/pvt_v2_b*.py
    ("lavit_tiny_224", None, 0.1), ("lavit_small_224", None, 0.1), ("lavit_base_224", 1.0, 0.3),
])
def test_pvt_v2_recipe_by_size(model, clip, drop_path):
    r = load_recipe("config/recipes/lavit_in1k.yaml")
    assert r.grad_clip_for(model) == clip and clip_after_backward(r, model) == clip
    assert r.drop_path_for(model) == drop_path


def test_pvt_lr_is_per_512_images_and_repeated_aug_is_on():
    r = load_recipe("config/recipes/lavit_in1k.yaml")
    assert (r.lr, r.lr_batch, r.batch_size, r.repeated_aug) == (5e-4, 512, 1024, True)
    assert r.peak_lr == pytest.approx(5e-4 * 1024 / 512)           # PVT: 8 GPUs x 128 -> 1e-3
    assert load_recipe("config/recipes/lavit_in1k.yaml", {"batch_size": 256}).peak_lr == pytest.approx(2.5e-4)
    assert load_recipe("config/recipes/lavit_in1k.yaml", {"lr_batch": None}).peak_lr == 5e-4   # as given
    opt = build_optimizer(nn.Linear(2, 2), r)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3] * len(opt.param_groups))
    # the DeiT III recipes use their lr as given (--unscale-lr)
    assert load_recipe("config/recipes/in1k_pretrain.yaml").peak_lr == 3e-3


def test_size_mapping_errors_name_the_key():
    from editrepro.recipes import ConfigError

    r = load_recipe("config/recipes/lavit_in1k.yaml", {"grad_clip": {"base": 1.0}})
    with pytest.raises(ConfigError, match=r"grad_clip gives values for \['base'\] but model 'pvt_v2_b1'"):
        r.grad_clip_for("pvt_v2_b1")
    with pytest.raises(ConfigError, match=r"grad_clip"):
        load_recipe("config/recipes/lavit_in1k.yaml", {"grad_clip": {"huge": 1.0}})
    with pytest.raises(ConfigError, match=r"sched_step: 'after' is not one of"):
        load_recipe("config/recipes/lavit_in1k.yaml", {"sched_step": "after"})
