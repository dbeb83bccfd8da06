"""Table 3 in the paper's layout: both halves, paper and reproduced top-1 side by side."""
from typing import Any, Dict, Optional

import pandas as pd
from tabulate import tabulate

from .markdown import DEMO_NOTICE, fmt, fmt_delta, generated_line, mark, text

__all__ = ["render_table3", "matrix_counts", "render_jobs"]

HALVES = {"a": "(a) Regular ImageNet-1k training", "b": "(b) ImageNet-21k pretraining, fine-tuned on ImageNet-1k"}


def matrix_counts(cells: pd.DataFrame) -> Dict[str, int]:
    """How many cells are reproduced, off, pending, ... (cited rows and paper-less rows left out)."""
    counts = cells["status"].value_counts().to_dict()
    return {k: int(counts.get(k, 0)) for k in ("reproduced", "off", "pending", "not comparable")}


def _complexity(table1: Optional[pd.DataFrame], row: str, res: int, column: str, convention: str = ""):
    if table1 is None:
        return None
    sel = table1[(table1.table == "table3") & (table1.row == row) & (table1.resolution == res)
                 & (table1.column == column) & (table1.convention == convention)]
    return sel.iloc[0] if len(sel) else None


def render_jobs(jobs: pd.DataFrame) -> str:
    if jobs is None or not len(jobs):
        return "No job has run yet."
    rows = [[j.job, j.kind, f"{j.wall_s:.0f}", f"{j.devices} {j.device_type}", f"{j.device_hours:.3f}"]
            for j in jobs.sort_values(["kind", "job"]).itertuples()]
    text = tabulate(rows, headers=["job", "kind", "wall (s)", "devices", "device-hours"], tablefmt="github",
                    disable_numparse=True)
    totals = jobs.groupby("device_type")["device_hours"].sum()
    summary = ", ".join(f"{'GPU' if t == 'cuda' else t.upper()}-hours: {h:.2f}" for t, h in totals.items())
    return f"{text}\n\nTotal {summary} (wall time of the last attempt x devices, from Snakemake's benchmark files)."


def render_table3(cells: pd.DataFrame, config: Dict[str, Any], table1: Optional[pd.DataFrame] = None,
                  jobs: Optional[pd.DataFrame] = None, commit: Optional[str] = None) -> str:
    name = config["name"]
    counts = matrix_counts(cells)
    lines = ["# Table 3: ImageNet-1k top-1 of EDIT and DeiT III", "",
             generated_line("snakemake reproduce_table3", commit, name), ""]
    if not config.get("comparable_to_paper", False):
        lines += [DEMO_NOTICE.format(config=name), ""]
    lines += [f"Cells: {counts['reproduced']} reproduced within tolerance, {counts['off']} off, "
              f"{counts['pending']} pending" + (f", {counts['not comparable']} run on demo data" if
                                                counts["not comparable"] else "")
              + f". Tolerance: ±{cells['tolerance'].iloc[0]:.1f} top-1 points.", ""]
    for half, title in HALVES.items():
        part = cells[cells.half == half]
        rows = []
        for c in part.itertuples():
            params = _complexity(table1, c.row, c.resolution, "params_m")
            flops = _complexity(table1, c.row, c.resolution, "gmacs", "all")
            flops_x = _complexity(table1, c.row, c.resolution, "gmacs", "no_attn")
            rows.append([
                c.row, f"{c.resolution}²",
                fmt(params.reproduced_value, 1) if params is not None else "–",
                (f"{fmt(flops.reproduced_value, 1)} / {fmt(flops_x.reproduced_value, 1)}"
                 if flops is not None else "–"),
                text(c.paper_text) or "–", fmt(c.reproduced_value), fmt_delta(c.delta), mark(c.status),
                text(c.run_id)[:8],
            ])
        lines += [f"## {title}", "",
                  tabulate(rows, headers=["Model", "Image", "Params (M)", "GFLOPs (all / excl. attn)",
                                          "Top-1 paper", "reproduced", "Δ", "status", "MLflow run"],
                           tablefmt="github", disable_numparse=True), ""]
    lines += [
        "Params and GFLOPs are counted on the paper's architectures (`reports/table1.md` explains the two FLOP "
        "conventions: the paper's 224 px rows count all matmuls, its 384 px rows exclude attention). "
        "Rows marked *cited* are the paper's citations of other work, which this pipeline does not retrain.",
        "",
        "## Compute", "", render_jobs(jobs), "",
    ]
    return "\n".join(lines)
