"""Recipe pieces against hand-computed values: schedule, BCE, mixup, label smoothing, batch plan."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from editrepro.recipes import ConfigError, load_recipe
from editrepro.training.optim import build_criterion, build_mixup, build_optimizer, build_scheduler


def recipe(**over):
    return load_recipe("config/recipes/in1k_pretrain.yaml", over)


def test_cosine_schedule_with_linear_warmup_per_epoch():
    r = recipe(epochs=10, warmup_epochs=2, lr=1e-3, min_lr=1e-5, warmup_lr=1e-6)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=r.lr)
    sched = build_scheduler(opt, r)
    lrs = []
    for epoch in range(10):
        sched.step(epoch)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[1] == pytest.approx(1e-6 + (1e-3 - 1e-6) / 2)          # linear warmup, half way
    for t in range(2, 10):                                              # timm cosine over t / t_initial
        assert lrs[t] == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * t / 10)))


def test_finetune_384_is_flat_after_warmup():
    r = load_recipe("config/recipes/finetune_384.yaml")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=r.lr)
    sched = build_scheduler(opt, r)
    lrs = []
    for epoch in range(r.epochs):
        sched.step(epoch)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[5:] == pytest.approx([1e-5] * 15)


def test_bce_binarises_mixed_targets():
    r = recipe()
    criterion = build_criterion(r)
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -3.0]])
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.0, 1.0, 0.0]])           # a mixup target: two classes present
    hard = (soft > 0).float()
    expected = F.binary_cross_entropy_with_logits(logits, hard)       # DeiT III: BCEWithLogits on targets > 0
    assert criterion(logits, soft).item() == pytest.approx(expected.item(), rel=1e-6)
    manual = -(hard * F.logsigmoid(logits) + (1 - hard) * F.logsigmoid(-logits)).mean()
    assert criterion(logits, soft).item() == pytest.approx(manual.item(), rel=1e-6)


def test_label_smoothing_ce_without_mixup():
    r = load_recipe("config/recipes/transfer.yaml", dict(cutmix=0.0))
    criterion = build_criterion(r)
    logits = torch.tensor([[1.0, 2.0, 0.5, -1.0]])
    logp = F.log_softmax(logits, -1)
    expected = -(0.9 * logp[0, 1] + 0.1 * logp[0].mean())
    assert criterion(logits, torch.tensor([1])).item() == pytest.approx(expected.item(), rel=1e-6)


def test_mixup_targets_and_images():
    r = recipe(mixup=0.8, cutmix=0.0, label_smoothing=0.0, mixup_prob=1.0, loss="ce")
    mixup = build_mixup(r, num_classes=3)
    np.random.seed(0)
    x = torch.stack([torch.full((3, 4, 4), float(i)) for i in range(4)])
    y = torch.tensor([0, 1, 2, 0])
    mixed, targets = mixup(x.clone(), y)
    # batch mode: x_i <- lam x_i + (1 - lam) x_{B-1-i}, targets likewise
    lam = (mixed[1, 0, 0, 0].item() - 2.0) / (1.0 - 2.0)
    assert mixed[1, 0, 0, 0].item() == pytest.approx(lam * 1 + (1 - lam) * 2)
    assert targets[1].tolist() == pytest.approx([0.0, lam, 1 - lam])
    assert targets.sum(-1).tolist() == pytest.approx([1.0] * 4)


def test_weight_decay_groups_and_lamb_clip():
    import timm
    model = timm.create_model("edit_tiny_patch16_224", img_size=32, depth=1, num_classes=3)
    opt = build_optimizer(model, recipe())
    decay = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    named = dict(model.named_parameters())
    assert id(named["decoder.kv.weight"]) in decay and id(named["blocks.0.mlp.fc1.weight"]) in decay
    for name in ("blocks.0.ls1.gamma", "cls_token", "pos_embed", "blocks.0.norm1.weight", "head.bias"):
        assert id(named[name]) not in decay, name
    assert type(opt).__name__ == "Lamb" and opt.defaults["max_grad_norm"] == 1.0
    transfer = build_optimizer(model, load_recipe("config/recipes/transfer.yaml"))
    assert transfer.defaults["max_grad_norm"] == 1.0          # FusedLAMB's own clip, Table 2's "x" notwithstanding
    assert sorted(g["weight_decay"] for g in transfer.param_groups) == [0.0, 0.01]


@pytest.mark.parametrize("preset,expected", [
    ("in21k_pretrain", dict(epochs=240, batch_size=2048, lr=3e-3, weight_decay=0.02, label_smoothing=0.1, loss="ce",
                            crop="src", mixup=0.0, cutmix=1.0, repeated_aug=False, color_jitter=0.3, grad_clip=None,
                            lamb_max_grad_norm=1.0)),
    ("in1k_pretrain", dict(epochs=800, batch_size=2048, lr=3e-3, weight_decay=0.02, label_smoothing=0.0, loss="bce",
                           crop="rrc", mixup=0.8, cutmix=1.0, repeated_aug=True, color_jitter=0.3, hflip=True)),
    ("transfer", dict(epochs=400, batch_size=768, lr=1e-4, weight_decay=0.01, label_smoothing=0.1, loss="ce",
                      hflip=False, color_jitter=None, mixup=0.0, cutmix=1.0, grad_clip=None, lamb_max_grad_norm=1.0,
                      drop_path=0.1)),
    ("finetune_384", dict(epochs=20, batch_size=512, optimizer="adamw", lr=1e-5, weight_decay=0.1,
                          rand_augment="rand-m9-mstd0.5-inc1", three_augment=False)),
])
def test_presets_carry_table2(preset, expected):
    r = load_recipe(f"config/recipes/{preset}.yaml")
    for key, value in expected.items():
        assert getattr(r, key) == value, key


def test_drop_path_by_model_size():
    r = recipe()
    assert r.drop_path_for("edit_tiny_patch16_224") == 0.0
    assert r.drop_path_for("deit3_ref_small_patch16_224") == 0.05


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"'lrr' was unexpected"):
        recipe(lrr=1e-3)
    with pytest.raises(ConfigError, match=r"in1k_pretrain.yaml: optimizer: 'sgd' is not one of"):
        recipe(optimizer="sgd")
    with pytest.raises(ConfigError, match=r"epochs: 'ten' is not of type 'integer'"):
        recipe(epochs="ten")
    with pytest.raises(ConfigError, match="label_smoothing must be 0 with the bce loss"):
        recipe(label_smoothing=0.1)
    with pytest.raises(FileNotFoundError, match="nope.yaml does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_batch_plan():
    from synthetic import job
    cfg = job("/tmp/x", batch_size=2048, per_device_batch=64)
    assert cfg.batch_plan(8) == (64, 4)           # 64 x 8 GPUs x 4 accumulation = 2048
    assert cfg.batch_plan(32) == (64, 1)
    with pytest.raises(ConfigError, match="batch_size 2048 is not per_device_batch 64 x 3 devices"):
        cfg.batch_plan(3)
