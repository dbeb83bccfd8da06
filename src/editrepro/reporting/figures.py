"""The report's figures (matplotlib, PNG), computed from what the pipeline trained.

- ``attention_sink``: paper Fig. 1. Per layer, the attention DeiT III's tokens pay to [CLS]
  against the mean attention a patch receives; beside it, EDIT's decoder: the weight its
  [CLS] query puts on its own previous state against the mean over patches; and, for both
  encoders, the share of attention taken by the single most-attended token.
- ``top1_vs_flops``: paper Fig. 4. Top-1 against GFLOPs of EDIT and DeiT III, the paper's
  points beside the reproduced ones, one panel per pretraining.
- ``attention_maps``: paper Fig. 5. EDIT's per-layer [CLS]-to-patch attention over sample
  images, one panel per layer.
- ``training_curves``: training loss and validation top-1 per epoch of a table's runs,
  from the tracking store (or the runs' ``log.jsonl`` when it cannot be reached).
- ``attention_saturation``: LaViT's Fig. 3. For each layer, the similarity of its attention maps
  with the previous layer's (``layer_similarity``), for any models with attention maps.
"""
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

from ..fileio import atomic_path  # noqa: E402
from ..analysis.attention import attention_summary  # noqa: E402
from ..models import capture_attention  # noqa: E402

__all__ = ["sample_images", "attention_sink_stats", "attention_sink", "top1_vs_flops", "attention_maps",
           "training_curves", "saturation_stats", "attention_saturation"]

COLORS = {"EDIT": "tab:red", "DeiT3": "tab:blue", "LaViT": "tab:green", "PVTv2": "tab:purple"}


