"""Paired comparisons of the matrix: each EDIT row against the DeiT III row of its size, data and
resolution (and LaViT against the PVTv2 of its size), seed by seed; a model of another family that the
config adds as a row (any timm classifier) is compared with the EDIT (or LaViT) of its size the same way.

The papers' claims are gains of a tenth to a few tenths of a point, the size of seed-to-seed noise.
A gain is *distinguishable from zero* when the 95% t-interval of the per-seed differences
(``stats.paired``) excludes zero; with one shared seed it cannot be told from noise.

Table 3's EDIT rows are also compared with DeiT III's own numbers (``editrepro.baselines``; column
``baseline``): ``paper`` is the pair above (the EDIT paper's DeiT3 row: its own run and this pipeline's by the
paper's recipes); ``published`` sets EDIT against DeiT III's published top-1 (a cited row, no seeds: the
reproduced EDIT's mean and interval less that value); ``deit3_official`` pairs EDIT seed by seed with the
DeiT3 this pipeline trains by DeiT III's own recipe, whose paper value is DeiT III's published one.
"""
from typing import Dict, List

import pandas as pd

from ..baselines import OFFICIAL, is_official_row, is_published_row
from .stats import Paired, Summary, paired, summarize

__all__ = ["PAIRS", "COMPARISON_COLUMNS", "BASELINE_KINDS", "paired_comparisons", "comparison_lines",
           "comparison_counts", "published_summary"]

# (A, B): the model compared and its baseline, by family
PAIRS = (("EDIT", "DeiT3"), ("LaViT", "PVTv2"))
PAIRED = {family for pair in PAIRS for family in pair}
# metrics compared (counted parameters and FLOPs are not seeded)
METRICS = ("top1", "top1_v2", "top1_real", "miou", "AP")
KEY = ["table", "half", "column", "convention", "resolution"]
COMPARISON_COLUMNS = ["table", "half", "column", "resolution", "a_row", "b_row", "paper_a", "paper_b", "claimed",
                      "seeds", "n", "gain", "gain_stdev", "ci_low", "ci_high", "verdict", "comparable", "baseline"]
# baseline: what B is -- "paper" (the pair every table makes), "published" (DeiT III's own published value, no
# seeds), "deit3_official" (DeiT3 trained here by DeiT III's own recipe, paired seed by seed)
BASELINE_KINDS = ("paper", "published", OFFICIAL)
VERDICTS = {"A > B": "gain distinguishable from zero", "A < B": "loss distinguishable from zero",
            "no difference": "not distinguishable from zero", "one seed": "one seed: cannot tell from noise",
            "not run": "pending"}


def _family(model) -> Dict[str, str]:
    from ..families import model_family

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
                b_all = group[(group._family == fb) & (group._size == size)]
                # a model of no pair's family that the config runs (any timm model added as a row): A's baseline too
                extra = group[~group._family.isin(PAIRED) & (group._size == size) & _seeded(group)]
                if not len(a) or not (len(b_all) or len(extra)):
                    continue
                a_row = a.iloc[0]["row"]
                a = a[a.row == a_row]                             # one row label (the paper's first)
                kinds = b_all["row"].map(_baseline_kind)
                b_rows = []                                        # (kind, row label) of each baseline of A
                if (kinds == "paper").any():
                    b_rows.append(("paper", b_all[kinds == "paper"].iloc[0]["row"]))    # the paper's first, as always
                b_rows += [(kind, row) for kind in BASELINE_KINDS[1:]
                           for row in dict.fromkeys(b_all[kinds == kind]["row"])]
                for kind, b_row in b_rows:
                    b = b_all[b_all.row == b_row]
                    records.append(dict(zip(KEY, key), **_compare(a, b, a_row, b_row, kind)))
                for b_row in dict.fromkeys(extra["row"]):
                    records.append(dict(zip(KEY, key), **_compare(a, extra[extra.row == b_row], a_row, b_row, "paper")))
    out = pd.DataFrame.from_records(records, columns=COMPARISON_COLUMNS + ["convention"])
    # a pair neither run nor claimed by the paper says nothing
    out = out[(out["n"] > 0) | out["claimed"].notna()].reset_index(drop=True)
    return out.drop(columns=["convention"])


def _seeded(cells: pd.DataFrame) -> pd.Series:
    """Which cells hold a run (a seed), not a value cited from the paper."""
    return cells["seed"].notna() if "seed" in cells.columns else pd.Series(False, index=cells.index)


def _baseline_kind(row) -> str:
    """What a baseline row is, by its label (editrepro.baselines): published, deit3_official or paper."""
    return "published" if is_published_row(row) else OFFICIAL if is_official_row(row) else "paper"


def _values(x: pd.DataFrame) -> Dict[int, float]:
    x = x[x["seed"].notna() & x["reproduced_value"].notna()]
    return {int(s): float(v) for s, v in zip(x["seed"], x["reproduced_value"])}


