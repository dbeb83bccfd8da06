"""The tidy results of the workflow: one row per cell of a paper table, and one per job.

Cells come from the evaluation JSONs the workflow writes (each carries the cell it fills
in its ``tags``: table, half, row, resolution) matched against the paper's values. A cell
the configuration has not run yet is ``pending``; rows the paper cites from other work
are ``cited``; a demo configuration's accuracies are ``not comparable``. Nothing is made
up: a missing value stays missing.

Jobs come from Snakemake's ``benchmark:`` files: wall time per job, with the devices the
training job recorded, summed into device-hours.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Protocol

import pandas as pd

from ..baselines import arch_size, is_official_row
from ..schema import read_json
from .paper import paper_value

__all__ = ["CELL_COLUMNS", "DENSE_RUNS", "SUMMARY_COLUMNS", "cell_status", "summarize_cells",
           "collect_table3", "collect_table4", "collect_table5", "collect_lavit", "collect_jobs", "combine",
           "table1_cells", "one_flop_cell_per_figure"]

CELL_COLUMNS = [
    "table", "half", "row", "column", "model", "dataset", "resolution", "metric", "convention", "paper_text",
    "paper_value", "reproduced_value", "delta", "tolerance", "status", "run_id", "git_commit", "config_name", "seed",
]
# added by summarize_cells: over a cell's seeds (``seed``: NaN for counted cells, which have no seed)
SUMMARY_COLUMNS = ["n", "stdev", "ci_low", "ci_high", "seeds", "run_ids"]
CELL_KEY = ["table", "half", "row", "column", "convention", "metric", "resolution"]

STATUSES = ("reproduced", "off", "pending", "not comparable", "cited", "no paper value")


def cell_status(paper: Optional[float], reproduced: Optional[float], tolerance: float, comparable: bool,
                cited: bool = False) -> str:
    if cited:
        return "cited"
    if paper is None:            # a row the paper prints as "-", or one the config adds
        # measured on stand-in data: say so, whether or not the paper prints the cell
        return "not comparable" if reproduced is not None and not comparable else "no paper value"
    if reproduced is None:
        return "pending"
    if not comparable:
        return "not comparable"
    return "reproduced" if abs(reproduced - paper) <= tolerance + 1e-9 else "off"


def _load_evals(paths: Iterable[Path]) -> List[Dict[str, Any]]:
    out = []
    for p in paths:
        d = read_json(p)     # a truncated evaluation JSON: an error naming it
        if not isinstance(d, dict) or "tags" not in d or "row" not in d["tags"]:
            raise ValueError(f"{p}: an evaluation JSON needs tags row/half/resolution (editrepro evaluate --tag)")
        out.append(d)
    return out


def _cell(table: str, row: str, column: str, metric: str, paper, reproduced: Optional[float], tol: float,
          comparable: bool, cited: bool, e: Optional[Dict[str, Any]], config_name: str, **where) -> Dict[str, Any]:
    return dict(
        table=table, row=row, column=column, metric=metric, convention="",
        paper_text=paper.text if paper else None, paper_value=paper.value if paper else None,
        reproduced_value=reproduced,
        delta=(reproduced - paper.value) if (paper is not None and reproduced is not None) else None,
        tolerance=tol, status=cell_status(paper.value if paper else None, reproduced, tol, comparable, cited),
        run_id=(e or {}).get("run_id"), git_commit=(e or {}).get("git_commit"), config_name=config_name,
        seed=_seed(e), **{"half": "", "model": None, "dataset": None, "resolution": None, **where},
    )


def _seed(e: Optional[Dict[str, Any]]) -> Optional[int]:
    """The training seed of an evaluation (its ``seed`` tag; 0 for evaluations from before seeds were tagged)."""
    if e is None:
        return None
    return int(e["tags"].get("seed", 0))


def _index(evals: Iterable[Dict[str, Any]], *keys: str) -> Dict[tuple, List[Dict[str, Any]]]:
    """Loaded evaluations by the values of their ``keys`` tags: one per seed, in seed order."""
    out: Dict[tuple, List[Dict[str, Any]]] = {}
    for e in evals:
        out.setdefault(tuple(str(e["tags"].get(k, "")) for k in keys), []).append(e)
    for key, group in out.items():
        group.sort(key=_seed)
        seeds = [_seed(e) for e in group]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"two evaluations of {dict(zip(keys, key))} have the same seed ({seeds}): "
                             "each seed's run is evaluated once")
    return out


def _found(evals: Iterable[Path], *keys: str) -> Dict[tuple, List[Dict[str, Any]]]:
    return _index(_load_evals(evals), *keys)


def _rows(table: Dict[str, Any], key: str, run: Iterable[str]):
    """The table's row labels (the paper's, in its order, then those only the config runs) and paper row by label."""
    labels = [r[key] for r in table["rows"]]
    return labels + sorted(set(run) - set(labels)), {r[key]: r for r in table["rows"]}


def collect_table3(evals: Iterable[Path], paper_tables: Dict[str, Any], config_name: str,
                   comparable: bool) -> pd.DataFrame:
    """Top-1 cells of Table 3, both halves: the paper's rows, plus rows the config adds.

    DeiT III's own published rows (``baseline: published``) are cited. A DeiT3 trained by DeiT III's own recipe
    (row ``<model> (official recipe)``, ``editrepro.baselines``) takes as its paper value the published top-1 of
    its size, half and resolution, where DeiT III publishes one."""
    table = paper_tables["table3"]
    tol = float(table.get("tolerance", {}).get("top1", 0.5))
    found = _found(evals, "half", "row", "resolution")
    rows = [(r["half"], r["model"], str(r["img_size"]), r) for r in table["rows"]]
    rows += [(*key, None) for key in found if key not in {x[:3] for x in rows}]
    # DeiT III's own published rows by (half, resolution, size): the paper value of the official-recipe rows
    published = {(r["half"], str(r["img_size"]), arch_size(r["arch"])): r for r in table["rows"]
                 if r.get("baseline") == "published"}
    records = []
    for half, label, res, row in rows:
        pv = paper_value(row, "top1") if row is not None else None
        runs = found.get((half, label, res)) or [None]
        if row is None and is_official_row(label):   # DeiT3 by DeiT III's own recipe: against DeiT III's own number
            pub = published.get((half, res, arch_size(str((runs[0] or {}).get("model") or ""))))
            pv = paper_value(pub, "top1") if pub is not None else None
        for e in runs:
            records.append(_cell("table3", label, "top1", "top1", pv, float(e["top1"]) if e else None, tol,
                                 comparable, cited=bool(row and row.get("source")) and e is None, e=e,
                                 config_name=config_name, half=half, resolution=int(res), dataset="imagenet1k",
                                 model=(e or {}).get("model") or (row or {}).get("arch")))
        # ImageNet-V2 and ReaL, where the evaluations scored them (the EDIT paper prints neither)
        for column, dataset in EXTRA_TEST_SETS.items():
            for e in runs:
                if e is not None and e.get(column) is not None:
                    records.append(_cell("table3", label, column, column, None, float(e[column]), tol, comparable,
                                         False, e, config_name, half=half, resolution=int(res), dataset=dataset,
                                         model=e.get("model") or (row or {}).get("arch")))
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


# the extra ImageNet-1k test sets every ImageNet-1k evaluation scores when the config names them
EXTRA_TEST_SETS = {"top1_v2": "imagenet_v2", "top1_real": "imagenet_real"}


TABLE4_DATASETS = ("cifar10", "cifar100", "flowers102", "dtd", "caltech256")


def collect_table4(evals: Iterable[Path], paper_tables: Dict[str, Any], config_name: str,
                   comparable: bool) -> pd.DataFrame:
    """Transfer top-1: one cell per (model, dataset); datasets the paper leaves blank stay blank."""
    table = paper_tables["table4"]
    tol = float(table.get("tolerance", {}).get("top1", 0.5))
    found = _found(evals, "row", "column")
    labels, by_label = _rows(table, "model", {row for row, _ in found})
    records = []
    for label in labels:
        row = by_label.get(label)
        for ds in TABLE4_DATASETS:
            runs = found.get((label, ds))
            pv = paper_value(row, ds) if row is not None else None
            if pv is None and not runs and row is not None and row.get("source"):
                continue  # the paper cites no value here and nothing was run
            for e in runs or [None]:
                records.append(_cell("table4", label, ds, "top1", pv, float(e["top1"]) if e else None, tol,
                                     comparable, cited=bool(row and row.get("source")) and e is None, e=e,
                                     config_name=config_name, dataset=ds, resolution=224,
                                     model=(e or {}).get("model") or (row or {}).get("arch")))
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


class Counter(Protocol):
    """What the collectors' counted cells come from: models built at the paper's size on the meta device.
    Reporting builds no models; ``editrepro.analysis.counting`` is one (the registered tables pass it)."""

    def counted(self, arch: str) -> Any:
        """``arch`` at 224 px, 1000 classes: ``params_m``, ``gmacs`` (all matmuls) and ``gmacs_no_attn``."""

    def dense_counted(self, run: str, arch: str) -> Dict[str, float]:
        """The whole dense model of LaViT's ``run`` on ``arch`` at the paper's size: ``params_m``, ``gmacs``."""

    def segmenter_params(self, arch: str) -> int:
        """Parameters of Table 5's Segmenter on ``arch`` (150 classes, 512 crops)."""


