"""Paired comparisons of the matrix: each EDIT row against the DeiT III row of its size, data and
resolution (and LaViT against the PVTv2 of its size), seed by seed.

The papers' claims are gains of a tenth to a few tenths of a point, the size of seed-to-seed noise.
A gain is *distinguishable from zero* when the 95% t-interval of the per-seed differences
(``stats.paired``) excludes zero; with one shared seed it cannot be told from noise.
"""
from typing import Dict, List

import pandas as pd

from .stats import paired

__all__ = ["PAIRS", "COMPARISON_COLUMNS", "paired_comparisons", "comparison_lines", "comparison_counts"]

# (A, B): the model compared and its baseline, by family
PAIRS = (("EDIT", "DeiT3"), ("LaViT", "PVTv2"))
# metrics compared (counted parameters and FLOPs are not seeded)
METRICS = ("top1", "top1_v2", "top1_real", "miou", "AP")
KEY = ["table", "half", "column", "convention", "resolution"]
COMPARISON_COLUMNS = ["table", "half", "column", "resolution", "a_row", "b_row", "paper_a", "paper_b", "claimed",
                      "seeds", "n", "gain", "gain_stdev", "ci_low", "ci_high", "verdict", "comparable"]
VERDICTS = {"A > B": "gain distinguishable from zero", "A < B": "loss distinguishable from zero",
            "no difference": "not distinguishable from zero", "one seed": "one seed: cannot tell from noise",
            "not run": "pending"}


def _family(model) -> Dict[str, str]:
    from ..models.families import model_family

    return model_family(str(model or ""))


def paired_comparisons(per_seed: pd.DataFrame) -> pd.DataFrame:
    """One row per (A, B) pair of the same size sharing a cell key (table, half, column, resolution), from
    the per-seed rows of the results table."""
    cells = per_seed[per_seed["metric"].isin(METRICS)].copy()
    if not len(cells):
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    cells["convention"] = cells["convention"].fillna("")
    fam = cells["model"].map(_family)
    cells["_family"], cells["_size"] = fam.map(lambda f: f["family"]), fam.map(lambda f: f["size"])
    records = []
    for key, group in cells.groupby(KEY, sort=False, dropna=False):
        for fa, fb in PAIRS:
            for size in ("tiny", "small", "base"):
                a = group[(group._family == fa) & (group._size == size)]
                b = group[(group._family == fb) & (group._size == size)]
                if not len(a) or not len(b):
                    continue
                a_row, b_row = a.iloc[0]["row"], b.iloc[0]["row"]
                a, b = a[a.row == a_row], b[b.row == b_row]     # one row label each (the paper's first)
                pa, pb = a.iloc[0]["paper_value"], b.iloc[0]["paper_value"]

                def values(x):
                    x = x[x["seed"].notna() & x["reproduced_value"].notna()]
                    return {int(s): float(v) for s, v in zip(x["seed"], x["reproduced_value"])}

                p = paired(values(a), values(b))
                claimed = pa - pb if not (pd.isna(pa) or pd.isna(pb)) else None
                comparable = not ({"not comparable"} & set(a["status"]) | {"not comparable"} & set(b["status"]))
                records.append(dict(
                    zip(KEY, key), a_row=a_row, b_row=b_row, paper_a=pa, paper_b=pb, claimed=claimed,
                    seeds=",".join(map(str, p.seeds)), n=p.diff.n, gain=p.diff.mean, gain_stdev=p.diff.std,
                    ci_low=p.diff.low, ci_high=p.diff.high, verdict=p.verdict, comparable=comparable))
    out = pd.DataFrame.from_records(records, columns=COMPARISON_COLUMNS + ["convention"])
    # a pair neither run nor claimed by the paper says nothing
    out = out[(out["n"] > 0) | out["claimed"].notna()].reset_index(drop=True)
    return out.drop(columns=["convention"])


def _where(c) -> str:
    half = f"{c.half}" if isinstance(c.half, str) and c.half in ("a", "b") else ""
    table = {"table3": f"Table 3{half}", "table4": "Table 4", "table5": "Table 5", "lavit": "LaViT"}.get(c.table, c.table)
    if c.table == "lavit" and isinstance(c.half, str) and c.half:
        table += f" {c.half}"
    res = f", {int(c.resolution)}²" if not pd.isna(c.resolution) else ""
    return f"{table}{res}, {c.column}"


def comparison_lines(comparisons: pd.DataFrame) -> List[str]:
    """A sentence per pair: the paper's claimed gain, the reproduced gain over seeds, and whether it is
    distinguishable from zero."""
    lines = []
    for c in comparisons.itertuples():
        claimed = f"the paper claims {c.claimed:+.1f}" if c.claimed is not None and not pd.isna(c.claimed) \
            else "the paper prints no pair"
        if c.n == 0:
            reproduced = "reproduced: pending (both models must be run with a shared seed)"
        elif c.n == 1:
            reproduced = f"reproduced {c.gain:+.2f} on seed {c.seeds}: one seed, a gain cannot be told from noise"
        else:
            reproduced = (f"reproduced {c.gain:+.2f} ± {c.gain_stdev:.2f}, 95% interval [{c.ci_low:+.2f}, {c.ci_high:+.2f}] "
                          f"over seeds {c.seeds} (n={c.n}): {VERDICTS[c.verdict]}")
        demo = " (demo data: says nothing about the paper)" if not c.comparable and c.n else ""
        lines.append(f"- **{c.a_row} vs {c.b_row}** ({_where(c)}): {claimed}; {reproduced}{demo}.")
    return lines


def comparison_counts(comparisons: pd.DataFrame) -> Dict[str, int]:
    """Pairs by verdict, for the reproduction matrix."""
    counts = comparisons["verdict"].value_counts().to_dict() if len(comparisons) else {}
    return {VERDICTS[v]: int(counts.get(v, 0)) for v in VERDICTS}
