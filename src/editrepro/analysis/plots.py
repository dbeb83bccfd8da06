"""The attention-sink figures of one model (``attention-sink``), drawn from an ``AttentionSummary``.

- ``sink_curves``: paper Fig. 1 (a). Per layer, the attention a token pays to [CLS] and to an average other
  token (and patch, where there are register tokens), their ratio against the paper's "10 times"; for EDIT its
  decoder's [CLS] on its own state against an average patch; the share of the prefix tokens and of the
  most-attended token.
- ``corner_maps``: paper Fig. 1 (b). The top-left 16 x 16 corner of every layer's attention map (queries x
  keys, mean over images and heads), on one colour scale.
"""
from pathlib import Path
from typing import List

import numpy as np

from ..plotting import plt, save_png, style_layer_axes
from .attention import AttentionSummary

__all__ = ["sink_curves", "corner_maps", "corner_figure", "CLAIM"]

CLAIM = 10.0   # Fig. 1's text: [CLS] receives "more than 10 times" the attention of other tokens


def _title(label: str, summary: AttentionSummary, note: str) -> str:
    return f"{label}: {summary.images} images" + (f"; {note}" if note else "")


def sink_curves(summary: AttentionSummary, out: Path, label: str, note: str = "") -> Path:
    """Fig. 1 (a) of one model (see the module's docstring)."""
    L = summary.layers
    panels: List = []
    if summary.has_cls:
        panels.append(("(a) encoder: attention paid to [CLS]",
                       [("to [CLS]", L["to_cls"], "o-", "tab:blue"),
                        ("to an average other token", L["to_other"], "s--", "gray")]
                       + ([("to an average patch", L["to_patch"], "^:", "black")] if summary.prefix_tokens > 1 else []),
                       False))
        panels.append(("[CLS] / average other token", [("ratio", L["cls_ratio"], "o-", "tab:blue")], True))
    if summary.has_decoder:
        panels.append(("EDIT decoder: where [CLS] looks",
                       [("to its previous [CLS] state", L["dec_self"], "o-", "tab:red"),
                        ("to an average patch", L["dec_patch"], "s--", "gray")], False))
        panels.append(("decoder: own state / average patch", [("ratio", L["dec_ratio"], "o-", "tab:red")], True))
    shares = [("most-attended token", L["top_share"], "o-", "tab:purple")]
    if summary.prefix_tokens:
        shares.append((f"prefix tokens ({summary.prefix_tokens})", L["prefix_share"], "s--", "tab:orange"))
    panels.append(("encoder: share of the attention mass", shares, False))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    for ax, (title, curves, claim) in zip(axes[0], panels):
        values = []
        for name, ys, style, color in curves:
            ax.plot(np.arange(1, len(ys) + 1), ys, style, color=color, label=name, markersize=4)
            values += [v for v in ys if not np.isnan(v)]
        if claim:
            ax.axhline(CLAIM, color="black", linewidth=0.8, linestyle=":", label=f"{CLAIM:g} x (the paper's claim)")
            values.append(CLAIM)
        ax.set(title=title, xlabel="layer")
        style_layer_axes(ax, values)
    axes[0][0].set_ylabel("mean attention")
    fig.suptitle(_title(label, summary, note), fontsize=9)
    fig.tight_layout()
    return save_png(fig, out)


def corner_figure(summary: AttentionSummary, label: str, note: str = ""):
    """The figure of ``corner_maps``, not saved (its images hold ``summary.corners``, layer by layer)."""
    corners = summary.corners
    layers, size = corners.shape[0], corners.shape[-1]
    cols = min(layers, 6)
    rows = int(np.ceil(layers / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols + 0.8, 2.2 * rows), squeeze=False)
    finite = corners[~np.isnan(corners)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax <= vmin:                                  # one key per query (a pyramid's last stage): all weights 1
        vmin = 0.0
    ticks = [0] + ([summary.prefix_tokens] if 1 < summary.prefix_tokens < size else []) + [size - 1]
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= layers:
            ax.axis("off")
            continue
        image = ax.imshow(corners[i], cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"layer {i + 1}", fontsize=8)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.tick_params(labelsize=6)
        if summary.has_cls:
            ax.set_xticklabels(["[CLS]"] + [str(t) for t in ticks[1:]])
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="attention (mean over images and heads)")
    keys = "keys: [CLS] first" if summary.has_cls else "keys"
    fig.suptitle(f"{_title(label, summary, note)}; top-left {size} x {size} of each layer's map "
                 f"(rows: queries, columns: {keys})", fontsize=9)
    return fig


def corner_maps(summary: AttentionSummary, out: Path, label: str, note: str = "") -> Path:
    """Fig. 1 (b) of one model (see the module's docstring)."""
    return save_png(corner_figure(summary, label, note), out)
