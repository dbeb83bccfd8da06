"""Attention maps on demand, for the attention-sink figure (paper Fig. 1) and Fig. 5.

``capture_attention(model)`` hooks every timm ``Attention`` (the encoder of EDIT and
DeiT III alike) and EDIT's decoder for the duration of a ``with`` block; outside it no
hook exists, so the ordinary forward pass keeps its fused ``scaled_dot_product_attention``
path and pays nothing. The encoder maps are recomputed from the ``qkv`` projection the
module just ran (``softmax(q k^T * scale)``, with its q/k norms), i.e. exactly the weights
the fused kernel applied; the decoder's are read where it computes them.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, List

import torch
from torch import nn
from timm.layers import Attention

from .edit import ClsDecoder

__all__ = ["AttentionMaps", "capture_attention"]


@dataclass
class AttentionMaps:
    """Per-layer attention of one forward pass, in float32 on the model's device.

    Attributes:
        encoder: One (B, heads, T, T) map per encoder layer; T counts every token the
            encoder sees (DeiT III: [CLS] first, then the patches; EDIT: patches only).
        decoder: EDIT only: one (B, decoder_heads, N + 1) map per layer, the [CLS] query's
            weights over the N patches of that layer followed by the previous [CLS] state.
    """
    encoder: List[torch.Tensor] = field(default_factory=list)
    decoder: List[torch.Tensor] = field(default_factory=list)

    def decoder_patch_maps(self, grid_size) -> torch.Tensor:
        """Decoder attention over patches as images: (layers, B, H, W), heads averaged."""
        if not self.decoder:
            raise ValueError("no decoder attention was captured: is the model an EDIT?")
        gh, gw = grid_size
        maps = torch.stack([a[..., :-1].mean(dim=1) for a in self.decoder])   # L, B, N
        return maps.reshape(maps.shape[0], maps.shape[1], gh, gw)


def _encoder_hook(attn: Attention, store: List[torch.Tensor]):
    def hook(_module: nn.Module, _inputs, qkv: torch.Tensor) -> None:
        with torch.no_grad():
            B, T, _ = qkv.shape
            q, k, _v = qkv.reshape(B, T, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            q, k = attn.q_norm(q), attn.k_norm(k)
            scores = (q.float() * attn.scale) @ k.float().transpose(-2, -1)
            store.append(scores.softmax(dim=-1))
    return hook


def _decoder_hook(store: List[torch.Tensor]):
    def hook(_module: nn.Module, _inputs, probs: torch.Tensor) -> None:
        store.append(probs.detach().float())
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
            handles.append(module.qkv.register_forward_hook(_encoder_hook(module, maps.encoder)))
        elif isinstance(module, ClsDecoder):
            handles.append(module.attn_probs.register_forward_hook(_decoder_hook(maps.decoder)))
    if not handles:
        raise ValueError(f"{type(model).__name__} has no timm Attention or EDIT decoder module to read maps from")
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()
