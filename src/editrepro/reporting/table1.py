"""Table 1 and the Params/FLOPs columns of Table 3: paper against measured, cell by cell.

``architectures`` lists the models to count; ``measure`` compares their counts (``editrepro.models.complexity``,
made by the ``table1`` command: nothing here builds a model) with the paper and returns one tidy row per cell (the
layout every results table of the project uses); ``render`` turns it into the markdown report; ``write`` does
both, atomically.
"""
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import pandas as pd
from tabulate import tabulate

from ..fileio import atomic_path, atomic_write_text
from ..provenance import git_commit
from .markdown import fmt_delta, generated_line, mark
from .paper import load_paper_tables, paper_value

__all__ = ["architectures", "measure", "render", "summary", "write", "REASSOCIATED"]

COLUMNS = [
    "table", "half", "row", "model", "resolution", "column", "convention", "paper_text", "paper_value",
    "reproduced_value", "delta", "tolerance", "status", "git_commit",
]

# EDIT variants also counted with the reassociated decoder (same function, fewer FLOPs).
REASSOCIATED = ["edit_tiny_patch16_224", "edit_small_patch16_224", "edit_base_patch16_224"]


def _cells(table: str, row: Dict[str, Any], half: str, commit: str, c) -> List[Dict[str, Any]]:
    base = dict(table=table, half=half, row=row["model"], model=row["arch"], resolution=int(row["img_size"]),
                git_commit=commit)
    measured = [("params_m", "", c.params_m), ("gmacs", "all", c.gmacs), ("gmacs", "no_attn", c.gmacs_no_attn)]
    cells = []
    for column, convention, value in measured:
        pv = paper_value(row, column)
        cell = dict(base, column=column, convention=convention, reproduced_value=value,
                    paper_text=pv.text if pv else None, paper_value=pv.value if pv else None,
                    delta=value - pv.value if pv else None, tolerance=pv.tolerance() if pv else None)
        cell["status"] = "no paper value" if pv is None else ("reproduced" if pv.within(value) else "off")
        cells.append(cell)
    return cells


def _table3_rows(tables: Dict[str, Any]) -> List[Tuple[Dict[str, Any], str]]:
    """Table 3's rows that print Params/FLOPs, each architecture once, with the halves that print it."""
    halves: Dict[tuple, List[str]] = {}
    first: Dict[tuple, Dict[str, Any]] = {}
    for row in tables["table3"]["rows"]:
        if row.get("params_m") is None and row.get("gmacs") is None:
            continue  # the half leaves it blank; the other half prints it
        key = (row["arch"], row.get("params_m"), row.get("gmacs"))
        first.setdefault(key, row)  # both halves print the same complexity for one architecture
        halves.setdefault(key, []).append(row.get("half", ""))
    return [(row, "+".join(halves[key])) for key, row in first.items()]


def architectures(paper_tables: Dict[str, Any]) -> List[str]:
    """The timm names ``measure`` needs counts of, in table order, each once."""
    names = [row["arch"] for row in paper_tables["table1"]["rows"]] + [row["arch"] for row, _ in
                                                                      _table3_rows(paper_tables)]
    return list(dict.fromkeys(names))


def measure(counts: Mapping[str, Any], paper_tables: Optional[Dict[str, Any]] = None,
            commit: Optional[str] = None) -> pd.DataFrame:
    """Compare the counts of every model of Table 1 and Table 3 with the printed values.

    ``counts``: timm name -> its ``Complexity`` (``params_m``, ``gmacs``, ``gmacs_no_attn``) for every name of
    ``architectures``."""
    tables = paper_tables if paper_tables is not None else load_paper_tables()
    commit = commit if commit is not None else git_commit()
    records = []
    for row in tables["table1"]["rows"]:
        records += _cells("table1", row, "", commit, counts[row["arch"]])
    for row, halves in _table3_rows(tables):
        records += _cells("table3", row, halves, commit, counts[row["arch"]])
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _fmt_delta(delta: Optional[float], paper: Optional[float], digits: int) -> str:
    return fmt_delta(delta, paper, digits, relative=True)


