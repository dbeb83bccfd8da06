"""Models of both papers, registered with timm on import.

``import editrepro`` makes ``timm.create_model("edit_small_patch16_224")`` and
``timm.create_model("lavit_small_224")`` work; the DeiT III baselines with reference settings
are ``deit3_ref_*``, LaViT's baselines timm's own ``pvt_v2_b*``.
"""
from typing import List, Optional

import timm
from torch import nn

from ..families import model_family, model_size
from . import deit3, edit, lavit  # noqa: F401  (registers the families with timm)
from .attention_maps import AttentionMaps, capture_attention, layer_similarity
from .deit3 import DeiT3
from .edit import EDIT, ClsDecoder
from .lavit import LaViT
from .weights import checkpoint_filter_fn, load_pretrained

__all__ = [
    "EDIT", "ClsDecoder", "DeiT3", "LaViT", "AttentionMaps", "capture_attention", "checkpoint_filter_fn",
    "load_pretrained", "create_model", "check_model_name", "list_models", "takes_img_size", "model_family", "model_size",
    "layer_similarity",
]


def list_models() -> List[str]:
    """Names this package registers: EDIT, the DeiT III reference baselines and LaViT."""
    return sorted(timm.list_models("edit_*") + timm.list_models("deit3_ref_*") + timm.list_models("lavit_*"))


def takes_img_size(name: str) -> bool:
    """Whether a model is built for one input size (ViTs, LaViT) rather than any (PVTv2, CNNs)."""
    return bool(timm.get_pretrained_cfg(name).fixed_input_size)


def check_model_name(name: str) -> None:
    """Raise ``ValueError`` naming the closest registered models unless ``name`` is a timm model."""
    if not timm.is_model(name):
        from ..schema import did_you_mean

        raise ValueError(f"unknown model {name!r}.{did_you_mean(name, timm.list_models(), n=5)} "
                         f"This package registers: {', '.join(list_models())}")


def create_model(name: str, img_size: Optional[int] = None, **kwargs) -> nn.Module:
    """``timm.create_model`` with clear errors (close names of an unknown model, an argument it does
    not take); ``img_size`` goes only to models built for one input size."""
    check_model_name(name)
    if img_size is not None and takes_img_size(name):
        kwargs["img_size"] = img_size
    try:
        return timm.create_model(name, **kwargs)
    except TypeError as e:
        if "unexpected keyword argument" not in str(e):
            raise
        raise ValueError(f"model {name!r} does not take the argument {str(e).rsplit(' ', 1)[-1]} "
                         f"(given: {', '.join(sorted(kwargs))})") from None
