""" DeiT III baselines, as the reference code trains them

Paper: `DeiT III: Revenge of the ViT` - https://arxiv.org/abs/2204.07118

timm's ``deit3_*`` definitions differ from facebookresearch/deit ``models_v2.py`` in two
places that matter when training from scratch: LayerScale starts at 1e-6 (reference 1e-4)
and stochastic depth grows linearly with depth (reference: the same rate in every block).
``DeiT3`` is timm's ``VisionTransformer`` with the reference settings, so a DeiT III
baseline and EDIT (which subclasses it) differ only in the decoder.

Registered as ``deit3_ref_{tiny,small,base}_patch16_{224,384}``. Tiny has no official
DeiT III model; the EDIT paper trains DeiT-Tiny dimensions with the DeiT III recipe
("DeiT3-T" in its Table 3), which is what ``deit3_ref_tiny`` is.
"""
from typing import Callable, List, Literal, Tuple, Union

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import calculate_drop_path_rates, to_2tuple, trunc_normal_
from timm.models import generate_default_cfgs, register_model
from timm.models.vision_transformer import Block, VisionTransformer

from .tracing import fx_tracing
from .weights import build_variant

__all__ = ["DeiT3", "drop_path_rates", "validate_img_size"]

DropPathSchedule = Literal["constant", "linear"]


def drop_path_rates(drop_path_rate: float, depth: int, schedule: DropPathSchedule) -> List[float]:
    """Per-block stochastic depth: ``constant`` (DeiT III reference) or ``linear`` (timm)."""
    if schedule == "constant":
        return [float(drop_path_rate)] * depth
    if schedule == "linear":
        return calculate_drop_path_rates(drop_path_rate, depth)
    raise ValueError(f"drop_path_schedule must be 'constant' or 'linear', got {schedule!r}")


def _scheduled_block_fn(rates: List[float], block_fn: Callable = Block) -> Callable:
    """Wrap ``block_fn`` so block ``depth`` gets ``rates[depth]`` instead of timm's linear rule."""
    def make_block(*, depth: int, drop_path: float = 0.0, **kwargs):
        return block_fn(depth=depth, drop_path=rates[depth], **kwargs)
    return make_block


def validate_img_size(img_size: Union[int, Tuple[int, int]], patch_size: Union[int, Tuple[int, int]]) -> None:
    """Raise ``ValueError`` unless every side of ``img_size`` is a positive multiple of the patch."""
    img, patch = to_2tuple(img_size), to_2tuple(patch_size)
    for side, p in zip(img, patch):
        if side <= 0 or side % p:
            lower, upper = max(p, side // p * p), (side // p + 1) * p
            raise ValueError(
                f"img_size {tuple(img)} is not a multiple of patch_size {p}: "
                f"use {lower} or {upper} instead of {side}"
            )


class DeiT3(VisionTransformer):
    """ViT with DeiT III reference settings: LayerScale 1e-4, constant drop-path, no class pos-embed.

    Args:
        drop_path_rate: Stochastic depth rate of every block (``constant``) or of the last (``linear``).
        drop_path_schedule: ``constant`` as in facebookresearch/deit, ``linear`` as in timm.
        init_values: LayerScale init; 1e-4 in the reference ``models_v2.py``.
        **kwargs: Passed to timm's ``VisionTransformer``.
    """

    def __init__(
            self,
            *,
            drop_path_rate: float = 0.0,
            drop_path_schedule: DropPathSchedule = "constant",
            init_values: float = 1e-4,
            **kwargs,
    ) -> None:
        validate_img_size(kwargs.get("img_size", 224), kwargs.get("patch_size", 16))
        if kwargs.get("dynamic_img_size", False):
            raise ValueError(f"{type(self).__name__} has fixed position embeddings: dynamic_img_size is not supported")
        rates = drop_path_rates(drop_path_rate, kwargs.get("depth", 12), drop_path_schedule)
        kwargs.setdefault("no_embed_class", True)
        block_fn = _scheduled_block_fn(rates, kwargs.pop("block_fn", Block))
        super().__init__(drop_path_rate=0.0, init_values=init_values, block_fn=block_fn, **kwargs)
        self.drop_path_rate = float(drop_path_rate)
        self.drop_path_schedule = drop_path_schedule

    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        super().init_weights(mode, needs_reset=needs_reset)
        if self.cls_token is not None:  # the reference draws the class token like the weights
            trunc_normal_(self.cls_token, std=0.02)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``x`` is not an image batch of the model's size (skipped while fx traces)."""
        if fx_tracing() or torch.jit.is_scripting():
            return
        expected = tuple(self.patch_embed.img_size)
        if x.ndim != 4 or tuple(x.shape[-2:]) != expected or x.shape[1] != self.in_chans:
            raise ValueError(
                f"{type(self).__name__} expects images of shape (B, {self.in_chans}, {expected[0]}, {expected[1]}), "
                f"got {tuple(x.shape)}; create the model with img_size={tuple(x.shape[-2:])} "
                "(a multiple of the patch) or resize the input"
            )

    def forward_features(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        self.check_input(x)
        return super().forward_features(x, attn_mask=attn_mask, is_causal=is_causal)


def _cfg(**kwargs):
    return {
        "url": "",
        "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": None,
        "crop_pct": 1.0, "interpolation": "bicubic", "fixed_input_size": True,
        "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj", "classifier": "head",
        "license": "apache-2.0",
        **kwargs,
    }


def variant_cfgs(prefix: str):
    """Default cfgs of a family's six variants: T/S/B at 224 and 384, crop ratio 1.0."""
    return generate_default_cfgs({
        f"{prefix}_{size}_patch16_{res}": _cfg(input_size=(3, res, res))
        for size in ("tiny", "small", "base") for res in (224, 384)
    })


default_cfgs = variant_cfgs("deit3_ref")


def _create_deit3(variant: str, pretrained: bool = False, **kwargs) -> DeiT3:
    return build_variant(DeiT3, variant, pretrained, **kwargs)


@register_model
def deit3_ref_tiny_patch16_224(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT-Tiny dimensions trained with the DeiT III recipe ("DeiT3-T" of the EDIT paper)."""
    model_args = dict(patch_size=16, embed_dim=192, depth=12, num_heads=3)
    return _create_deit3("deit3_ref_tiny_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deit3_ref_tiny_patch16_384(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT3-T @ 384."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=192, depth=12, num_heads=3)
    return _create_deit3("deit3_ref_tiny_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deit3_ref_small_patch16_224(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT3-S @ 224, reference settings."""
    model_args = dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)
    return _create_deit3("deit3_ref_small_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deit3_ref_small_patch16_384(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT3-S @ 384, reference settings."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=384, depth=12, num_heads=6)
    return _create_deit3("deit3_ref_small_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deit3_ref_base_patch16_224(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT3-B @ 224, reference settings."""
    model_args = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return _create_deit3("deit3_ref_base_patch16_224", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deit3_ref_base_patch16_384(pretrained: bool = False, **kwargs) -> DeiT3:
    """DeiT3-B @ 384, reference settings."""
    model_args = dict(img_size=384, patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return _create_deit3("deit3_ref_base_patch16_384", pretrained=pretrained, **dict(model_args, **kwargs))
