"""Sliding-window and multi-scale inference, as Segmenter evaluates on ADE20K.

Single scale: the image (short side already resized to the crop) is covered by windows of
the crop size at a stride (512 / 512 on ADE20K), the last window of each axis anchored at
the image's edge; images smaller than a window are padded. Logits of overlapping windows
are averaged. Multi-scale: the image rescaled by each ratio (0.5 ... 1.75), with and without
a horizontal flip; the softmax probabilities at the original size are averaged.
"""
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["window_starts", "sliding_window_logits", "multi_scale_logits"]


def window_starts(length: int, window: int, stride: int) -> list:
    """Window offsets along one axis; the last one ends exactly at the edge."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    return starts + [length - window]


@torch.no_grad()
def sliding_window_logits(model, image: torch.Tensor, window: int, stride: int, num_classes: int,
                          batch_size: int = 8) -> torch.Tensor:
    """Logits (C, H, W) of one image (3, H, W) from windows of ``window`` pixels at ``stride``."""
    _, H, W = image.shape
    pad_h, pad_w = max(0, window - H), max(0, window - W)
    padded = F.pad(image, (0, pad_w, 0, pad_h)) if (pad_h or pad_w) else image
    Hp, Wp = padded.shape[-2:]
    crops, where = [], []
    for y in window_starts(Hp, window, stride):
        for x in window_starts(Wp, window, stride):
            crops.append(padded[:, y:y + window, x:x + window])
            where.append((y, x))
    logits = torch.zeros(num_classes, Hp, Wp, device=image.device)
    count = torch.zeros(1, Hp, Wp, device=image.device)
    for i in range(0, len(crops), batch_size):
        out = model(torch.stack(crops[i:i + batch_size])).float()
        for (y, x), window_logits in zip(where[i:i + batch_size], out):
            logits[:, y:y + window, x:x + window] += window_logits
            count[:, y:y + window, x:x + window] += 1
    return (logits / count)[:, :H, :W]


@torch.no_grad()
def multi_scale_logits(model, image: torch.Tensor, window: int, stride: int, num_classes: int,
                       scales: Sequence[float] = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75), flip: bool = True) -> torch.Tensor:
    """Averaged softmax probabilities (C, H, W) over ``scales`` (x flips) at the image's own size."""
    _, H, W = image.shape
    probs = torch.zeros(num_classes, H, W, device=image.device)
    n = 0
    for scale in scales:
        size = (max(1, round(H * scale)), max(1, round(W * scale)))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        for flipped in ((False, True) if flip else (False,)):
            x = scaled.flip(-1) if flipped else scaled
            logits = sliding_window_logits(model, x, window, stride, num_classes)
            if flipped:
                logits = logits.flip(-1)
            logits = F.interpolate(logits[None], size=(H, W), mode="bilinear", align_corners=False)[0]
            probs += logits.softmax(dim=0)
            n += 1
    return probs / n
