"""Joint (image, mask) transforms for semantic segmentation: Segmenter's ADE20K pipeline, no mmseg.

Training follows Segmenter's mmseg config step by step:

1. ``Resize(img_scale=base_size, ratio_range=(0.5, 2.0))``: draw r ~ U(0.5, 2.0), then rescale
   keeping the aspect ratio so that the long side fits ``base_size[0] * r`` and the short side
   ``base_size[1] * r`` (mmcv's ``imrescale``); image bilinear, mask nearest, no antialiasing (as
   cv2 does).
2. ``RandomCrop(crop_size, cat_max_ratio=0.75)``: redraw the crop up to 10 times until no class
   covers 75% or more of its labelled pixels (ignore excluded, as mmseg does); the last draw
   stands if none passes.
3. ``RandomFlip(0.5)`` of both.
4. ``PhotoMetricDistortion``: brightness delta U(-32, 32), contrast x U(0.5, 1.5) (before or after
   the colour ops, a coin decides), saturation x U(0.5, 1.5) and hue shift of randint(-18, 18)
   in OpenCV's 0..180 hue units; each applied with probability 0.5, values clipped to 0..255.
   Saturation and hue are done in HSV with S clipped to [0, 1].
5. Normalise, then pad bottom and right to ``crop_size`` with 0 (image) and 255 (mask).

Evaluation resizes the short side to ``crop_size`` keeping the aspect ratio (no crop: sliding
windows belong to the model code). The mask stays at the annotation's own resolution by default,
where Segmenter scores its predictions (upsample the logits to ``mask.shape``);
``resize_mask=True`` resizes it with the image instead.

Every random draw comes from torch's generator, so ``torch.manual_seed`` (and DataLoader
workers' seeding) controls them. Both callables take ``(PIL image, PIL mask)`` with the mask
already mapped to training labels (``ADE20K`` does it) and give ``(float CHW tensor, int64 HW
tensor)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

__all__ = [
    "SegTrainTransform", "SegEvalTransform", "build_seg_train_transform",
    "build_seg_eval_transform", "photometric_distortion", "random_crop_box",
]


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _to_tensors(image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, H, W) float image in 0..255 and (H, W) int64 mask."""
    if image.size != mask.size:
        raise ValueError(f"image is {image.size} but mask is {mask.size} (width, height)")
    rgb = image if image.mode == "RGB" else image.convert("RGB")   # convert() copies even when it need not
    img = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)
    return img, torch.from_numpy(np.array(mask, dtype=np.int64))


def _resize(img: torch.Tensor, mask: torch.Tensor | None, size_hw: tuple[int, int]):
    img = F.interpolate(img[None], size=size_hw, mode="bilinear", align_corners=False,
                        antialias=False)[0]
    if mask is not None:
        mask = F.interpolate(mask[None, None].float(), size=size_hw, mode="nearest")[0, 0].long()
    return img, mask


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand(()).item()


def _coin() -> bool:
    return bool(torch.randint(2, ()).item())


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> HSV, each in [0, 1]."""
    r, g, b = x
    maxc, minc = x.max(0).values, x.min(0).values
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    d = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc])


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    sectors = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
    choices = torch.stack([torch.stack(c) for c in sectors])  # 6, 3, H, W
    return torch.gather(choices, 0, i[None, None].expand(1, 3, *i.shape))[0]


def photometric_distortion(img: torch.Tensor, brightness_delta: float = 32,
                           contrast_range: tuple[float, float] = (0.5, 1.5),
                           saturation_range: tuple[float, float] = (0.5, 1.5),
                           hue_delta: int = 18) -> torch.Tensor:
    """mmseg's ``PhotoMetricDistortion`` on a (3, H, W) float tensor in 0..255 (see above)."""
    if _coin():
        img = (img + _uniform(-brightness_delta, brightness_delta)).clamp(0, 255)
    contrast_first = _coin()
    if contrast_first and _coin():
        img = (img * _uniform(*contrast_range)).clamp(0, 255)
    do_saturation, do_hue = _coin(), _coin()
    if do_saturation or do_hue:
        hsv = _rgb_to_hsv(img / 255.0)
        if do_saturation:
            hsv[1] = (hsv[1] * _uniform(*saturation_range)).clamp(0, 1)
        if do_hue:
            hsv[0] = (hsv[0] + torch.randint(-hue_delta, hue_delta, ()).item() / 180.0) % 1.0
        img = _hsv_to_rgb(hsv) * 255.0
    if not contrast_first and _coin():
        img = (img * _uniform(*contrast_range)).clamp(0, 255)
    return img


