"""The report's figures that run models: the pipeline's checkpoints on sample images, drawn with matplotlib.

- ``attention_sink``: paper Fig. 1. Per layer, the attention DeiT III's tokens pay to [CLS]
  against the mean attention a patch receives; beside it, EDIT's decoder: the weight its
  [CLS] query puts on its own previous state against the mean over patches; and, for both
  encoders, the share of attention taken by the single most-attended token.
- ``attention_maps``: paper Fig. 5. EDIT's per-layer [CLS]-to-patch attention over sample
  images, one panel per layer.
- ``saturation_stats``: the per-layer similarities LaViT's Fig. 3 plots
  (``editrepro.reporting.figures.attention_saturation`` draws them).

The figures drawn from results alone (Fig. 4, the paired gains, the training curves, Fig. 3 from its
numbers) are ``editrepro.reporting.figures``; both draw through ``editrepro.plotting``.
"""
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

from ..models import capture_attention
from ..plotting import COLORS, plt, save_png, style_layer_axes
from .attention import attention_summary

__all__ = ["sample_images", "attention_sink_stats", "attention_sink", "attention_maps", "saturation_stats"]


def sample_images(dataset, count: int = 4) -> torch.Tensor:
    """``count`` evaluation images of different classes (the first of each), as one batch."""
    images, seen = [], set()
    for i in range(len(dataset)):
        image, label = dataset[i]
        if label in seen:
            continue
        seen.add(label)
        images.append(image)
        if len(images) == count:
            break
    return torch.stack(images)


@torch.no_grad()
def attention_sink_stats(model, images: torch.Tensor) -> Dict[str, np.ndarray]:
    """Per-layer attention statistics of one forward pass (means over images, heads and queries).

    ``cls`` / ``other``: attention a token pays to [CLS] (key 0) / to one other token, for
    models whose encoder holds [CLS]. ``dec_self`` / ``dec_patch``: EDIT's decoder weight on
    its previous state / on one patch. ``top_share``: the largest mean attention any single
    key receives in the encoder.
    """
    summary = attention_summary(model, images, batch_size=len(images))     # the measures of analysis.attention
    stats = {"top_share": summary.layers["top_share"]}
    if summary.has_cls:
        stats["cls"], stats["other"] = summary.layers["to_cls"], summary.layers["to_other"]
    if summary.has_decoder:
        stats["dec_self"], stats["dec_patch"] = summary.layers["dec_self"], summary.layers["dec_patch"]
    return stats


def _require(model, edit: bool, what: str) -> None:
    """Fig. 1 compares a [CLS]-in-the-encoder model with EDIT; Fig. 5 needs EDIT's decoder."""
    is_edit = hasattr(model, "decoder")
    if edit and not is_edit:
        raise ValueError(f"{what}: {type(model).__name__} has no EDIT decoder; give an EDIT model")
    if not edit and (is_edit or getattr(model, "num_prefix_tokens", 0) < 1):
        raise ValueError(f"{what}: {type(model).__name__} has no [CLS] token in its encoder; give a DeiT III model")


def attention_sink(deit3, edit, images: torch.Tensor, out: Path, labels: Tuple[str, str] = ("DeiT III", "EDIT"),
                   note: str = "") -> Path:
    _require(deit3, edit=False, what=f"the baseline of Fig. 1 ({labels[0]})")
    _require(edit, edit=True, what=f"the EDIT model of Fig. 1 ({labels[1]})")
    base, ours = attention_sink_stats(deit3, images), attention_sink_stats(edit, images)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    layers = np.arange(1, len(base["cls"]) + 1)
    layers_e = np.arange(1, len(ours["dec_self"]) + 1)
    axes[0].plot(layers, base["cls"], "o-", color=COLORS["DeiT3"], label="to [CLS]")
    axes[0].plot(layers, base["other"], "s--", color="gray", label="to one other token (mean)")
    axes[0].set(title="(a) DeiT III: attention paid to [CLS]", xlabel="layer", ylabel="mean attention")
    axes[1].plot(layers_e, ours["dec_self"], "o-", color=COLORS["EDIT"], label="to its previous [CLS] state")
    axes[1].plot(layers_e, ours["dec_patch"], "s--", color="gray", label="to one patch (mean)")
    axes[1].set(title="(b) EDIT decoder: where [CLS] looks", xlabel="layer")
    axes[2].plot(layers, base["top_share"], "o-", color=COLORS["DeiT3"], label="DeiT III")
    axes[2].plot(layers_e, ours["top_share"], "o-", color=COLORS["EDIT"], label="EDIT")
    axes[2].set(title="(c) encoders: most-attended token", xlabel="layer")
    style_layer_axes(axes[0], np.r_[base["cls"], base["other"]])
    style_layer_axes(axes[1], np.r_[ours["dec_self"], ours["dec_patch"]])
    style_layer_axes(axes[2], np.r_[base["top_share"], ours["top_share"]])
    fig.suptitle(f"{labels[0]} vs {labels[1]}, {images.shape[0]} images" + (f"; {note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return save_png(fig, out)


def _denormalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    x = images * torch.tensor(std)[None, :, None, None] + torch.tensor(mean)[None, :, None, None]
    return x.clamp(0, 1).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def attention_maps(edit, images: torch.Tensor, out: Path, mean: Sequence[float], std: Sequence[float],
                   note: str = "") -> Path:
    """Paper Fig. 5: for each image, EDIT's decoder attention over the patches at every layer."""
    _require(edit, edit=True, what="the model of Fig. 5")
    with capture_attention(edit) as maps:
        edit(images)
    grid = edit.patch_embed.grid_size
    per_layer = maps.decoder_patch_maps(grid)                  # (L, B, gh, gw), heads averaged
    layers, count = per_layer.shape[0], images.shape[0]
    pictures = _denormalise(images, mean, std)
    fig, axes = plt.subplots(count, layers + 1, figsize=(1.6 * (layers + 1), 1.7 * count), squeeze=False)
    for b in range(count):
        axes[b, 0].imshow(pictures[b])
        axes[b, 0].set_title("image" if b == 0 else "", fontsize=8)
        for layer in range(layers):
            ax = axes[b, layer + 1]
            ax.imshow(pictures[b], alpha=0.35)
            heat = per_layer[layer, b].numpy()
            ax.imshow(heat, cmap="inferno", alpha=0.75, extent=(0, pictures.shape[2], pictures.shape[1], 0),
                      interpolation="nearest")
            if b == 0:
                ax.set_title(f"layer {layer + 1}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    if note:
        fig.suptitle(note, fontsize=9)
    return save_png(fig, out)


@torch.no_grad()
def saturation_stats(model, images: torch.Tensor) -> Dict[str, list]:
    """``similarity`` of each layer to the previous one (layers 2..L) and each layer's ``kind`` (VA, LA, ...)."""
    summary = attention_summary(model, images, batch_size=len(images))
    return {"similarity": [float(x) for x in summary.layers["similarity"][1:]], "kinds": list(summary.kinds)}
