"""How many seeds a claimed gain needs: the power of each paired comparison, for the reports and the cost page.

A claim is the paper's value of model A minus that of its baseline B in one cell (``paired_comparisons``:
EDIT against DeiT III, LaViT against PVTv2, same table, half, column and resolution). The paired comparison
over ``n`` seeds tells it from zero with the power of a two-sided paired t-test at 5% (``stats.paired_power``;
the reports' 95% interval excluding zero is that test). The standard deviation of the per-seed differences is

- *measured* once both models ran two or more shared seeds: the sample standard deviation of that pair's
  differences (``gain_stdev`` of ``paired_comparisons``);
- else the *prior* ``sqrt(2) x stats.seed_sd``: ``seed_sd`` is one model's seed-to-seed standard deviation
  (percentage points; ``stats.seed_sd_by_table`` overrides it per table), and the two models' seed noise is
  assumed independent, so the variance of their difference is twice one model's.

Nothing here imports torch: the report pages and the cost page call it.
"""
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional

import pandas as pd
from tabulate import tabulate

from .stats import ALPHA, MAX_SEEDS, TARGET_POWER, paired_power, seeds_for_power

__all__ = ["DEFAULT_SEED_SD", "POWER_COLUMNS", "CLAIM_COST_COLUMNS", "seed_sd", "prior_sd_d", "claim_power",
           "power_frame", "power_lines", "power_counts", "planned_cells", "claim_costs", "matrix_at_power",
           "cost_power_lines", "seeds_text"]

# One model's seed-to-seed standard deviation of top-1, percentage points (config key stats.seed_sd; the
# schema's default): an assumption, documented in docs/reference.md ("Seeds sized by statistical power").
DEFAULT_SEED_SD = 0.2

POWER_COLUMNS = ["table", "half", "column", "resolution", "a_row", "b_row", "claimed", "n", "sd_d", "sd_source",
                 "power", "resolvable", "seeds_needed"]
CLAIM_COST_COLUMNS = ["table", "half", "column", "resolution", "a_row", "b_row", "claimed", "configured_seeds",
                      "sd_d", "power_configured", "seeds_needed", "jobs", "one_seed_gpu_hours", "gpu_hours"]


def seed_sd(stats: Optional[Mapping[str, Any]], table: Optional[str] = None) -> float:
    """One model's seed-to-seed sd for ``table``: ``stats.seed_sd_by_table[table]``, else ``stats.seed_sd``."""
    stats = stats or {}
    value = (stats.get("seed_sd_by_table") or {}).get(table, stats.get("seed_sd", DEFAULT_SEED_SD))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise ValueError(f"stats.seed_sd{'_by_table.' + table if table else ''}: expected a positive number of "
                         f"percentage points, got {value!r}")
    return float(value)


def prior_sd_d(stats: Optional[Mapping[str, Any]], table: Optional[str] = None) -> float:
    """The prior sd of one pair's per-seed differences: sqrt(2) x the seed sd (independent seed noise)."""
    return math.sqrt(2) * seed_sd(stats, table)


def _claimed(value) -> Optional[float]:
    """The claimed gain, rid of the float noise of subtracting two printed values (81.8 - 81.3)."""
    if value is None or pd.isna(value):
        return None
    return round(float(value), 6)


def claim_power(claimed: float, n: int, gain_stdev: Optional[float], stats: Optional[Mapping[str, Any]] = None,
                table: Optional[str] = None) -> Dict[str, Any]:
    """A claim's power over ``n`` seeds, with the sd used: the measured ``gain_stdev`` where ``n >= 2``, else
    the prior. ``power`` is None below two seeds (no test); ``seeds_needed`` None when no n up to MAX_SEEDS
    reaches 80% (a zero claim, or one too small for its noise)."""
    claimed = abs(_claimed(claimed))
    n = int(n or 0)
    measured = n >= 2 and gain_stdev is not None and not pd.isna(gain_stdev)
    sd_d = float(gain_stdev) if measured else prior_sd_d(stats, table)
    power = paired_power(claimed, sd_d, n, ALPHA) if n >= 2 else None
    return dict(sd_d=sd_d, sd_source="measured" if measured else "prior", power=power,
                resolvable=power is not None and power >= TARGET_POWER,
                seeds_needed=seeds_for_power(claimed, sd_d, TARGET_POWER, ALPHA, MAX_SEEDS))


