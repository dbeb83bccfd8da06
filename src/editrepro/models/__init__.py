"""Models of the paper, registered with timm on import.

``import editrepro`` makes ``timm.create_model("edit_small_patch16_224")`` work; the
DeiT III baselines with reference settings are ``deit3_ref_*``.
"""
import difflib
from typing import List

import timm
from torch import nn

from . import deit3, edit
from .attention_maps import AttentionMaps, capture_attention
from .deit3 import DeiT3
from .edit import EDIT, ClsDecoder
from .weights import checkpoint_filter_fn, load_pretrained

__all__ = [
    "EDIT", "ClsDecoder", "DeiT3", "AttentionMaps", "capture_attention", "checkpoint_filter_fn",
    "load_pretrained", "create_model", "list_models",
]


def list_models() -> List[str]:
    """Names this package registers: EDIT and the DeiT III reference baselines."""
    return sorted(timm.list_models("edit_*") + timm.list_models("deit3_ref_*"))


def create_model(name: str, **kwargs) -> nn.Module:
    """``timm.create_model`` with a clear error naming the closest known models."""
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} This package registers: {', '.join(list_models())}")
    return timm.create_model(name, **kwargs)