def _compare(a: pd.DataFrame, b: pd.DataFrame, a_row: str, b_row: str, kind: str) -> Dict:
    """One comparison of A's rows with B's: paired over shared seeds, or, against a published value (B has no
    seeds), A's mean and 95% interval less that value; the verdict reads the interval the same way."""
    pa, pb = a.iloc[0]["paper_value"], b.iloc[0]["paper_value"]
    claimed = pa - pb if not (pd.isna(pa) or pd.isna(pb)) else None
    if kind == "published":
        s = summarize(_values(a).values())
        shift = (lambda v: None if v is None or pd.isna(pb) else v - pb)
        p = Paired(sorted(_values(a)), Summary(s.n, shift(s.mean), s.std, shift(s.low), shift(s.high)))
    else:
        p = paired(_values(a), _values(b))
    comparable = not ({"not comparable"} & set(a["status"]) | {"not comparable"} & set(b["status"]))
    return dict(a_row=a_row, b_row=b_row, paper_a=pa, paper_b=pb, claimed=claimed, seeds=",".join(map(str, p.seeds)),
                n=p.diff.n, gain=p.diff.mean, gain_stdev=p.diff.std, ci_low=p.diff.low, ci_high=p.diff.high,
                verdict=p.verdict, comparable=comparable, baseline=kind)


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
        kind = getattr(c, "baseline", "paper")
        if kind == "published":
            lines.append(_published_line(c))
            continue
        claimed = f"the paper claims {c.claimed:+.1f}" if c.claimed is not None and not pd.isna(c.claimed) \
            else "the paper prints no pair"
        if kind == OFFICIAL:    # B's paper value is DeiT III's published one (results.collect_table3)
            claimed = (f"{_against(c)} (DeiT3 by DeiT III's own recipe)" if not pd.isna(c.claimed)
                       else "no published DeiT III value here")
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


def _against(c) -> str:
    """The paper's EDIT value against DeiT III's own published one: "EDIT-B 83.7 against DeiT III's own 83.8: no gain
    (-0.1)"."""
    gain = "a gain" if round(c.claimed, 6) > 0 else "no gain"
    return f"the paper's {c.a_row} {c.paper_a:.1f} against DeiT III's own {c.paper_b:.1f}: {gain} ({c.claimed:+.1f})"


def _published_line(c) -> str:
    """EDIT against DeiT III's published value: the paper's claim, and the reproduced EDIT's mean less that value."""
    claim = _against(c) if not pd.isna(c.claimed) else f"the paper prints no {c.a_row} value here"
    if c.n == 0:
        reproduced = f"reproduced: pending ({c.a_row} must be run)"
    elif c.n == 1:
        reproduced = (f"reproduced {c.a_row} {c.gain + c.paper_b:.2f} on seed {c.seeds}: {c.gain:+.2f} against it; "
                      "one seed, a gain cannot be told from noise")
    else:
        reproduced = (f"reproduced {c.a_row} {c.gain + c.paper_b:.2f} ± {c.gain_stdev:.2f} over seeds {c.seeds} "
                      f"(n={c.n}): {c.gain:+.2f} against it, 95% interval [{c.ci_low:+.2f}, {c.ci_high:+.2f}]: "
                      f"{VERDICTS[c.verdict]}")
    demo = " (demo data: says nothing about the paper)" if not c.comparable and c.n else ""
    return f"- **{c.a_row} vs {c.b_row}** ({_where(c)}): {claim}; {reproduced}{demo}."


def published_summary(comparisons: pd.DataFrame) -> str:
    """One sentence for the reports: how many of the paper's EDIT values beat DeiT III's own published ones."""
    if not len(comparisons) or "baseline" not in comparisons.columns:
        return ""
    pub = comparisons[(comparisons["baseline"] == "published") & comparisons["claimed"].notna()]
    if not len(pub):
        return ""
    gains = pub[pub["claimed"].round(6) > 0]
    listed = "; ".join(f"{c.a_row} {c.paper_a:.1f} vs {c.paper_b:.1f} ({c.claimed:+.1f}, Table 3{c.half}, "
                       f"{int(c.resolution)}²)" for c in pub.itertuples())
    return (f"**Against DeiT III's own published numbers** (README_revenge.md, not the EDIT paper's DeiT3 runs), the "
            f"paper's EDIT is ahead in {len(gains)} of {len(pub)} claims: {listed}.")


def comparison_counts(comparisons: pd.DataFrame) -> Dict[str, int]:
    """Pairs by verdict, for the reproduction matrix."""
    counts = comparisons["verdict"].value_counts().to_dict() if len(comparisons) else {}
    return {VERDICTS[v]: int(counts.get(v, 0)) for v in VERDICTS}