def _paper_pairs(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The comparisons that are the papers' own claims: A against the paper's B (``baseline`` "paper", where
    the column exists; the comparisons against DeiT III's own published numbers and recipe are not the paper's
    claims)."""
    if "baseline" not in comparisons.columns:
        return comparisons
    return comparisons[comparisons["baseline"].fillna("paper") == "paper"]


def power_frame(comparisons: pd.DataFrame, stats: Optional[Mapping[str, Any]] = None) -> pd.DataFrame:
    """One row per comparison the paper makes a claim for (``claimed`` given; A against the paper's B): its
    seeds run (``n``), the sd of the differences used and its source, the power, whether that resolves the claim
    (power >= 80%) and the seeds that would."""
    rows = []
    for c in _paper_pairs(comparisons).itertuples():
        claimed = _claimed(c.claimed)
        if claimed is None:
            continue
        rows.append(dict(table=c.table, half=c.half, column=c.column, resolution=c.resolution, a_row=c.a_row,
                         b_row=c.b_row, claimed=claimed, n=int(c.n or 0),
                         **claim_power(claimed, c.n, c.gain_stdev, stats, c.table)))
    return pd.DataFrame.from_records(rows, columns=POWER_COLUMNS)


def seeds_text(n: Optional[int], claimed: float) -> str:
    """The seeds a claim needs, in words: a number, or why there is none."""
    if n is not None and not pd.isna(n):
        return str(int(n))
    if _claimed(claimed) == 0:
        return "none: no gain claimed"
    return f"more than {MAX_SEEDS:,}"


def _where(c) -> str:
    half = c.half if isinstance(c.half, str) else ""
    table = {"table3": f"Table 3{half if half in ('a', 'b') else ''}", "table4": "Table 4", "table5": "Table 5",
             "lavit": "LaViT" + (f" {half}" if half else "")}.get(c.table, c.table)
    res = f", {int(c.resolution)}²" if c.resolution is not None and not pd.isna(c.resolution) else ""
    return f"{table}{res}, {c.column}"


def _hours(x: float) -> str:
    """GPU-hours as the page prints them: whole hours at scale, two significant digits below one (the demo)."""
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 1 else f"{x:.2g}"


def _power_text(p) -> str:
    if p.power is None or pd.isna(p.power):
        return "no test (one seed)" if p.n == 1 else "not run"
    return f"{p.power:.0%}"


def power_lines(comparisons: pd.DataFrame, stats: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Markdown: per claim, the power the seeds run give, whether they resolve the claimed gain, with the sd
    used (measured or prior), and the seeds that would reach 80%. None without a claim."""
    frame = power_frame(comparisons, stats)
    if not len(frame):
        return []
    sd = seed_sd(stats)
    rows = [[f"{p.a_row} vs {p.b_row}", _where(p), f"{p.claimed:+.2f}", p.n,
             f"{p.sd_d:.2f} ({p.sd_source})", _power_text(p), "yes" if p.resolvable else "no",
             seeds_text(p.seeds_needed, p.claimed)] for p in frame.itertuples()]
    resolvable = int(frame["resolvable"].sum())
    return ["### Can the seeds resolve the claimed gains?", "",
            f"The chance that the paired comparison finds the paper's claimed gain distinguishable from zero if the "
            f"claim is true (power): a two-sided paired t-test at {ALPHA:.0%} over the seeds both models ran, the "
            "95% interval above. The sd of the per-seed differences is *measured* where two or more seeds ran, "
            f"else the *prior* sqrt(2) x `stats.seed_sd` ({sd:g} points per model, "
            f"{math.sqrt(2) * sd:.2f} for the difference: the two models' seed noise taken as independent). "
            f"A claim is resolved at a power of {TARGET_POWER:.0%} or more; the last column is the smallest "
            f"number of seeds that reaches it with that sd (a spread measured over a few seeds is itself "
            f"uncertain).", "",
            tabulate(rows, headers=["pair", "cell", "claimed", "seeds run", "sd of differences", "power",
                                    f"resolves it (≥ {TARGET_POWER:.0%})", f"seeds for {TARGET_POWER:.0%}"],
                     tablefmt="github", disable_numparse=True), "",
            f"{resolvable} of {len(frame)} claimed gains can be resolved by the seeds run.", ""]


def power_counts(comparisons: pd.DataFrame, stats: Optional[Mapping[str, Any]] = None) -> Dict[str, int]:
    """Claims the seeds run can resolve (power >= 80%) and those they cannot, for the reproduction matrix."""
    frame = power_frame(comparisons, stats)
    resolvable = int(frame["resolvable"].sum()) if len(frame) else 0
    return {"resolvable": resolvable, "not resolvable": len(frame) - resolvable}


# -- the cost page: seeds and GPU-hours each claim needs, before anything runs ----------------------------------

# A table's cells: (paper row key, [(column, metric kind)]) by table; LaViT's dense runs by DENSE_RUNS.
_TABLE_COLUMNS = {"table3": ("model", [("top1", "top1")]), "table4": ("model", None),
                  "table5": ("row", [("miou_ss", "miou"), ("miou_ms", "miou")]), "lavit": ("model", [("top1", "top1")])}


def _paper_row(paper_tables: Mapping[str, Any], cell: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    table, half, label = cell["table"], cell.get("half") or "", cell["row"]
    spec = paper_tables.get(table) or {}
    if table == "lavit" and half:
        rows = [r for r in spec.get("dense_rows", []) if r.get("run") == half and r.get("model") == label]
    elif table == "table3":
        rows = [r for r in spec.get("rows", []) if r.get("half") == half and r.get("model") == label
                and str(r.get("img_size")) == str(cell["resolution"])]
    else:
        rows = [r for r in spec.get("rows", []) if r.get(_TABLE_COLUMNS[table][0]) == label]
    return rows[0] if rows else None


def _columns(cell: Mapping[str, Any]) -> List[tuple]:
    if cell["table"] == "lavit" and cell.get("half"):
        from .results import DENSE_RUNS

        _, metrics, kind = DENSE_RUNS[cell["half"]]
        return [(m, kind) for m in metrics if m in ("AP", "miou_ss", "miou_ms")]
    if cell["table"] == "table4":
        return [(cell["column"], "top1")]
    return _TABLE_COLUMNS[cell["table"]][1]


def planned_cells(cells: Iterable[Mapping[str, Any]], paper_tables: Mapping[str, Any]) -> pd.DataFrame:
    """The cells a configuration trains (``cells``: table, half, row, resolution, arch, jobs, seeds; Table 4's
    also column) as rows of the results table, pending, with the paper's values: what ``paired_comparisons``
    pairs into claims before anything has run."""
    from .paper import paper_value

    records = []
    for cell in cells:
        row = _paper_row(paper_tables, cell)
        for column, metric in _columns(cell):
            pv = paper_value(row, column) if row is not None else None
            records.append(dict(table=cell["table"], half=cell.get("half") or "", row=cell["row"], column=column,
                                model=cell["arch"], resolution=cell.get("resolution"), metric=metric, convention="",
                                paper_value=pv.value if pv is not None else None, reproduced_value=None, seed=None,
                                status="pending", jobs=list(cell["jobs"]), seeds=len(cell.get("seeds") or [0])))
    return pd.DataFrame.from_records(records)


def _job_hours(estimate: pd.DataFrame) -> Dict[str, float]:
    """GPU-hours (estimate) of one seed of each job, by its name without the seed (``in1k_224/EDIT-S``)."""
    cell = estimate["job"].str.rsplit("/", n=1).str[0]
    return estimate.assign(_cell=cell).drop_duplicates("_cell").set_index("_cell")["estimate_gpu_hours"].to_dict()


def claim_costs(cells: Iterable[Mapping[str, Any]], paper_tables: Mapping[str, Any], estimate: pd.DataFrame,
                stats: Optional[Mapping[str, Any]] = None) -> pd.DataFrame:
    """Every claimed gain among the configured cells: the seeds that give its paired comparison 80% power at 5%
    with the prior sd, and what they cost: the GPU-hours of one seed of every job the pair needs (both
    models' chains, pretraining included) times that many seeds."""
    from .comparisons import paired_comparisons

    cells = list(cells)
    per_seed = planned_cells(cells, paper_tables)
    if not len(per_seed):
        return pd.DataFrame(columns=CLAIM_COST_COLUMNS)
    hours = _job_hours(estimate)
    comparisons = _paper_pairs(paired_comparisons(per_seed.drop(columns=["jobs", "seeds"])))
    def key(table, half, row, resolution):
        return table, half, row, None if resolution is None or pd.isna(resolution) else int(resolution)

    info = {key(r["table"], r["half"], r["row"], r["resolution"]): r for r in per_seed.to_dict("records")}
    records = []
    for c in comparisons.itertuples():
        claimed = _claimed(c.claimed)
        if claimed is None:
            continue
        a, b = (info[key(c.table, c.half, row, c.resolution)] for row in (c.a_row, c.b_row))
        jobs = list(dict.fromkeys(a["jobs"] + b["jobs"]))
        missing = [j for j in jobs if j not in hours]
        if missing:
            raise KeyError(f"jobs {missing} of {c.a_row} vs {c.b_row} are not in the training plan")
        one = sum(hours[j] for j in jobs)
        configured = min(a["seeds"], b["seeds"])
        sd_d = prior_sd_d(stats, c.table)
        needed = seeds_for_power(abs(claimed), sd_d, TARGET_POWER, ALPHA, MAX_SEEDS)
        records.append(dict(table=c.table, half=c.half, column=c.column, resolution=c.resolution, a_row=c.a_row,
                            b_row=c.b_row, claimed=claimed, configured_seeds=configured, sd_d=sd_d,
                            power_configured=paired_power(claimed, sd_d, configured) if configured >= 2 else None,
                            seeds_needed=needed, jobs=jobs, one_seed_gpu_hours=one,
                            gpu_hours=needed * one if needed is not None else None))
    return pd.DataFrame.from_records(records, columns=CLAIM_COST_COLUMNS)


def matrix_at_power(claims: pd.DataFrame, estimate: pd.DataFrame) -> Dict[str, Any]:
    """The whole matrix when every claim that can be resolved gets its seeds: each job runs as many seeds as the
    most demanding claim that needs it, the jobs no such claim needs their configured seeds. Also the uniform
    alternative: every job at the largest number any claim needs."""
    hours = _job_hours(estimate)
    configured = estimate.assign(_cell=estimate["job"].str.rsplit("/", n=1).str[0]).groupby("_cell")["job"].count()
    seeds = {job: int(configured[job]) for job in hours}
    finite = claims[claims["seeds_needed"].notna()] if len(claims) else claims
    need: Dict[str, int] = {}
    for c in finite.itertuples():
        for job in c.jobs:
            need[job] = max(need.get(job, 0), int(c.seeds_needed))
    total = sum(h * need.get(job, seeds[job]) for job, h in hours.items())
    largest = int(finite["seeds_needed"].max()) if len(finite) else None
    return dict(gpu_hours=total, largest=largest, uniform_gpu_hours=largest * sum(hours.values()) if largest else None,
                unresolvable=int(len(claims) - len(finite)), claims=int(len(claims)))


def cost_power_lines(claims: pd.DataFrame, estimate: pd.DataFrame, stats: Optional[Mapping[str, Any]],
                     gpu: str) -> List[str]:
    """The cost page's section: per claimed gain, its seeds for 80% power and their GPU-hours; then the matrix."""
    lines = ["## Seeds each claimed gain needs", ""]
    if not len(claims):
        return lines + ["The configured tables train no pair the papers claim a gain for (EDIT against DeiT III, "
                        "LaViT against PVTv2, of one size, data and resolution).", ""]
    sd = seed_sd(stats)
    by_table = (stats or {}).get("seed_sd_by_table") or {}
    lines += [f"For every gain the papers claim between two models the configured tables train (the paper's value of "
              f"A minus B in one cell), the number of seeds at which the paired comparison (a two-sided paired "
              f"t-test at {ALPHA:.0%}, the reports' 95% interval excluding zero) finds it with {TARGET_POWER:.0%} "
              f"power, if the claim is true. The sd of the per-seed differences is the prior sqrt(2) x "
              f"`stats.seed_sd` = sqrt(2) x {sd:g} = {math.sqrt(2) * sd:.2f} points"
              + (" (" + ", ".join(f"{t}: sqrt(2) x {v:g}" for t, v in sorted(by_table.items())) + ")"
                 if by_table else "")
              + ": each model's seed-to-seed sd, the two independent (`docs/reference.md`, \"Seeds sized by "
              "statistical power\"). Once a pair has run two or more seeds, its report uses the measured spread "
              "instead. *GPU-h*: one seed of every job the pair needs (both models, pretraining included) times "
              "the seeds.", ""]
    rows = []
    for c in claims.itertuples():
        power = "no test" if c.power_configured is None or pd.isna(c.power_configured) else f"{c.power_configured:.0%}"
        rows.append([f"{c.a_row} vs {c.b_row}", _where(c), f"{c.claimed:+.2f}", f"{c.sd_d:.2f}",
                     f"{c.configured_seeds} ({power})", seeds_text(c.seeds_needed, c.claimed),
                     _hours(c.one_seed_gpu_hours), "–" if c.gpu_hours is None or pd.isna(c.gpu_hours)
                     else _hours(c.gpu_hours)])
    lines += [tabulate(rows, headers=["pair", "cell", "claimed", "sd of differences", "configured seeds (power)",
                                      f"seeds for {TARGET_POWER:.0%}", "GPU-h per seed", "GPU-h at those seeds"],
                       tablefmt="github", disable_numparse=True), ""]
    m = matrix_at_power(claims, estimate)
    if m["largest"] is None:
        lines += [f"No claimed gain can be resolved with {MAX_SEEDS:,} seeds or fewer at this prior.", ""]
        return lines
    skipped = (f"; left out, as no number of seeds up to {MAX_SEEDS:,} resolves them: {m['unresolvable']} of the "
               f"{m['claims']} claims" if m["unresolvable"] else "")
    lines += [f"**The whole matrix with every claim at {TARGET_POWER:.0%} power: {_hours(m['gpu_hours'])} GPU-hours** on "
              f"{gpu}: each job at the seeds of the most demanding claim that needs it, the others at their "
              f"configured seeds{skipped}. Every job at the largest number any claim needs ({m['largest']} seeds): "
              f"{_hours(m['uniform_gpu_hours'])} GPU-hours.", ""]
    return lines
