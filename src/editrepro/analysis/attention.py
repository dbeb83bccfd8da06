"""The attention-sink and attention-saturation measures, per layer, of any model whose attention
``editrepro.models.capture_attention`` reads (timm's ViT ``Attention``: DeiT III, EDIT's encoder, DINOv2,
register ViTs, ...; PVTv2's and LaViT's layers; EDIT's decoder).

Per encoder layer, with ``received[k]`` the mean attention key ``k`` receives (mean over images, heads
and queries, every query included; a query's weights sum to 1, so ``received`` sums to 1):

==============  =============================================================================
``to_cls``      ``received[0]``, where the encoder holds a class token (timm's layout: [CLS],
                then the register tokens, then the patches)
``to_other``    the mean of ``received`` over every other token (registers and patches)
``cls_ratio``   ``to_cls / to_other``: the paper's "times the attention of other tokens"
``to_patch``    the mean of ``received`` over the patches (the tokens after the prefix tokens)
``sink_ratio``  ``to_cls / to_patch``: [CLS]'s attention relative to an average patch
``prefix_share`` ``received`` summed over the prefix tokens (class and register tokens)
``top_share``   the largest ``received``: the share of the most-attended token
``similarity``  cosine similarity of the layer's maps with the previous layer's (``layer_similarity``,
                LaViT's Fig. 3; NaN for the first layer and at a pyramid's stage boundaries)
==============  =============================================================================

EDIT's decoder (its [CLS] query over the layer's patches and its own previous state): ``dec_self``
(the weight on that state), ``dec_patch`` (on an average patch) and ``dec_ratio`` (their ratio).

The **sink score** of a model is the mean over layers of ``sink_ratio``; for EDIT, whose encoder has no
[CLS], of ``dec_ratio`` (the decoder's view: its [CLS] on itself relative to an average patch). ``corners``
are the top-left ``16 x 16`` of every layer's map (queries x keys, mean over images and heads; NaN where a
map is smaller): paper Fig. 1 (b).
"""
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import nn

from ..models import capture_attention, layer_similarity

__all__ = ["CORNER", "AttentionSummary", "attention_summary", "summarise", "sink_score", "encoder_prefix_tokens"]

CORNER = 16

ENCODER_COLUMNS = ("to_cls", "to_other", "cls_ratio", "to_patch", "sink_ratio", "prefix_share", "top_share",
                   "similarity")
DECODER_COLUMNS = ("dec_self", "dec_patch", "dec_ratio")


@dataclass
class AttentionSummary:
    """The measures of one model over a set of images (see the module's docstring)."""
    images: int
    prefix_tokens: int                 # prefix tokens of the encoder (0 for EDIT, whose [CLS] is not in it)
    has_cls: bool                      # whether the encoder's first token is a class token
    kinds: List[str]                   # what computed each encoder map (attention, SRA, VA, LA)
    layers: Dict[str, np.ndarray]      # column -> one value per layer (encoder columns; decoder ones for EDIT)
    corners: np.ndarray                # (layers, CORNER, CORNER)
    received: List[np.ndarray] = field(default_factory=list)   # per layer: mean attention each key receives

    @property
    def depth(self) -> int:
        return len(self.kinds)

    @property
    def has_decoder(self) -> bool:
        return "dec_self" in self.layers

    @property
    def sink_view(self) -> str:
        """Which attention the sink score reads: the encoder's [CLS], EDIT's decoder, or none."""
        return "encoder" if self.has_cls else "decoder" if self.has_decoder else ""

    @property
    def sink_score(self) -> Optional[float]:
        return sink_score(self)

    @property
    def saturation(self) -> Optional[float]:
        """The mean similarity of consecutive layers' maps (NaN entries, stage boundaries, left out)."""
        sim = self.layers["similarity"][1:]
        sim = sim[~np.isnan(sim)]
        return float(sim.mean()) if len(sim) else None


def sink_score(summary: AttentionSummary) -> Optional[float]:
    """Mean over layers of [CLS]'s attention relative to an average patch (encoder, else EDIT's decoder)."""
    column = {"encoder": "sink_ratio", "decoder": "dec_ratio"}.get(summary.sink_view)
    return float(np.mean(summary.layers[column])) if column else None


def encoder_prefix_tokens(model: nn.Module) -> int:
    """Tokens before the patches in the encoder's sequence: timm's ``num_prefix_tokens`` (class, register and
    distillation tokens); 0 for EDIT, whose [CLS] lives in the decoder, and for models without it (pyramids)."""
    from ..models import ClsDecoder

    if any(isinstance(m, ClsDecoder) for m in model.modules()):
        return 0
    return int(getattr(model, "num_prefix_tokens", 0) or 0)


def _has_cls(model: nn.Module, prefix_tokens: int) -> bool:
    return prefix_tokens > 0 and bool(getattr(model, "has_class_token", True))


