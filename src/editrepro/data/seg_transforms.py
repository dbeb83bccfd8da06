"""Joint (image, mask) transforms for semantic segmentation: Segmenter's ADE20K pipeline, no mmseg.

Built on ``torchvision.transforms.v2``: the image travels as a ``tv_tensors.Image`` (float, 0..255
as mmseg's cv2 arrays) and the mask as a ``tv_tensors.Mask``, so every step transforms both
together (a Mask is resized with NEAREST, flipped with the image, padded with its own fill).
Training follows Segmenter's mmseg config step by step:

1. ``Resize(img_scale=base_size, ratio_range=(0.5, 2.0))``: draw r ~ U(0.5, 2.0), then rescale
   keeping the aspect ratio so that the long side fits ``base_size[0] * r`` and the short side
   ``base_size[1] * r``, sizes rounded as mmcv's ``imrescale`` (``Rescale``, local: v2's
   ``ScaleJitter`` is the nearest but bounds (h, w) rather than (long, short) and truncates the
   size). Then v2's resize: image bilinear with ``antialias=False`` (cv2's ``INTER_LINEAR`` does
   not antialias; v2 defaults to ``antialias=True``, which would blur every downscale), mask
   nearest (v2 forces NEAREST for a ``Mask``, torch's ``"nearest"`` = cv2's ``INTER_NEAREST``).
2. ``RandomCrop(crop_size, cat_max_ratio=0.75)``: redraw the crop up to 10 times until no class
   covers 75% or more of its labelled pixels (ignore excluded, as mmseg does); the last draw
   stands if none passes (``CatMaxRatioCrop``, local: v2's ``RandomCrop`` has no such rule).
3. ``RandomFlip(0.5)`` of both: v2's ``RandomHorizontalFlip``.
4. ``PhotoMetricDistortion`` (local, mmseg's exact op order, which v2's ``ColorJitter`` does not
   follow): brightness delta U(-32, 32), contrast x U(0.5, 1.5) (before or after the colour ops,
   a coin decides), saturation x U(0.5, 1.5) and hue shift of randint(-18, 18) in OpenCV's 0..180
   hue units; each applied with probability 0.5, values clipped to 0..255. Saturation and hue
   are done in HSV with S clipped to [0, 1].
5. v2's ``Normalize``, then padding bottom and right to ``crop_size`` with 0 (image) and 255
   (mask) (``PadToSize``: v2's ``pad`` with a per-type fill; v2's ``Pad`` takes a fixed padding
   and its ``RandomCrop(pad_if_needed)`` pads both sides).

Evaluation resizes the short side to ``crop_size`` keeping the aspect ratio (no crop: sliding
windows belong to the model code), with the same ``Rescale`` (mmcv's rounding of the long side;
``v2.Resize(int)`` truncates it, one pixel off at times). The mask stays at the annotation's own
resolution by default, where Segmenter scores its predictions (upsample the logits to
``mask.shape``); ``resize_mask=True`` resizes it with the image instead.

Every random draw comes from torch's generator, so ``torch.manual_seed`` (and DataLoader
workers' seeding) controls them. Both callables take ``(PIL image, PIL mask)`` with the mask
already mapped to training labels (``ADE20K`` does it) and give ``(float CHW tensor, int64 HW
tensor)``.

Against the hand-written tensor pipeline this replaced (``tests/data/test_transforms_reference.py``
holds it to that one's recorded outputs): evaluation, and training without flips, are
bit-identical; training draws the same numbers in the same order but v2's flip decides by
``torch.rand(1) < 0.5`` where the old code took ``torch.randint(2, ())``: one 32-bit draw each,
so the resize, crop and photometric draws stay in step and, for a given seed, the output is the
old one or that one with the crop mirrored.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

__all__ = [
    "SegTrainTransform", "SegEvalTransform", "build_seg_train_transform",
    "build_seg_eval_transform", "photometric_distortion", "random_crop_box",
    "Rescale", "CatMaxRatioCrop", "PhotoMetricDistortion", "PadToSize",
]


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


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


def _photometric_params(brightness_delta: float = 32,
                        contrast_range: tuple[float, float] = (0.5, 1.5),
                        saturation_range: tuple[float, float] = (0.5, 1.5),
                        hue_delta: int = 18) -> dict[str, Any]:
    """Every draw of ``PhotoMetricDistortion``, in mmseg's order; None = that op is skipped."""
    brightness = _uniform(-brightness_delta, brightness_delta) if _coin() else None
    contrast_first = _coin()
    contrast = _uniform(*contrast_range) if contrast_first and _coin() else None
    do_saturation, do_hue = _coin(), _coin()
    saturation = _uniform(*saturation_range) if do_saturation else None
    hue = torch.randint(-hue_delta, hue_delta, ()).item() if do_hue else None
    if not contrast_first:
        contrast = _uniform(*contrast_range) if _coin() else None
    return dict(brightness=brightness, contrast_first=contrast_first, contrast=contrast,
                saturation=saturation, hue=hue)


