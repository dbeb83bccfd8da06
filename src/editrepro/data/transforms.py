"""The DeiT III image transforms: 3-Augment (with SRC or RRC crops), RandAugment, and evaluation.

Built by timm's own factories, ``timm.data.transforms_factory.transforms_imagenet_train`` and
``transforms_imagenet_eval``, so each op, its parameters and its draws are timm's (and, for
3-Augment, pixel-identical to the reference ``facebookresearch/deit`` ``augment.py``):

* 3-Augment (``three_augment=True``): crop, horizontal flip, then one of {grayscale, solarize at
  128, Gaussian blur with radius U(0.1, 2.0)} chosen uniformly (timm's ``auto_augment="3a"``),
  then ColorJitter(cj, cj, cj) without hue, then ToTensor and Normalize.
* Crops: ``"rrc"`` is timm's RandomResizedCrop (scale (0.08, 1), bicubic); ``"src"`` ("simple
  random crop", which timm lacks) is Resize(size, bicubic) + RandomCrop(size, padding=4, reflect),
  put in place of timm's crop (the factory's ``separate=True`` hands back its crop-and-flip stage).
* RandAugment (``rand_augment="rand-m9-mstd0.5-inc1"``, the 384 fine-tuning recipe) is timm's,
  with the hyper-parameters the factory gives it (translate_const = 0.45 * size, img_mean = mean
  in 0..255, bicubic); as there, colour jitter is not applied together with RandAugment.
* Random erasing (``re_prob``): timm's, per-pixel noise (DeiT's ``--remode pixel``), one region.
* The reference always flips; ``hflip=False`` is the transfer recipe's "no h-flip".

Evaluation: Resize(int(size / crop_ratio), bicubic) + CenterCrop(size) (the factory's
``crop_pct``), crop ratio 1.0 in every DeiT III command.

``tests/data/test_transforms_reference.py`` holds these to the hand-assembled transforms they
replaced, draw for draw.
"""
from __future__ import annotations

from typing import Sequence

from PIL import Image
from timm.data import auto_augment as _timm_aa
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.data.transforms import RandomResizedCropAndInterpolation
from timm.data.transforms_factory import transforms_imagenet_eval, transforms_imagenet_train
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

__all__ = [
    "build_train_transform", "build_eval_transform", "CROPS",
    "IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD",
]

CROPS = ("src", "rrc")


def _posterize(img: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """timm's posterize op as Pillow before 13 computed it: keeping 0 bits gives a black image.

    timm's RandAugment (``rand-m9-mstd0.5-inc1``: ``PosterizeIncreasing`` keeps ``4 - int(m / 10 * 4)``
    bits) asks for 0 bits at magnitude 10, which Pillow 13's ``ImageOps.posterize`` refuses ("bits
    must be between or equal to 1 and 8") and which stopped every RandAugment job at its first such draw.
    """
    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    from PIL import ImageOps

    return ImageOps.posterize(img, bits_to_keep)


for _name in ("Posterize", "PosterizeIncreasing", "PosterizeOriginal"):
    if _timm_aa.NAME_TO_OP.get(_name) is _timm_aa.posterize:
        _timm_aa.NAME_TO_OP[_name] = _posterize


def _simple_random_crop(img_size: int) -> list:
    """DeiT III's SRC (timm lacks it): Resize(size, bicubic) + RandomCrop(size, pad 4, reflect)."""
    return [T.Resize(img_size, interpolation=InterpolationMode.BICUBIC),
            T.RandomCrop(img_size, padding=4, padding_mode="reflect")]


def build_train_transform(
        img_size: int,
        *,
        crop: str = "rrc",
        hflip: bool = True,
        three_augment: bool = True,
        color_jitter: float | None = 0.3,
        rand_augment: str | None = None,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
        scale: tuple[float, float] = (0.08, 1.0),
        re_prob: float = 0.0,
) -> T.Compose:
    """The DeiT III training transform: PIL image -> normalised CHW float tensor.

    Args:
        img_size: output side.
        crop: ``"rrc"`` (RandomResizedCrop) or ``"src"`` (Resize + RandomCrop, reflect padding 4).
        hflip: random horizontal flip (p = 0.5).
        three_augment: 3-Augment's one-of {grayscale, solarize, blur}.
        color_jitter: brightness = contrast = saturation jitter; None or 0 skips it. Not applied
            with RandAugment, as in timm/DeiT.
        rand_augment: a timm RandAugment string, e.g. ``"rand-m9-mstd0.5-inc1"``; needs
            ``three_augment=False`` (the two are alternative recipes).
        mean, std: normalisation.
        scale: RandomResizedCrop's area range.
        re_prob: random-erasing probability (timm ``RandomErasing``, per-pixel noise as DeiT's
            ``--remode pixel``, after normalisation); 0 = off.
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, not {crop!r}")
    if three_augment and rand_augment:
        raise ValueError("3-Augment and RandAugment are alternative recipes: pass "
                         "three_augment=False with rand_augment (the 384 fine-tuning recipe uses "
                         "RandAugment alone)")
    primary, secondary, final = transforms_imagenet_train(
        img_size, scale=tuple(scale), hflip=0.5 if hflip else 0.0,
        # timm drops the jitter itself with RandAugment (not with "3a"); None, not 0, skips it
        # (ColorJitter(0, 0, 0) would still draw its op order)
        color_jitter=color_jitter or None,
        auto_augment="3a" if three_augment else rand_augment, interpolation="bicubic",
        mean=tuple(mean), std=tuple(std), re_prob=re_prob, re_mode="pixel", re_count=1,
        separate=True)
    ops = primary.transforms   # [RandomResizedCropAndInterpolation, (RandomHorizontalFlip)]
    if not isinstance(ops[0], RandomResizedCropAndInterpolation):
        raise RuntimeError(f"timm's primary training stage no longer starts with its crop: {ops}")
    if crop == "src":   # swap timm's crop for SRC
        ops = _simple_random_crop(img_size) + ops[1:]
    return T.Compose(ops + secondary.transforms + final.transforms)


def build_eval_transform(
        img_size: int,
        crop_ratio: float = 1.0,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
) -> T.Compose:
    """Resize(int(img_size / crop_ratio), bicubic) + CenterCrop(img_size) + ToTensor + Normalize."""
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"crop_ratio must be in (0, 1], not {crop_ratio}")
    return transforms_imagenet_eval(img_size, crop_pct=crop_ratio, interpolation="bicubic",
                                    mean=tuple(mean), std=tuple(std))