class _Sums:
    """Sums over images of per-image means, for a batch-by-batch pass."""

    def __init__(self) -> None:
        self.n = 0
        self.received: List[torch.Tensor] = []
        self.corners: List[torch.Tensor] = []
        self.similarity: Optional[np.ndarray] = None
        self.dec_self: List[torch.Tensor] = []
        self.dec_patch: List[torch.Tensor] = []
        self.kinds: List[str] = []

    @staticmethod
    def _add(store: List[torch.Tensor], i: int, value: torch.Tensor) -> None:
        if len(store) <= i:
            store.append(value)
        else:
            store[i] = store[i] + value

    def add(self, maps, batch: int, corner: int) -> None:
        if self.n and list(maps.kinds) != self.kinds:
            raise RuntimeError("the model ran other attention layers on another batch")
        self.kinds = list(maps.kinds)
        for i, a in enumerate(maps.encoder):                   # (B, heads, queries, keys)
            a = a.float()
            self._add(self.received, i, a.mean(dim=(1, 2)).sum(0).cpu())
            self._add(self.corners, i, a[:, :, :corner, :corner].mean(dim=1).sum(0).cpu())
        sim = np.asarray(layer_similarity(maps.encoder), dtype=float) * batch
        self.similarity = sim if self.similarity is None else self.similarity + sim
        for i, a in enumerate(maps.decoder):                   # (B, heads, N + 1): patches, then c_{i-1}
            a = a.float()
            self._add(self.dec_self, i, a[..., -1].mean(dim=1).sum(0).cpu())
            self._add(self.dec_patch, i, a[..., :-1].mean(dim=(1, 2)).sum(0).cpu())
        self.n += batch


def summarise(sums: _Sums, prefix_tokens: int, has_cls: bool, corner: int = CORNER) -> AttentionSummary:
    n = sums.n
    received = [(r / n).numpy().astype(float) for r in sums.received]
    layers: Dict[str, List[float]] = {c: [] for c in ENCODER_COLUMNS}
    corners = np.full((len(received), corner, corner), np.nan)
    for i, r in enumerate(received):
        c = (sums.corners[i] / n).numpy()
        corners[i, :c.shape[0], :c.shape[1]] = c
        patches = r[prefix_tokens:]
        to_cls = r[0] if has_cls else np.nan
        to_other = r[1:].mean() if has_cls and len(r) > 1 else np.nan
        to_patch = patches.mean() if len(patches) else np.nan
        layers["to_cls"].append(to_cls)
        layers["to_other"].append(to_other)
        layers["cls_ratio"].append(to_cls / to_other if has_cls else np.nan)
        layers["to_patch"].append(to_patch)
        layers["sink_ratio"].append(to_cls / to_patch if has_cls else np.nan)
        layers["prefix_share"].append(r[:prefix_tokens].sum())
        layers["top_share"].append(r.max())
    layers["similarity"] = [np.nan] + list(sums.similarity / n if sums.similarity is not None else [])
    if sums.dec_self:
        layers["dec_self"] = [(s / n).item() for s in sums.dec_self]
        layers["dec_patch"] = [(p / n).item() for p in sums.dec_patch]
        layers["dec_ratio"] = [s / p for s, p in zip(layers["dec_self"], layers["dec_patch"])]
    return AttentionSummary(images=n, prefix_tokens=prefix_tokens, has_cls=has_cls, kinds=sums.kinds,
                            layers={k: np.asarray(v, dtype=float) for k, v in layers.items()}, corners=corners,
                            received=received)


@torch.no_grad()
def attention_summary(model: nn.Module, images: torch.Tensor, batch_size: int = 8, corner: int = CORNER,
                      prefix_tokens: Optional[int] = None, name: str = "") -> AttentionSummary:
    """Run ``images`` through ``model`` (eval mode, ``batch_size`` at a time, on the model's device) and reduce
    the attention of every layer (see the module's docstring).

    ``prefix_tokens`` overrides ``encoder_prefix_tokens(model)``. A model with no attention module this
    package reads is refused with a ``ValueError`` naming it (``name``, else its class).
    """
    if images.ndim != 4 or not len(images):
        raise ValueError(f"images must be a non-empty (B, C, H, W) batch, got shape {tuple(images.shape)}")
    prefix = encoder_prefix_tokens(model) if prefix_tokens is None else int(prefix_tokens)
    has_cls = _has_cls(model, prefix)
    device = next(model.parameters()).device
    model.eval()
    sums = _Sums()
    label = name or type(model).__name__
    with ExitStack() as stack:
        try:
            maps = stack.enter_context(capture_attention(model))
        except ValueError as e:
            raise ValueError(f"model {label!r}: {e}. The attention analyses read timm ViT-family models built "
                             "on timm.layers.Attention (ViT, DeiT, DeiT III, DINOv2, register ViTs) and this "
                             "package's EDIT, LaViT and PVTv2") from None
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(device)
            maps.encoder.clear()
            maps.kinds.clear()
            maps.decoder.clear()
            model(batch)
            if not maps.encoder:
                raise ValueError(f"model {label!r} ran no attention layer this package reads maps from "
                                 "(timm.layers.Attention, PVTv2's or LaViT's attention)")
            if prefix and maps.encoder[0].shape[-1] <= prefix:
                raise ValueError(f"model {label!r}: its first layer attends over {maps.encoder[0].shape[-1]} "
                                 f"tokens, no more than its {prefix} prefix tokens")
            sums.add(maps, len(batch), corner)
    return summarise(sums, prefix, has_cls, corner)


def per_layer_rows(summary: AttentionSummary) -> List[Dict[str, object]]:
    """One row per layer (1-based), every column of the summary: the CSV of ``attention-sink``."""
    rows = []
    for i in range(summary.depth):
        row: Dict[str, object] = {"layer": i + 1, "kind": summary.kinds[i]}
        for column, values in summary.layers.items():
            row[column] = None if i >= len(values) or np.isnan(values[i]) else float(values[i])
        rows.append(row)
    return rows