def _save(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


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


def _axes_style(ax, values: Iterable[float]) -> None:
    """Integer layer ticks; a log scale only when the values span more than a decade."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    v = np.asarray([x for x in values if x > 0])
    if len(v) and v.max() / v.min() > 10:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


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
    _axes_style(axes[0], np.r_[base["cls"], base["other"]])
    _axes_style(axes[1], np.r_[ours["dec_self"], ours["dec_patch"]])
    _axes_style(axes[2], np.r_[base["top_share"], ours["top_share"]])
    fig.suptitle(f"{labels[0]} vs {labels[1]}, {images.shape[0]} images" + (f"; {note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def _half_width(cell) -> float:
    """Half the 95% interval of a cell over its seeds (0 with one seed)."""
    low, high = getattr(cell, "ci_low", None), getattr(cell, "ci_high", None)
    return 0.0 if low is None or high is None or pd.isna(low) or pd.isna(high) else (high - low) / 2


def top1_vs_flops(cells: pd.DataFrame, table1: pd.DataFrame, out: Path, note: str = "") -> Path:
    """Paper Fig. 4 from the results table: both halves of Table 3, paper and reproduced points."""
    from .results import summarize_cells

    cells = summarize_cells(cells)
    t3 = cells[cells.table == "table3"]
    flops = table1[(table1.table == "table3") & (table1.column == "gmacs") & (table1.convention == "all")]
    gflops = {(r.row, int(r.resolution)): r.reproduced_value for r in flops.itertuples()}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, half, title in zip(axes, ("a", "b"), ("(a) ImageNet-1k", "(b) ImageNet-21k pretraining")):
        part = t3[t3.half == half]
        for family in ("EDIT", "DeiT3"):
            fam = part[part.row.str.startswith(family + "-")]
            for kind, marker, column, style in (("paper", "o", "paper_value", "-"),
                                                ("reproduced", "*", "reproduced_value", ":")):
                pts = sorted((gflops.get((r.row, int(r.resolution)), np.nan), getattr(r, column), r.row, r.resolution,
                              _half_width(r) if kind == "reproduced" else 0.0)
                             for r in fam.itertuples() if not pd.isna(getattr(r, column)))
                pts = [p for p in pts if not np.isnan(p[0])]
                if not pts:
                    continue
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, linestyle=style,
                        color=COLORS[family], markersize=9 if marker == "*" else 6, label=f"{family} ({kind})")
                if any(p[4] for p in pts):   # the 95% interval over seeds
                    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[4] for p in pts], fmt="none",
                                ecolor=COLORS[family], capsize=3, linewidth=1)
                for x, y, row, res, _ in pts:
                    short = row.split("-")[-1] + ("" if int(res) == 224 else f"/{res}")
                    ax.annotate(short, (x, y), fontsize=7, color=COLORS[family], xytext=(4, -10 if kind == "paper"
                                                                                         and family == "DeiT3" else 4),
                                textcoords="offset points")
        ax.set(title=title, xlabel="GFLOPs (all matmuls, counted)", ylabel="top-1 (%)", xscale="log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([1, 2, 5, 10, 20, 50])
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if note:
        fig.suptitle(note, fontsize=9)
    return _save(fig, out)


def paired_gains(cells: pd.DataFrame, out: Path, note: str = "") -> Path:
    """Each model's gain over its baseline (EDIT - DeiT III, LaViT - PVTv2), per pair of a table: the paper's
    claimed gain and the reproduced mean of the per-seed differences with its 95% interval as error bars."""
    from .comparisons import paired_comparisons

    pairs = paired_comparisons(cells)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(pairs) + 2), 4))
    x = np.arange(len(pairs))
    labels = [f"{p.a_row} - {p.b_row}\n{p.table}{p.half if p.table == 'table3' else ''}"
              + ("" if pd.isna(p.resolution) else f" {int(p.resolution)}") for p in pairs.itertuples()]
    claimed = [np.nan if p.claimed is None or pd.isna(p.claimed) else p.claimed for p in pairs.itertuples()]
    ax.scatter(x - 0.1, claimed, marker="o", color="black", label="paper's claimed gain", zorder=3)
    gain = pairs["gain"].astype(float).to_numpy() if len(pairs) else np.array([])
    low = pairs["ci_low"].astype(float).to_numpy() if len(pairs) else np.array([])
    high = pairs["ci_high"].astype(float).to_numpy() if len(pairs) else np.array([])
    err = np.nan_to_num(np.vstack([gain - low, high - gain]), nan=0.0) if len(pairs) else None
    ax.errorbar(x + 0.1, gain, yerr=err, fmt="*", color="tab:red", markersize=9, capsize=4,
                label="reproduced (mean of per-seed differences, 95% interval)", zorder=3)
    for xi, p in zip(x, pairs.itertuples()):
        if p.n:
            ax.annotate(f"n={p.n}", (xi + 0.1, p.gain), fontsize=7, xytext=(6, 0), textcoords="offset points")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set(ylabel="gain over the baseline (points)", title="Paired gains over seeds")
    ax.grid(alpha=0.3, axis="y")
    if len(pairs):
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no model / baseline pair trained", ha="center", va="center", transform=ax.transAxes)
    if note:
        fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


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
    return _save(fig, out)


def _curves_from_mlflow(experiment: str, config_name: str, uri: Optional[str]) -> Dict[str, pd.DataFrame]:
    from ..tracking import metric_histories

    runs = metric_histories(experiment, {"config": config_name}, ("epoch/train_loss", "val/top1"), uri)
    return {name: pd.DataFrame(series).sort_index() for name, series in runs.items() if series["epoch/train_loss"]}


def _curves_from_logs(run_dirs: Iterable[Path]) -> Dict[str, pd.DataFrame]:
    curves = {}
    for d in map(Path, run_dirs):
        log = d / "log.jsonl"
        if not log.is_file():
            continue
        rows = pd.read_json(log, lines=True).set_index("epoch")
        curves["/".join(d.parts[-3:])] = pd.DataFrame(   # run/model/seed
            {"epoch/train_loss": rows["train_loss"], "val/top1": rows["val"].map(lambda v: v.get("top1"))})
    return curves


def training_curves(out: Path, experiment: str, config_name: str, run_dirs: Iterable[Path] = (),
                    uri: Optional[str] = None, note: str = "") -> Path:
    """Loss and top-1 per epoch of a table's runs: from MLflow, or the runs' log.jsonl if it is unreachable."""
    try:
        curves, source = _curves_from_mlflow(experiment, config_name, uri), "MLflow"
    except Exception:  # noqa: BLE001 (an unreachable store falls back to the files)
        curves = {}
    if not curves:
        curves, source = _curves_from_logs(run_dirs), "log.jsonl"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, df in sorted(curves.items()):
        style = "-" if "EDIT" in name else "--"
        axes[0].plot(df.index, df["epoch/train_loss"], style, label=name)
        axes[1].plot(df.index, df["val/top1"], style, label=name)
    axes[0].set(title="training loss", xlabel="epoch")
    axes[1].set(title="validation top-1 (%)", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(fontsize=7)
    fig.suptitle((note + " " if note else "") + f"({len(curves)} runs, from {source})", fontsize=9)
    return _save(fig, out)


@torch.no_grad()
def saturation_stats(model, images: torch.Tensor) -> Dict[str, list]:
    """``similarity`` of each layer to the previous one (layers 2..L) and each layer's ``kind`` (VA, LA, ...)."""
    summary = attention_summary(model, images, batch_size=len(images))
    return {"similarity": [float(x) for x in summary.layers["similarity"][1:]], "kinds": list(summary.kinds)}


def attention_saturation(stats: Dict[str, Dict[str, list]], out: Path, note: str = "") -> Path:
    """LaViT's Fig. 3 for several models: similarity of consecutive layers' attention, per layer.

    ``stats``: label -> ``saturation_stats``. Points of LaViT's Less-Attention layers are open markers.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, s in stats.items():
        sim = np.asarray(s["similarity"], dtype=float)
        layers = np.arange(2, len(sim) + 2)
        color = next((c for family, c in COLORS.items() if label.startswith(family)), None)
        ax.plot(layers, sim, "o-", color=color, label=label, markersize=5)
        la = np.asarray([k == "LA" for k in s["kinds"][1:]], dtype=bool)
        if la.any():
            ax.plot(layers[la], sim[la], "o", markerfacecolor="white", color=color, markersize=7)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="layer l", ylabel="cosine similarity with layer l - 1", ylim=(0, 1.02),
           title="Attention saturation: similarity of each layer's attention to the previous layer's")
    ax.grid(alpha=0.3)
    if stats:
        ax.legend(fontsize=8)
    fig.suptitle(("per head, flattened maps, mean over heads and images; gaps: a pyramid's stage boundaries"
                  + (f"; {note}" if note else "")), fontsize=8, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, out)