def collect_table5(evals: Iterable[Path], paper_tables: Dict[str, Any], config_name: str,
                   comparable: bool, *, counter: Counter) -> pd.DataFrame:
    """Segmentation: single- and multi-scale mIoU per backbone, and the model's parameters.

    Parameters are counted at the paper's size (512 crops, 150 classes) for every row, trained
    or not, like Table 1's: from the evaluation's ``params_paper_arch``, or by building the
    row's Segmenter on the meta device (``counter.segmenter_params``). They are comparable on any
    config; mIoU only on a comparable one.
    """
    table = paper_tables["table5"]
    tols = table.get("tolerance", {})
    found = _found(evals, "row")
    labels, by_label = _rows(table, "row", {row for (row,) in found})
    records = []
    for label in labels:
        row = by_label.get(label)
        runs = found.get((label,)) or [None]
        e = runs[0]
        cited = bool(row and row.get("source")) and e is None
        for metric in ("miou_ss", "miou_ms"):
            pv = paper_value(row, metric) if row is not None else None
            for run in runs:
                records.append(_cell("table5", label, metric, "miou", pv, float(run[metric]) if run else None,
                                     float(tols.get(metric, 0.5)), comparable, cited, run, config_name,
                                     dataset="ade20k", resolution=512,
                                     model=(run or {}).get("model") or (row or {}).get("arch")))
        pv = paper_value(row, "params_m") if row is not None else None
        params = (e or {}).get("params_paper_arch")
        if not params and row is not None and row.get("arch"):
            params = counter.segmenter_params(row["arch"])
        reproduced = params / 1e6 if params else None
        tol = pv.tolerance() if pv is not None else 0.0
        records.append(_cell("table5", label, "params_m", "params_m", pv, reproduced, tol, True, False, e,
                             config_name, dataset="ade20k", model=(e or {}).get("model") or (row or {}).get("arch")))
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