def _photometric_apply(img: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    if p["brightness"] is not None:
        img = (img + p["brightness"]).clamp(0, 255)
    if p["contrast_first"] and p["contrast"] is not None:
        img = (img * p["contrast"]).clamp(0, 255)
    if p["saturation"] is not None or p["hue"] is not None:
        hsv = _rgb_to_hsv(img / 255.0)
        if p["saturation"] is not None:
            hsv[1] = (hsv[1] * p["saturation"]).clamp(0, 1)
        if p["hue"] is not None:
            hsv[0] = (hsv[0] + p["hue"] / 180.0) % 1.0
        img = _hsv_to_rgb(hsv) * 255.0
    if not p["contrast_first"] and p["contrast"] is not None:
        img = (img * p["contrast"]).clamp(0, 255)
    return img


def photometric_distortion(img: torch.Tensor, brightness_delta: float = 32,
                           contrast_range: tuple[float, float] = (0.5, 1.5),
                           saturation_range: tuple[float, float] = (0.5, 1.5),
                           hue_delta: int = 18) -> torch.Tensor:
    """mmseg's ``PhotoMetricDistortion`` on a (3, H, W) float tensor in 0..255 (see above)."""
    return _photometric_apply(img, _photometric_params(brightness_delta, contrast_range,
                                                       saturation_range, hue_delta))


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


class Rescale(v2.Transform):
    """mmseg's ``Resize(img_scale=(long, short), ratio_range, keep_ratio=True)``.

    Draws r ~ U(ratio_range) (r = 1 without a range), then scales by the largest factor that
    keeps the long side within ``int(long * r)`` and the short side within ``int(short * r)``
    (``long=None``: the short side alone), each side rounded as mmcv (``int(x * s + 0.5)``).
    Images bilinear without antialiasing (as cv2), masks nearest (v2's rule for a ``Mask``).
    """

    def __init__(self, scale: tuple[int | None, int],
                 ratio_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.scale = (None if scale[0] is None else int(scale[0]), int(scale[1]))
        self.ratio_range = None if ratio_range is None else tuple(ratio_range)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        H, W = v2.query_size(flat_inputs)
        ratio = 1.0 if self.ratio_range is None else _uniform(*self.ratio_range)
        s = int(self.scale[1] * ratio) / min(H, W)
        if self.scale[0] is not None:
            s = min(int(self.scale[0] * ratio) / max(H, W), s)
        return dict(size=[int(H * s + 0.5), int(W * s + 0.5)])

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(TF.resize, inpt, params["size"],
                                 interpolation=v2.InterpolationMode.BILINEAR, antialias=False)


class CatMaxRatioCrop(v2.Transform):
    """mmseg's ``RandomCrop(crop_size, cat_max_ratio)``: see ``random_crop_box``; the sample
    must hold a ``tv_tensors.Mask``, whose labels decide. A side shorter than the crop is kept
    whole (``PadToSize`` pads it afterwards)."""

    def __init__(self, size: int | Sequence[int], cat_max_ratio: float = 0.75,
                 ignore_index: int = 255) -> None:
        super().__init__()
        self.size, self.cat_max_ratio, self.ignore_index = _pair(size), cat_max_ratio, ignore_index

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        masks = [x for x in flat_inputs if isinstance(x, tv_tensors.Mask)]
        if len(masks) != 1:
            raise TypeError(f"CatMaxRatioCrop needs exactly one tv_tensors.Mask, got {len(masks)}")
        top, left, height, width = random_crop_box(masks[0].as_subclass(torch.Tensor), self.size,
                                                   self.cat_max_ratio, self.ignore_index)
        return dict(top=top, left=left, height=height, width=width)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(TF.crop, inpt, **params)


class PhotoMetricDistortion(v2.Transform):
    """mmseg's ``PhotoMetricDistortion`` (``photometric_distortion``) on float images in 0..255;
    masks pass through."""

    _transformed_types = (tv_tensors.Image,)

    def __init__(self, brightness_delta: float = 32,
                 contrast_range: tuple[float, float] = (0.5, 1.5),
                 saturation_range: tuple[float, float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        super().__init__()
        self.brightness_delta, self.hue_delta = brightness_delta, hue_delta
        self.contrast_range, self.saturation_range = tuple(contrast_range), tuple(saturation_range)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return _photometric_params(self.brightness_delta, self.contrast_range,
                                   self.saturation_range, self.hue_delta)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        out = _photometric_apply(inpt.as_subclass(torch.Tensor), params)
        return tv_tensors.wrap(out, like=inpt)


class PadToSize(v2.Transform):
    """Pad bottom and right up to ``size`` (h, w), with a fill per type as ``v2.Pad``'s
    (e.g. ``{tv_tensors.Image: 0, tv_tensors.Mask: 255}``; other types get 0)."""

    def __init__(self, size: int | Sequence[int], fill: dict[type, float]) -> None:
        super().__init__()
        self.size, self.fill = _pair(size), dict(fill)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        return dict(padding=[0, 0, max(0, self.size[1] - w), max(0, self.size[0] - h)])

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not any(params["padding"]):
            return inpt
        return self._call_kernel(TF.pad, inpt, padding=params["padding"],
                                 fill=self.fill.get(type(inpt), 0), padding_mode="constant")


def _to_tv(image: Image.Image, mask: Image.Image) -> tuple[Image.Image, tv_tensors.Mask]:
    """The RGB image (still PIL: ``v2.ToImage`` converts it) and the (H, W) int64 Mask."""
    if image.size != mask.size:
        raise ValueError(f"image is {image.size} but mask is {mask.size} (width, height)")
    rgb = image if image.mode == "RGB" else image.convert("RGB")   # convert() copies even when it need not
    return rgb, tv_tensors.Mask(torch.from_numpy(np.array(mask, dtype=np.int64)))


def _plain(x: torch.Tensor) -> torch.Tensor:
    return x.as_subclass(torch.Tensor).contiguous()


def _to_float_image() -> list[v2.Transform]:
    """PIL -> float32 ``tv_tensors.Image`` in 0..255 (no scaling: mmseg's arrays are 0..255)."""
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=False)]


def _normalize(mean: Sequence[float], std: Sequence[float]) -> v2.Normalize:
    # in 0..255 units, computed in float32 as (x - 255 * mean) / (255 * std) always was
    return v2.Normalize((torch.tensor(mean) * 255.0).tolist(), (torch.tensor(std) * 255.0).tolist())


class SegTrainTransform:
    """Segmenter's training pipeline (module docstring): ``(PIL image, PIL mask) -> tensors``.
    ``transforms`` is the ``v2.Compose`` it runs."""

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
        self.transforms = v2.Compose([
            *_to_float_image(),
            Rescale(self.base_size, self.ratio_range),
            CatMaxRatioCrop(self.crop_hw, cat_max_ratio, ignore_index),
            *([v2.RandomHorizontalFlip(0.5)] if hflip else []),
            *([PhotoMetricDistortion()] if photometric else []),
            _normalize(mean, std),
            PadToSize(self.crop_hw, fill={tv_tensors.Image: 0.0, tv_tensors.Mask: ignore_index}),
        ])

    def __call__(self, image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        img, target = self.transforms(*_to_tv(image, mask))
        return _plain(img), _plain(target)

    def __repr__(self) -> str:
        return (f"SegTrainTransform(crop={self.crop_hw}, base_size={self.base_size}, "
                f"ratio_range={self.ratio_range}, cat_max_ratio={self.cat_max_ratio}, "
                f"hflip={self.hflip}, photometric={self.photometric})")


class SegEvalTransform:
    """Short side to ``crop_size``, keeping the aspect ratio; the mask stays at its own
    resolution unless ``resize_mask``. ``transforms`` is the ``v2.Compose`` it runs."""

    def __init__(self, crop_size: int, resize_mask: bool = False,
                 mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD):
        self.crop_size, self.resize_mask = int(crop_size), resize_mask
        self.transforms = v2.Compose([*_to_float_image(), Rescale((None, self.crop_size)),
                                      _normalize(mean, std)])

    def __call__(self, image: Image.Image, mask: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = _to_tv(image, mask)
        if self.resize_mask:
            img, target = self.transforms(image, target)
        else:
            img = self.transforms(image)
        return _plain(img), _plain(target)

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
