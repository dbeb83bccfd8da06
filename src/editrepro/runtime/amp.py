"""Mixed precision: the dtype a job's ``amp`` setting (``auto``, ``bf16``, ``fp16``, ``off``) selects on its
device, and the autocast context every training and evaluation loop runs its forward passes in."""
from contextlib import nullcontext
from typing import Optional

import torch

__all__ = ["autocast_dtype", "autocast"]


def autocast_dtype(setting: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``setting`` on ``device``; ``auto`` is bf16 on CUDA and full precision elsewhere."""
    if setting == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[setting]


def autocast(device: torch.device, dtype: Optional[torch.dtype]):
    """``torch.autocast`` to ``dtype`` on ``device``'s type; a no-op context when ``dtype`` is None."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