def collect_lavit(evals: Iterable[Path], paper_tables: Dict[str, Any], config_name: str,
                  comparable: bool, *, counter: Counter) -> pd.DataFrame:
    """LaViT's table: top-1 per model from its evaluation, and parameters and GFLOPs counted at the paper's
    architecture (224 px, 1000 classes) for every row, trained or not, in both FLOP conventions (``counter``).

    Counts are comparable on any config, within the table's relative tolerances (``params_m_rel``,
    ``gmacs_rel``); top-1 within ``top1`` points on a comparable config.
    """
    table = paper_tables["lavit"]
    tols = table.get("tolerance", {})
    loaded = _load_evals(evals)
    dense = [e for e in loaded if str(e["tags"].get("half", "")) in DENSE_RUNS]
    found = _index([e for e in loaded if e not in dense], "row")
    labels, by_label = _rows(table, "model", {row for (row,) in found})
    records = []
    for label in labels:
        row = by_label.get(label)
        runs = found.get((label,)) or [None]
        arch = (runs[0] or {}).get("model") or (row or {}).get("arch")
        where = dict(dataset="imagenet1k", resolution=224, model=arch)
        pv = paper_value(row, "top1") if row is not None else None
        for e in runs:
            records.append(_cell("lavit", label, "top1", "top1", pv, float(e["top1"]) if e else None,
                                 float(tols.get("top1", 0.5)), comparable, False, e, config_name, **where))
        if row is None or not row.get("arch"):
            continue   # a row the config adds: its architecture at the paper's size is unknown
        c = counter.counted(row["arch"])
        for column, convention, value in (("params_m", "", c.params_m), ("gmacs", "all", c.gmacs),
                                          ("gmacs", "no_attn", c.gmacs_no_attn)):
            pv = paper_value(row, column)
            tol = float(tols.get(f"{column}_rel", 0.01)) * pv.value if pv is not None else 0.0
            cell = _cell("lavit", label, column, column, pv, value, tol, True, False, None, config_name,
                         **dict(where, model=row["arch"]))
            cell["convention"] = convention
            records.append(cell)
    records += _dense_cells(dense, table, config_name, comparable, counter)
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