def _mark(status: str) -> str:
    return "" if status == "no paper value" else mark(status)


def _wide(df: pd.DataFrame) -> List[Dict[str, Any]]:
    """One line per (table, row, resolution) with the three measured cells side by side."""
    out = []
    for (_, _, _), g in df.groupby(["half", "row", "resolution"], sort=False):
        cells = {(r.column, r.convention): r for r in g.itertuples()}
        out.append(cells)
    return out


def _paper(cell) -> str:
    return cell.paper_text if cell.paper_text is not None else "–"


def render(df: pd.DataFrame, paper_tables: Optional[Dict[str, Any]] = None,
           reassociated: Optional[Sequence[Tuple[str, float, float]]] = None) -> str:
    """The markdown page; ``reassociated``: (timm name, GFLOPs with ``decoder_reassociate=True``, GFLOPs as the
    paper counts) of each of ``REASSOCIATED``."""
    tables = paper_tables if paper_tables is not None else load_paper_tables()
    commit = df["git_commit"].iloc[0] if len(df) else "unknown"
    t1_meta = {r["model"]: r for r in tables["table1"]["rows"]}
    lines = [
        "# Table 1 and the Params / FLOPs columns of Table 3",
        "",
        generated_line("editrepro table1", commit) + " "
        "Measured values are exact counts of the models this package builds; they need no training,",
        "so they are comparable to the paper on any config.",
        "",
        "**How FLOPs are counted.** `torch.utils.flop_counter.FlopCounterMode` on the meta device, one image, "
        "reported in the paper's (fvcore) convention: multiply-accumulates of matmuls and convolutions plus "
        "5 per element of an affine LayerNorm (4 without affine). Two figures are given: *all matmuls* "
        "counts everything the model computes; *attention excluded* leaves out the encoder's "
        "`q k^T` and `attn v` matmuls, as a count of a fused attention kernel would. "
        "The paper's 224 px rows match the first, its 384 px rows (and the cited DeiT rows) only the second: "
        "the paper mixes the two conventions. Status ✓ means within tolerance: the larger of 1% "
        "and half a unit of the printed last digit.",
        "",
        "## Table 1: variants of EDIT",
        "",
    ]
    t1 = df[df.table == "table1"]
    rows = []
    for cells in _wide(t1):
        p, fa, fn = cells[("params_m", "")], cells[("gmacs", "all")], cells[("gmacs", "no_attn")]
        meta = t1_meta.get(p.row, {})
        rows.append([
            p.row, f"`{p.model}`", meta.get("hidden_size", ""), meta.get("heads", ""),
            _paper(p), f"{p.reproduced_value:.3f}", _fmt_delta(p.delta, p.paper_value, 3), _mark(p.status),
            _paper(fa), f"{fa.reproduced_value:.3f}", _fmt_delta(fa.delta, fa.paper_value, 3), _mark(fa.status),
            f"{fn.reproduced_value:.3f}",
        ])
    lines.append(tabulate(rows, headers=[
        "Model", "timm name", "Hidden size", "Heads", "Params (M) paper", "measured", "Δ", "",
        "GFLOPs paper", "measured", "Δ", "", "attention excluded",
    ], tablefmt="github", disable_numparse=True))
    params = {cells[("params_m", "")].row: cells[("params_m", "")].reproduced_value for cells in _wide(t1)}
    lines += [
        "",
        "EDIT-B lands on the paper's 87.76M exactly (87,764,968 = DeiT3-B + 2 x 768^2 for the shared "
        "K/V matrices of the decoder). Table 1 is not self-consistent for T and S: the same design gives "
        + ", ".join(f"{k} {v:.3f}M" for k, v in params.items() if k != "EDIT-B")
        + ", one above and one below the printed values, and no single design hits all three; both are within 1%.",
        "",
        "## Table 3: Params and FLOPs columns",
        "",
    ]
    t3 = df[df.table == "table3"]
    rows = []
    for cells in _wide(t3):
        p, fa, fn = cells[("params_m", "")], cells[("gmacs", "all")], cells[("gmacs", "no_attn")]
        matches = [name for name, c in (("all matmuls", fa), ("attention excluded", fn)) if c.status == "reproduced"]
        rows.append([
            p.row, f"`{p.model}`", f"{p.resolution}²", p.half,
            _paper(p), f"{p.reproduced_value:.2f}", _fmt_delta(p.delta, p.paper_value, 2), _mark(p.status),
            _paper(fa), f"{fa.reproduced_value:.2f}", _fmt_delta(fa.delta, fa.paper_value, 2), _mark(fa.status),
            f"{fn.reproduced_value:.2f}", _fmt_delta(fn.delta, fn.paper_value, 2), _mark(fn.status),
            " and ".join(matches) if matches else ("neither" if fa.paper_text else "–"),
        ])
    lines.append(tabulate(rows, headers=[
        "Model", "timm name", "Image", "Table 3 half", "Params (M) paper", "measured", "Δ", "",
        "GFLOPs paper", "all matmuls", "Δ", "", "attention excluded", "Δ", "", "paper matches",
    ], tablefmt="github", disable_numparse=True))
    note = tables["table3"].get("note")
    lines += [
        "",
        "The 384 px rows print the 224 px parameter counts: at 384 the position embedding covers "
        "576 patches instead of 196, which adds 380 x D parameters (EDIT-S: 22.50M, just past the "
        "rounding edge of the printed 22M).",
    ]
    if note:
        lines += ["", f"Sources: {note}"]
    if reassociated:
        lines += [
            "",
            "## The same EDIT, computed with fewer FLOPs",
            "",
            "The decoder has no nonlinearity between its projections and the attention, so "
            "`c (S W_k)^T = (c W_k^T) S^T` and `a (S W_v) = (a S) W_v`. Computed that way "
            "(`decoder_reassociate=True`, identical outputs up to float rounding) it never projects the "
            "N + 1 tokens, and EDIT costs about what DeiT III costs. The paper's counts are of the "
            "projecting form, which stays the default.",
            "",
            tabulate([[model, f"{fewer:.3f}", f"{paper:.3f}"] for model, fewer, paper in reassociated],
                     headers=["timm name", "GFLOPs reassociated", "GFLOPs as the paper counts"],
                     tablefmt="github", disable_numparse=True),
        ]
    lines += ["", summary(df), ""]
    return "\n".join(lines)


