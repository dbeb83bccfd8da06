"""The DeiT III transforms: ranges, timm equivalence, the flip switch, SRC vs RRC, evaluation."""
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from timm.data import create_transform
from timm.data.auto_augment import AutoAugment
from torchvision.transforms import functional as TF

from editrepro.data import (
    IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, build_eval_transform, build_train_transform,
)

IDENTITY = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # output = ToTensor's [0, 1] values
PLAIN = dict(three_augment=False, color_jitter=None, **IDENTITY)  # crop (and flip) only


def _image(w=64, h=64, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _left_red_right_blue(w=48, h=48):
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2, 0] = 255
    a[:, w // 2:, 2] = 255
    return Image.fromarray(a)


def _seed(s):
    """Every generator the ops draw from: python (timm's crops and 3a), torch (flip, jitter),
    numpy (RandAugment's choice of ops)."""
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(crop="src"), dict(hflip=False, color_jitter=None),
    dict(three_augment=False, rand_augment="rand-m9-mstd0.5-inc1"), dict(re_prob=1.0),
])
def test_train_output_is_a_normalised_tensor(kwargs):
    tf = build_train_transform(32, **kwargs)
    lo = (0 - torch.tensor(IMAGENET_DEFAULT_MEAN)) / torch.tensor(IMAGENET_DEFAULT_STD)
    hi = (1 - torch.tensor(IMAGENET_DEFAULT_MEAN)) / torch.tensor(IMAGENET_DEFAULT_STD)
    for s in range(5):
        x = tf(_image(70, 50, s))
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32
        if not kwargs.get("re_prob"):  # random erasing writes normal noise
            assert (x >= lo.view(3, 1, 1) - 1e-5).all() and (x <= hi.view(3, 1, 1) + 1e-5).all()


@pytest.mark.parametrize("ours, timm_kwargs", [
    (dict(), dict(auto_augment="3a")),
    (dict(three_augment=False, rand_augment="rand-m9-mstd0.5-inc1"),
     dict(auto_augment="rand-m9-mstd0.5-inc1")),
])
def test_rrc_recipes_equal_timm_create_transform(ours, timm_kwargs):
    """RRC + flip + 3-Augment (or RandAugment) + jitter is timm's pipeline draw for draw."""
    a = build_train_transform(48, **ours)
    b = create_transform(48, is_training=True, scale=(0.08, 1.0), hflip=0.5, color_jitter=0.3,
                         interpolation="bicubic", **timm_kwargs)
    img = _image(80, 60)
    for s in range(8):
        _seed(s)
        x = a(img)
        _seed(s)
        assert torch.equal(x, b(img))


def test_three_augment_picks_grayscale_solarize_or_blur_uniformly():
    tf = build_train_transform(32, crop="src", hflip=False, color_jitter=None)
    (op,) = [t for t in tf.transforms if isinstance(t, AutoAugment)]
    img = _image(32, 32)
    gray = np.asarray(img.convert("L").convert("RGB"))  # the reference's Grayscale(3)
    solar = np.asarray(ImageOps.solarize(img, 128))
    counts = {"gray": 0, "solarize": 0, "blur": 0}
    random.seed(0)
    for _ in range(300):
        out = np.asarray(op(img))
        if np.array_equal(out, gray):
            counts["gray"] += 1
        elif np.array_equal(out, solar):
            counts["solarize"] += 1
        else:
            # a blur: smoother than the input, same mean colour
            assert _roughness(out) < _roughness(np.asarray(img))
            counts["blur"] += 1
    assert all(70 < c < 130 for c in counts.values()), counts


def _roughness(a):
    return np.abs(np.diff(a.astype(int), axis=1)).mean()


def _mirrored(x):
    """Red (channel 0) on the right half means the red-left / blue-right image was flipped."""
    w = x.shape[-1]
    return x[0, :, w // 2:].mean() > x[0, :, : w // 2].mean()


@pytest.mark.parametrize("crop", ["src", "rrc"])
def test_hflip_switch(crop):
    img = _left_red_right_blue()
    off = build_train_transform(32, crop=crop, hflip=False, **PLAIN)
    on = build_train_transform(32, crop=crop, hflip=True, **PLAIN)
    _seed(0)
    assert not any(_mirrored(off(img)) for _ in range(100))
    _seed(0)
    flips = sum(_mirrored(on(img)) for _ in range(100))
    assert 25 < flips < 75


def _windows(img, size, pad=4):
    """Every size x size window of the reflect-padded bicubic resize: what SRC may output."""
    base = TF.to_tensor(TF.resize(img, size, interpolation=TF.InterpolationMode.BICUBIC))
    padded = torch.nn.functional.pad(base[None], (pad,) * 4, mode="reflect")[0]
    shifts = range(2 * pad + 1)
    return [padded[:, i:i + size, j:j + size] for i in shifts for j in shifts]


def test_src_keeps_the_scale_and_rrc_does_not():
    img = _image(64, 64)
    windows = _windows(img, 32)
    src = build_train_transform(32, crop="src", hflip=False, **PLAIN)
    rrc = build_train_transform(32, crop="rrc", hflip=False, **PLAIN)
    _seed(0)
    for _ in range(20):  # SRC: the whole image resized, shifted by <= 4 px with reflect padding
        x = src(img)
        assert any(torch.allclose(x, w, atol=1e-6) for w in windows)
    _seed(0)
    assert not all(any(torch.allclose(rrc(img), w, atol=1e-6) for w in windows) for _ in range(5))


def test_invalid_recipes_are_refused():
    with pytest.raises(ValueError, match="alternative recipes"):
        build_train_transform(32, rand_augment="rand-m9-mstd0.5-inc1")
    with pytest.raises(ValueError, match="crop"):
        build_train_transform(32, crop="center")
    with pytest.raises(ValueError, match="crop_ratio"):
        build_eval_transform(32, crop_ratio=1.5)


def test_eval_at_ratio_one_is_a_bicubic_resize():
    img = _image(77, 77)
    x = build_eval_transform(32, **IDENTITY)(img)
    assert torch.equal(x, TF.to_tensor(img.resize((32, 32), Image.BICUBIC)))


def test_eval_resizes_the_short_side_then_center_crops():
    img = _image(120, 80)  # w, h
    x = build_eval_transform(32, crop_ratio=0.8, **IDENTITY)(img)
    resized = img.resize((60, 40), Image.BICUBIC)  # short side int(32 / 0.8) = 40
    assert x.shape == (3, 32, 32)
    assert torch.equal(x, TF.to_tensor(resized.crop((14, 4, 46, 36))))
    y = build_eval_transform(32)(img)
    assert y.shape == (3, 32, 32) and abs(y.mean().item()) < 3