# LaViT's dense-prediction runs -> (dataset, the metrics they report, the metric kind of their tolerance)
DENSE_RUNS = {
    "coco_1x": ("coco", ("AP", "AP50", "AP75", "APs", "APm", "APl"), "AP"),
    "coco_3x": ("coco", ("AP", "AP50", "AP75", "APs", "APm", "APl"), "AP"),
    "ade20k_semantic_fpn": ("ade20k", ("miou_ss", "miou_ms"), "miou"),
    "ade20k_upernet": ("ade20k", ("miou_ss", "miou_ms"), "miou"),
}


def _dense_cells(evals: List[Dict[str, Any]], table: Dict[str, Any], config_name: str, comparable: bool,
                 counter: Counter) -> List[Dict]:
    """Cells of the dense runs (``half`` = the run): the reproduced metrics of each evaluation, and the
    whole model's parameters and GFLOPs counted at the paper's size for every row, trained or not: RetinaNet at
    1280 x 800 (80 classes), the ADE20K segmenter at 512 x 512 (150 classes, the head's paper widths, no
    auxiliary head), from the evaluation's ``params_paper_arch`` or ``counter.dense_counted``."""
    tols = table.get("dense_tolerance", {})
    found = _index(evals, "half", "row")
    paper_rows = {(r["run"], r["model"]): r for r in table.get("dense_rows", [])}
    keys = list(paper_rows) + sorted(k for k in found if k not in paper_rows)
    records = []
    for run, label in keys:
        if run not in DENSE_RUNS:
            raise ValueError(f"dense_rows: run {run!r} is none of {', '.join(DENSE_RUNS)}")
        dataset, metrics, kind = DENSE_RUNS[run]
        row, runs = paper_rows.get((run, label)), found.get((run, label)) or [None]
        e = runs[0]
        arch = (e or {}).get("model") or (row or {}).get("arch")
        where = dict(half=run, dataset=dataset, model=arch)
        for metric in metrics:
            pv = paper_value(row, metric) if row is not None else None
            for seeded in runs:
                value = (seeded or {}).get(metric)
                records.append(_cell("lavit", label, metric, kind, pv, float(value) if value is not None else None,
                                     float(tols.get(kind, 0.5)), comparable, False, seeded, config_name, **where))
        if e is not None and e.get("params_paper_arch"):
            counted = {"params_m": e["params_paper_arch"] / 1e6, "gmacs": e.get("gmacs_paper_arch")}
        elif row is not None and row.get("arch"):
            counted = counter.dense_counted(run, row["arch"])
        else:
            continue
        for column in ("params_m", "gmacs"):
            pv = paper_value(row, column) if row is not None else None
            tol = float(tols.get(f"{column}_rel", 0.05)) * pv.value if pv is not None else 0.0
            cell = _cell("lavit", label, column, column, pv, counted.get(column), tol, True, False, None, config_name,
                         **where)
            cell["convention"] = "all" if column == "gmacs" else ""
            records.append(cell)
    return records