def summary(df: pd.DataFrame) -> str:
    """Rows whose parameters are within tolerance, and which FLOP convention each row matches."""
    params = df[df.column == "params_m"]
    flops = df[df.column == "gmacs"].pivot_table(
        index=["table", "row", "resolution"], columns="convention", values="status", aggfunc="first")
    all_ok, excl_ok = flops["all"] == "reproduced", flops["no_attn"] == "reproduced"
    return (
        f"Summary: parameters within tolerance in {(params.status == 'reproduced').sum()} of {len(params)} rows; "
        f"FLOPs match counting all matmuls in {all_ok.sum()} rows, only with attention excluded in "
        f"{(excl_ok & ~all_ok).sum()}, neither in {(~excl_ok & ~all_ok).sum()}."
    )


def write(results: Union[str, Path], report: Union[str, Path], counts: Mapping[str, Any],
          paper_tables: Dict[str, Any], reassociated: Optional[Sequence[Tuple[str, float, float]]] = None
          ) -> pd.DataFrame:
    """Compare the counts (``measure``), then write the parquet results and the markdown report (each atomically)."""
    df = measure(counts, paper_tables)
    text = render(df, paper_tables, reassociated)
    with atomic_path(results) as tmp:
        df.to_parquet(tmp, index=False)
    atomic_write_text(report, text)
    return df
