"""Loading checkpoints across resolutions and label spaces.

A checkpoint trained at 224 px loads into a 384 px model by resampling the patch position
embeddings bicubically without antialiasing, as the DeiT III reference does when it
fine-tunes at 384 (``F.interpolate(..., mode='bicubic', align_corners=False)``), and LaViT's
attention transforms (maps over a token grid) the same way (``lavit_layers.resample_transform``). A
classifier head whose shape differs from the model's (21k -> 1k, 1k -> CIFAR) is dropped
so the model keeps its freshly initialised head; a backbone built without a classifier
(``num_classes=0``, as Segmenter builds it) drops it altogether. Weights of another family (DeiT III's into
EDIT, PVTv2's into LaViT) are refused with an error naming both (:class:`WeightsMismatch`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch
from torch import nn
from timm.layers import resample_abs_pos_embed

_logger = logging.getLogger(__name__)

__all__ = ["WeightsMismatch", "unwrap_state_dict", "checkpoint_filter_fn", "build_variant", "load_pretrained"]


class WeightsMismatch(ValueError, RuntimeError):
    """A checkpoint whose weights do not fit the model (another family, another architecture)."""


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
        elif k.endswith((".theta.delta", ".psi.delta")) and k in target and v.shape != target[k].shape:
            from .lavit_layers import resample_transform

            v = resample_transform(v, model.get_submodule(k[:-len(".delta")]).grid)   # to the target's (H, W) grid
        elif k.startswith("head.") and (k not in target or v.shape != target[k].shape):
            _logger.info("Dropping %s %s: the model's head is %s", k, tuple(v.shape),
                         tuple(target[k].shape) if k in target else "absent (a backbone)")
            continue
        out[k] = v
    return out


def build_variant(model_cls, variant: str, pretrained: bool = False, default_out_indices=3, **kwargs):
    """timm's ``build_model_with_cfg`` with this module's checkpoint filter, for every family registered here;
    ``features_only`` goes through the model's own ``forward_intermediates`` (timm's feature getter)."""
    from timm.models import build_model_with_cfg

    out_indices = kwargs.pop("out_indices", default_out_indices)
    return build_model_with_cfg(model_cls, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn,
                                feature_cfg=dict(out_indices=out_indices, feature_cls="getter"), **kwargs)


def load_pretrained(model: nn.Module, checkpoint: Union[str, Path, Mapping[str, Any]], strict: bool = True,
                    source: Optional[str] = None):
    """Load ``checkpoint`` (a path or a dict) into ``model`` through :func:`checkpoint_filter_fn`.

    With ``strict`` every weight except a dropped head must match; the return value is
    torch's ``(missing_keys, unexpected_keys)``. Errors name ``source`` (default: the path read) and, for a
    checkpoint of ``editrepro train``, the model it was trained as (its ``model_record``, else its config).
    """
    checkpoint_path = None
    if not isinstance(checkpoint, Mapping):
        from ..torchfiles import UnreadableTorchFile, load_torch_file

        checkpoint_path = Path(checkpoint)
        checkpoint = load_torch_file(checkpoint_path, "checkpoint")
        if not isinstance(checkpoint, Mapping):
            raise UnreadableTorchFile(f"checkpoint {checkpoint_path} holds a {type(checkpoint).__name__}, "
                                      "not a state dict")
    source = source or (f"checkpoint {checkpoint_path}" if checkpoint_path else "the checkpoint")
    state_dict = checkpoint_filter_fn(checkpoint, model)
    own = model.state_dict()
    shared = [k for k in state_dict if k in own]
    arch = _trained_as(checkpoint)
    if len(shared) < len(own) / 2:
        raise WeightsMismatch(
            f"{source} does not hold a {_described(model)}: it shares {len(shared)} of the model's {len(own)} "
            f"weights" + (f" (it was trained as {arch!r})" if arch else "") + "; give a checkpoint of the same family")
    head_keys = {k for k in own if k.startswith("head.")}
    missing = [k for k in own if k not in state_dict and k not in head_keys]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {tuple(v.shape)} != {tuple(own[k].shape)}" for k, v in state_dict.items()
              if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]
    if shapes or (strict and (missing or unexpected)):     # refused before any weight is copied into the model
        raise WeightsMismatch(f"{source} does not fit {_described(model)}: {_other_family(model, arch, missing)}"
                              f"missing {_few(missing)}, unexpected {_few(unexpected)}"
                              + (f", other shapes {_few(shapes)}" if shapes else ""))
    return model.load_state_dict(state_dict, strict=False)


def _trained_as(checkpoint: Mapping[str, Any]) -> Optional[str]:
    """The timm name a checkpoint of ``editrepro train`` was trained as: its ``model_record``'s, else its config's."""
    record, config = checkpoint.get("model_record"), checkpoint.get("config")
    if isinstance(record, Mapping) and isinstance(record.get("arch"), str):
        return record["arch"]
    return config.get("model") if isinstance(config, Mapping) else None


def _few(keys) -> str:
    return f"{list(keys[:8])}{' ...' if len(keys) > 8 else ''}"


def _arch(model: nn.Module) -> str:
    return (getattr(model, "pretrained_cfg", None) or {}).get("architecture") or ""


def _described(model: nn.Module) -> str:
    arch = _arch(model)
    return f"{type(model).__name__} ({arch})" if arch else type(model).__name__


def _other_family(model: nn.Module, trained_as: str, missing) -> str:
    """What the checkpoint holds instead, when it can be told: the family of its config, or EDIT's decoder absent."""
    from ..families import model_family

    want = model_family(_arch(model))["family"] if _arch(model) else type(model).__name__
    if trained_as:
        have = model_family(trained_as)["family"]
        if have != want:
            return (f"it holds {have} weights (trained as {trained_as!r}), not {want} weights; give a checkpoint "
                    f"of the same family ({want}). ")
    if want == "EDIT" and any(k.startswith("decoder.") for k in missing):
        return "it has no EDIT decoder (decoder.*): ViT or DeiT III weights? Give a checkpoint of an EDIT model. "
    return ""