def combine(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The one tidy results table: every table's cells in the shared columns."""
    frames = [f for f in frames if f is not None and len(f)]
    columns = CELL_COLUMNS + [c for c in SUMMARY_COLUMNS if any(c in f.columns for f in frames)]
    frames = [f.reindex(columns=columns) for f in frames]
    if not frames:
        return pd.DataFrame(columns=CELL_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["resolution"] = pd.to_numeric(out["resolution"]).astype("Int64")   # blank for Table 5's params
    return out


def summarize_cells(per_seed: pd.DataFrame) -> pd.DataFrame:
    """One row per cell from the per-seed rows the collectors write: the value is the seeds' mean, with
    ``n``, ``std`` and the 95% t-interval (``ci_low``, ``ci_high``: n >= 2), and the status is the interval
    rule (``stats.interval_status``: the paper's value within the interval widened by the tolerance; with
    one seed, within the tolerance of the value, as before seeds). Cells without a seed (counted
    parameters and FLOPs, pending and cited cells) pass through with ``n`` empty."""
    from .stats import interval_status, summarize

    if "n" in per_seed.columns:
        return per_seed  # already summarised
    frame = per_seed.reindex(columns=CELL_COLUMNS)
    out = []
    keys = [k for k in CELL_KEY if k in frame.columns]
    for _, group in frame.groupby(keys, sort=False, dropna=False):
        first = group.iloc[0].to_dict()
        seeded = group[group["seed"].notna() & group["reproduced_value"].notna()]
        summary = dict(n=pd.NA, stdev=None, ci_low=None, ci_high=None, seeds="", run_ids="")
        if len(seeded):
            s = summarize(seeded["reproduced_value"])
            summary = dict(n=s.n, stdev=s.std, ci_low=s.low, ci_high=s.high,
                           seeds=",".join(str(int(x)) for x in seeded["seed"]),
                           run_ids=",".join(str(x) for x in seeded["run_id"] if isinstance(x, str)))
            first["reproduced_value"] = s.mean
            if first["paper_value"] is not None and not pd.isna(first["paper_value"]):
                first["delta"] = s.mean - first["paper_value"]
                if first["status"] in ("reproduced", "off"):
                    first["status"] = interval_status(first["paper_value"], s, first["tolerance"])
        out.append({**first, **summary})
    result = pd.DataFrame.from_records(out, columns=CELL_COLUMNS + SUMMARY_COLUMNS).drop(columns=["seed"])
    result["n"] = result["n"].astype("Int64")
    return result


def table1_cells(table1: pd.DataFrame, config_name: str) -> pd.DataFrame:
    """Table 1's measured complexity in the shared columns (metric: params_m / gmacs; convention: all / no_attn)."""
    out = table1.assign(metric=table1["column"], dataset=None, run_id=None, config_name=config_name)
    return out.reindex(columns=CELL_COLUMNS)


JOB_KINDS = {"runs": "train", "eval": "evaluate", "data": "data"}   # benchmark folder -> what the job did


def collect_jobs(benchmarks: Iterable[Path], runs_root: Optional[Path] = None) -> pd.DataFrame:
    """One row per job from its Snakemake benchmark file (``.../benchmarks/<kind>/...``).

    Training jobs (``benchmarks/runs/<run>/<model>/seed<N>.tsv``) take their device count and type
    from ``<runs_root>/<run>/<model>/seed<N>/metrics.json``; evaluation runs on one device of the
    same type; data preparation on CPU.
    """
    records = []
    for path in sorted(set(map(Path, benchmarks))):
        if not path.is_file():
            continue  # a job whose benchmark file was deleted: its output is still valid
        bench = pd.read_csv(path, sep="\t")
        wall = float(bench["s"].iloc[-1])
        parts = path.with_suffix("").parts
        kind_at = len(parts) - 1 - parts[::-1].index("benchmarks")
        kind, rest = parts[kind_at + 1], parts[kind_at + 2:]
        devices, device_type = 1, "cpu"
        if kind in ("runs", "eval") and runs_root is not None and len(rest) >= 2:
            metrics = Path(runs_root).joinpath(*rest) / "metrics.json"   # <run>/<model>/seed<N>
            if metrics.is_file():
                m = read_json(metrics)
                device_type = m.get("device_type", "cpu")
                devices = int(m.get("devices", 1)) if kind == "runs" else 1
        records.append(dict(job="/".join(rest), kind=JOB_KINDS.get(kind, kind), wall_s=wall, devices=devices, device_type=device_type,
                            device_hours=wall * devices / 3600.0, benchmark=str(path)))
    return pd.DataFrame.from_records(records, columns=["job", "kind", "wall_s", "devices", "device_type",
                                                       "device_hours", "benchmark"])


def one_flop_cell_per_figure(results: pd.DataFrame) -> pd.DataFrame:
    """A printed FLOP figure is one cell, measured in two conventions: it counts as reproduced if either matches.

    (The paper's 224 px figures count the attention matmuls and its 384 px ones do not, so one
    of the two conventions is always off; counting both would report every figure as half off.)
    """
    conv = results["convention"].fillna("")
    flops, rest = results[conv != ""], results[conv == ""]
    if not len(flops):
        return results
    rank = flops["status"].map({"reproduced": 0}).fillna(1)
    best = (flops.assign(_rank=rank).sort_values("_rank", kind="stable")
            .drop_duplicates(["table", "half", "row", "resolution", "column"]).drop(columns="_rank"))
    return pd.concat([rest, best]).sort_index()
