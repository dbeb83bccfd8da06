"""Loading checkpoints across resolutions and label spaces.

A checkpoint trained at 224 px loads into a 384 px model by resampling the patch position
embeddings bicubically without antialiasing, as the DeiT III reference does when it
fine-tunes at 384 (``F.interpolate(..., mode='bicubic', align_corners=False)``). A
classifier head whose shape differs from the model's (21k -> 1k, 1k -> CIFAR) is dropped
so the model keeps its freshly initialised head; a backbone built without a classifier
(``num_classes=0``, as Segmenter builds it) drops it altogether.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Union

import torch
from torch import nn
from timm.layers import resample_abs_pos_embed

_logger = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]


def unwrap_state_dict(checkpoint: Mapping[str, Any]) -> StateDict:
    """Return the model weights of a checkpoint dict (ours, timm's or DeiT's layout)."""
    for key in ("model", "state_dict", "model_ema", "state_dict_ema"):
        if key in checkpoint and isinstance(checkpoint[key], Mapping):
            checkpoint = checkpoint[key]
            break
    # DistributedDataParallel and torch.compile prefixes
    out = {}
    for k, v in checkpoint.items():
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def checkpoint_filter_fn(state_dict: Mapping[str, Any], model: nn.Module) -> StateDict:
    """Adapt a ViT-family state dict to ``model``: position embeddings and classifier head.

    Used as timm's ``pretrained_filter_fn`` for every model this package registers, so
    ``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=path))``
    loads a checkpoint of another resolution or class count.
    """
    state_dict = unwrap_state_dict(state_dict)
    target = model.state_dict()
    out: StateDict = {}
    for k, v in state_dict.items():
        if k == "pos_embed" and k in target and v.shape != target[k].shape:
            num_prefix_tokens = 0 if getattr(model, "no_embed_class", False) else model.num_prefix_tokens
            v = resample_abs_pos_embed(
                v,
                new_size=model.patch_embed.grid_size,
                num_prefix_tokens=num_prefix_tokens,
                interpolation="bicubic",
                antialias=False,
            )
        elif k.startswith("head.") and (k not in target or v.shape != target[k].shape):
            _logger.info("Dropping %s %s: the model's head is %s", k, tuple(v.shape),
                         tuple(target[k].shape) if k in target else "absent (a backbone)")
            continue
        out[k] = v
    return out


def load_pretrained(model: nn.Module, checkpoint: Union[str, Path, Mapping[str, Any]], strict: bool = True):
    """Load ``checkpoint`` (a path or a dict) into ``model`` through :func:`checkpoint_filter_fn`.

    With ``strict`` every weight except a dropped head must match; the return value is
    torch's ``(missing_keys, unexpected_keys)``.
    """
    if not isinstance(checkpoint, Mapping):
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state_dict = checkpoint_filter_fn(checkpoint, model)
    head_keys = {k for k in model.state_dict() if k.startswith("head.")}
    result = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if k not in head_keys]
    if strict and (missing or result.unexpected_keys):
        raise RuntimeError(
            f"checkpoint does not fit {type(model).__name__}: missing {missing}, "
            f"unexpected {result.unexpected_keys}"
        )
    return result
