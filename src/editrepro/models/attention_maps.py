"""Attention maps on demand, for the attention-sink figure (paper Fig. 1), Fig. 5 and the
attention-saturation figure (LaViT's Fig. 3).

``capture_attention(model)`` hooks every timm ``Attention`` (the encoder of EDIT and
DeiT III alike), every PVTv2 spatial-reduction attention (PVTv2, LaViT's VA layers), LaViT's
Less-Attention layers and EDIT's decoder for the duration of a ``with`` block; outside it no
hook exists, so the ordinary forward pass keeps its fused ``scaled_dot_product_attention``
path and pays nothing. The maps of a fused attention are recomputed from the projections the
module just ran (``softmax(q k^T * scale)``, with its q/k norms, or PVTv2's reduced keys plus
the bias it was given), i.e. exactly the weights the fused kernel applied; those of EDIT's
decoder and of LA layers are read where they are computed.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, List, Sequence

import torch
from torch import nn
from timm.layers import Attention
from timm.models.pvt_v2 import Attention as PvtAttention

from .edit import ClsDecoder
from .lavit_layers import LessAttention, VanillaAttention, attention_logits

__all__ = ["AttentionMaps", "capture_attention", "layer_similarity"]


@dataclass
class AttentionMaps:
    """Per-layer attention of one forward pass, in float32 on the model's device.

    Attributes:
        encoder: One (B, heads, T, T) map per encoder layer; T counts every token the
            encoder sees (DeiT III: [CLS] first, then the patches; EDIT: patches only). In a
            pyramid (PVTv2, LaViT) each layer's map is (B, heads, N, K): its stage's N tokens
            over the K spatially reduced keys.
        kinds: What computed each encoder map: ``attention`` (ViT), ``SRA`` (PVTv2), ``VA`` and
            ``LA`` (LaViT's vanilla and Less-Attention layers).
        decoder: EDIT only: one (B, decoder_heads, N + 1) map per layer, the [CLS] query's
            weights over the N patches of that layer followed by the previous [CLS] state.
    """
    encoder: List[torch.Tensor] = field(default_factory=list)
    kinds: List[str] = field(default_factory=list)
    decoder: List[torch.Tensor] = field(default_factory=list)

    def decoder_patch_maps(self, grid_size) -> torch.Tensor:
        """Decoder attention over patches as images: (layers, B, H, W), heads averaged."""
        if not self.decoder:
            raise ValueError("no decoder attention was captured: is the model an EDIT?")
        gh, gw = grid_size
        maps = torch.stack([a[..., :-1].mean(dim=1) for a in self.decoder])   # L, B, N
        return maps.reshape(maps.shape[0], maps.shape[1], gh, gw)


def _encoder_hook(attn: Attention, maps: "AttentionMaps"):
    def hook(_module: nn.Module, _inputs, qkv: torch.Tensor) -> None:
        with torch.no_grad():
            B, T, _ = qkv.shape
            q, k, _v = qkv.reshape(B, T, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            q, k = attn.q_norm(q), attn.k_norm(k)
            scores = (q.float() * attn.scale) @ k.float().transpose(-2, -1)
            maps.encoder.append(scores.softmax(dim=-1))
            maps.kinds.append("attention")
    return hook


def _pyramid_hook(maps: "AttentionMaps"):
    def hook(module: PvtAttention, args, kwargs, _output) -> None:
        x, feat_size = args[0], args[1] if len(args) > 1 else kwargs["feat_size"]
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        with torch.no_grad():
            logits = attention_logits(module, x, feat_size, bias)
            maps.encoder.append(logits.float().softmax(dim=-1))
            maps.kinds.append("VA" if isinstance(module, VanillaAttention) else "SRA")
    return hook


def _probs_hook(store: List[torch.Tensor], kinds: List[str] = None, kind: str = ""):
    def hook(_module: nn.Module, _inputs, probs: torch.Tensor) -> None:
        store.append(probs.detach().float())
        if kinds is not None:
            kinds.append(kind)
    return hook


@contextmanager
def capture_attention(model: nn.Module) -> Iterator[AttentionMaps]:
    """Record the attention maps of every forward pass run inside the block.

    Example::

        with capture_attention(model) as maps:
            model(images)
        maps.encoder[0].shape   # (B, heads, T, T)
    """
    maps = AttentionMaps()
    handles = []
    for module in model.modules():
        if isinstance(module, Attention):
            handles.append(module.qkv.register_forward_hook(_encoder_hook(module, maps)))
        elif isinstance(module, PvtAttention):
            handles.append(module.register_forward_hook(_pyramid_hook(maps), with_kwargs=True))
        elif isinstance(module, LessAttention):
            handles.append(module.attn_probs.register_forward_hook(_probs_hook(maps.encoder, maps.kinds, "LA")))
        elif isinstance(module, ClsDecoder):
            handles.append(module.attn_probs.register_forward_hook(_probs_hook(maps.decoder)))
    if not handles:
        raise ValueError(f"{type(model).__name__} has no attention module this package reads maps from "
                         "(timm's ViT Attention, PVTv2's attention, LaViT's layers or EDIT's decoder)")
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()


def layer_similarity(maps: Sequence[torch.Tensor]) -> List[float]:
    """Attention saturation: how much each layer's attention resembles the previous layer's.

    Entry ``i`` compares layer ``i + 1`` with layer ``i``: the cosine similarity of the two
    layers' maps of the same head, each flattened over queries and keys, averaged over heads and
    images. NaN where the maps differ in shape (a pyramid's stage boundary: another grid, other heads).
    """
    out = []
    for prev, cur in zip(maps[:-1], maps[1:]):
        if prev.shape != cur.shape:
            out.append(float("nan"))
            continue
        cos = torch.nn.functional.cosine_similarity(prev.flatten(2).float(), cur.flatten(2).float(), dim=-1)
        out.append(cos.mean().item())    # over (B, heads)
    return out
