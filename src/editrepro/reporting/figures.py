"""The report's figures drawn from results alone (matplotlib, PNG): tables, metric histories, per-layer numbers.

- ``top1_vs_flops``: paper Fig. 4. Top-1 against GFLOPs of EDIT and DeiT III, the paper's
  points beside the reproduced ones, one panel per pretraining.
- ``paired_gains``: each model's gain over its baseline per pair of a table, claimed and reproduced.
- ``training_curves``: training loss and validation top-1 per epoch of a table's runs,
  from the tracking store (or the runs' ``log.jsonl`` when it cannot be reached).
- ``attention_saturation``: LaViT's Fig. 3. For each layer, the similarity of its attention maps
  with the previous layer's (``layer_similarity``), for any models with attention maps, from the numbers
  ``editrepro.analysis.figures.saturation_stats`` measures.

Nothing here builds or runs a model: the figures that do (Fig. 1, Fig. 5) are ``editrepro.analysis.figures``.
"""
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ..plotting import COLORS, plt, save_png

__all__ = ["top1_vs_flops", "paired_gains", "training_curves", "attention_saturation"]


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
    return save_png(fig, out)


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
    return save_png(fig, out)


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
    return save_png(fig, out)


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
    return save_png(fig, out)


def ablation_deltas(cells: pd.DataFrame, out: Path, title: str, note: str = "") -> Path:
    """An ablation table's variants against their full model: each variant's mean per-seed difference in top-1
    (variant - full) with its 95% t-interval (a point alone with one seed), zero marked."""
    from .results import summarize_cells

    deltas = summarize_cells(cells)
    deltas = deltas[deltas["metric"] == "top1_delta"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 1.6 + 0.5 * max(len(deltas), 1)))
    y = np.arange(len(deltas))[::-1]
    mean = deltas["reproduced_value"].astype(float).to_numpy()
    low = deltas["ci_low"].astype(float).to_numpy() if len(deltas) else np.array([])
    high = deltas["ci_high"].astype(float).to_numpy() if len(deltas) else np.array([])
    err = np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0) if len(deltas) else None
    ax.errorbar(mean, y, xerr=err, fmt="o", color="tab:red", capsize=4, zorder=3,
                label="mean of per-seed differences, 95% interval")
    for yi, d in zip(y, deltas.itertuples()):
        ax.annotate(f"n={'' if pd.isna(d.n) else int(d.n)}", (d.reproduced_value, yi), fontsize=7,
                    xytext=(8, 4), textcoords="offset points")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_ylim(-0.8, max(len(deltas), 1) - 0.2)
    ax.set_yticks(y, deltas["row"].tolist(), fontsize=8)
    ax.set(xlabel="top-1 difference from the full model (points)", title=title)
    ax.grid(alpha=0.3, axis="x")
    if not len(deltas):
        ax.text(0.5, 0.5, "no variant evaluated yet", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=8, loc="best")
    if note:
        fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    return save_png(fig, out)