def random_crop_box(mask: torch.Tensor, crop_hw: tuple[int, int], cat_max_ratio: float = 0.75,
                    ignore_index: int = 255, tries: int = 10) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random crop, with mmseg ``RandomCrop``'s cat_max_ratio."""
    H, W = mask.shape
    ch, cw = min(crop_hw[0], H), min(crop_hw[1], W)

    def draw():
        top = int(torch.randint(H - ch + 1, ()).item())
        left = int(torch.randint(W - cw + 1, ()).item())
        return top, left, ch, cw

    box = draw()
    if cat_max_ratio < 1.0:
        for _ in range(tries):
            crop = mask[box[0]:box[0] + ch, box[1]:box[1] + cw]
            labels, counts = torch.unique(crop, return_counts=True)
            counts = counts[labels != ignore_index]
            if len(counts) > 1 and counts.max().item() / counts.sum().item() < cat_max_ratio:
                break
            box = draw()
    return box


class SegTrainTransform:
    """Segmenter's training pipeline (module docstring): ``(PIL image, PIL mask) -> tensors``."""

    def __init__(self, crop_size: int | Sequence[int], base_size: Sequence[int] | None = None,
                 ratio_range: tuple[float, float] = (0.5, 2.0), cat_max_ratio: float = 0.75,
                 hflip: bool = True, photometric: bool = True,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD, ignore_index: int = 255):
        self.crop_hw = _pair(crop_size)
        if base_size is None:
            base_size = (4 * max(self.crop_hw), min(self.crop_hw))
        self.base_size = (int(base_size[0]), int(base_size[1]))
        self.ratio_range, self.cat_max_ratio = tuple(ratio_range), cat_max_ratio
        self.hflip, self.photometric, self.ignore_index = hflip, photometric, ignore_index
        self.mean = torch.tensor(mean).view(3, 1, 1) * 255.0
        self.std = torch.tensor(std).view(3, 1, 1) * 255.0

    def __call__(self, image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        img, target = _to_tensors(image, mask)
        H, W = target.shape
        ratio = _uniform(*self.ratio_range)
        long_max, short_max = int(self.base_size[0] * ratio), int(self.base_size[1] * ratio)
        s = min(long_max / max(H, W), short_max / min(H, W))
        img, target = _resize(img, target, (int(H * s + 0.5), int(W * s + 0.5)))
        top, left, h, w = random_crop_box(target, self.crop_hw, self.cat_max_ratio,
                                          self.ignore_index)
        img, target = img[:, top:top + h, left:left + w], target[top:top + h, left:left + w]
        if self.hflip and _coin():
            img, target = img.flip(-1), target.flip(-1)
        if self.photometric:
            img = photometric_distortion(img)
        img = (img - self.mean) / self.std
        pad_h, pad_w = self.crop_hw[0] - h, self.crop_hw[1] - w
        if pad_h or pad_w:
            img = F.pad(img, (0, pad_w, 0, pad_h), value=0.0)
            target = F.pad(target, (0, pad_w, 0, pad_h), value=self.ignore_index)
        return img.contiguous(), target.contiguous()

    def __repr__(self) -> str:
        return (f"SegTrainTransform(crop={self.crop_hw}, base_size={self.base_size}, "
                f"ratio_range={self.ratio_range}, cat_max_ratio={self.cat_max_ratio}, "
                f"hflip={self.hflip}, photometric={self.photometric})")


class SegEvalTransform:
    """Short side to ``crop_size``, keeping the aspect ratio; the mask stays at its own
    resolution unless ``resize_mask``."""

    def __init__(self, crop_size: int, resize_mask: bool = False,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD):
        self.crop_size, self.resize_mask = int(crop_size), resize_mask
        self.mean = torch.tensor(mean).view(3, 1, 1) * 255.0
        self.std = torch.tensor(std).view(3, 1, 1) * 255.0

    def __call__(self, image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        img, target = _to_tensors(image, mask)
        H, W = target.shape
        s = self.crop_size / min(H, W)
        size = (self.crop_size, int(W * s + 0.5)) if H <= W else (int(H * s + 0.5), self.crop_size)
        img, resized = _resize(img, target if self.resize_mask else None, size)
        img = (img - self.mean) / self.std
        return img.contiguous(), (resized if self.resize_mask else target)

    def __repr__(self) -> str:
        return f"SegEvalTransform(short_side={self.crop_size}, resize_mask={self.resize_mask})"


def build_seg_train_transform(crop_size: int, base_size: Sequence[int] | None = None, *,
                              ratio_range: tuple[float, float] = (0.5, 2.0),
                              cat_max_ratio: float = 0.75, hflip: bool = True,
                              photometric: bool = True,
                              mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                              std: Sequence[float] = IMAGENET_DEFAULT_STD) -> SegTrainTransform:
    """Segmenter's ADE20K training transform. ``base_size`` (long, short) defaults to
    ``(4 * crop_size, crop_size)``: (2048, 512) at crop 512, as Segmenter."""
    return SegTrainTransform(crop_size, base_size, ratio_range, cat_max_ratio, hflip,
                             photometric, mean, std)


def build_seg_eval_transform(crop_size: int, *, resize_mask: bool = False,
                             mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                             std: Sequence[float] = IMAGENET_DEFAULT_STD) -> SegEvalTransform:
    """Short side to ``crop_size``, keeping the aspect ratio; see ``SegEvalTransform``."""
    return SegEvalTransform(crop_size, resize_mask, mean, std)
