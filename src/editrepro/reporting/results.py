"""The tidy results of the workflow: one row per cell of a paper table, and one per job.

Cells come from the evaluation JSONs the workflow writes (each carries the cell it fills
in its ``tags``: table, half, row, resolution) matched against the paper's values. A cell
the configuration has not run yet is ``pending``; rows the paper cites from other work
are ``cited``; a demo configuration's accuracies are ``not comparable``. Nothing is made
up: a missing value stays missing.

Jobs come from Snakemake's ``benchmark:`` files: wall time per job, with the devices the
training job recorded, summed into device-hours.
"""
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import pandas as pd

from .paper import paper_value

__all__ = ["CELL_COLUMNS", "cell_status", "collect_table3", "collect_jobs"]

CELL_COLUMNS = [
    "table", "half", "row", "column", "model", "dataset", "resolution", "metric", "paper_text", "paper_value",
    "reproduced_value", "delta", "tolerance", "status", "run_id", "git_commit", "config_name",
]

STATUSES = ("reproduced", "off", "pending", "not comparable", "no paper value", "cited")


def cell_status(paper: Optional[float], reproduced: Optional[float], tolerance: float, comparable: bool,
                cited: bool = False) -> str:
    if cited:
        return "cited"
    if reproduced is None:
        return "pending"
    if paper is None:
        return "no paper value"
    if not comparable:
        return "not comparable"
    return "reproduced" if abs(reproduced - paper) <= tolerance + 1e-9 else "off"


def _load_evals(paths: Iterable[Path]) -> List[Dict[str, Any]]:
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            d = json.load(f)
        if "tags" not in d or "row" not in d["tags"]:
            raise ValueError(f"{p}: an evaluation JSON needs tags row/half/resolution (editrepro evaluate --tag)")
        out.append(d)
    return out


def collect_table3(evals: Iterable[Path], paper_tables: Dict[str, Any], config_name: str,
                   comparable: bool) -> pd.DataFrame:
    """Top-1 cells of Table 3, both halves: the paper's rows, plus rows the config adds."""
    table = paper_tables["table3"]
    tol = float(table.get("tolerance", {}).get("top1", 0.5))
    found = {}
    for e in _load_evals(evals):
        t = e["tags"]
        found[(t["half"], t["row"], int(t["resolution"]))] = e
    records = []
    seen = set()
    rows = [(r["half"], r["model"], int(r["img_size"]), r) for r in table["rows"]]
    rows += [(h, m, res, None) for (h, m, res) in found if (h, m, res) not in {x[:3] for x in rows}]
    for half, label, res, row in rows:
        if (half, label, res) in seen:
            continue
        seen.add((half, label, res))
        pv = paper_value(row, "top1") if row is not None else None
        e = found.get((half, label, res))
        reproduced = float(e["top1"]) if e is not None else None
        cited = row is not None and bool(row.get("source")) and e is None
        records.append(dict(
            table="table3", half=half, row=label, column="top1", model=(e or {}).get("model") or (row or {}).get("arch"),
            dataset="imagenet1k", resolution=res, metric="top1",
            paper_text=pv.text if pv else None, paper_value=pv.value if pv else None,
            reproduced_value=reproduced,
            delta=(reproduced - pv.value) if (pv is not None and reproduced is not None) else None,
            tolerance=tol, status=cell_status(pv.value if pv else None, reproduced, tol, comparable, cited),
            run_id=(e or {}).get("run_id"), git_commit=(e or {}).get("git_commit"), config_name=config_name,
        ))
    return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)


def collect_jobs(benchmarks: Iterable[Path], runs_root: Optional[Path] = None) -> pd.DataFrame:
    """One row per job from its Snakemake benchmark file (``.../benchmarks/<kind>/...``).

    Training jobs (``benchmarks/runs/<run>/<model>.tsv``) take their device count and type
    from ``<runs_root>/<run>/<model>/metrics.json``; evaluation runs on one device of the
    same type; data preparation on CPU.
    """
    records = []
    for path in map(Path, benchmarks):
        if not path.is_file():
            continue  # a job whose benchmark file was deleted: its output is still valid
        bench = pd.read_csv(path, sep="\t")
        wall = float(bench["s"].iloc[-1])
        parts = path.with_suffix("").parts
        kind_at = len(parts) - 1 - parts[::-1].index("benchmarks")
        kind, rest = parts[kind_at + 1], parts[kind_at + 2:]
        devices, device_type = 1, "cpu"
        if kind in ("runs", "eval") and runs_root is not None and len(rest) == 2:
            metrics = Path(runs_root) / rest[0] / rest[1] / "metrics.json"
            if metrics.is_file():
                m = json.loads(metrics.read_text())
                device_type = m.get("device_type", "cpu")
                devices = int(m.get("devices", 1)) if kind == "runs" else 1
        records.append(dict(job="/".join(rest), kind=kind, wall_s=wall, devices=devices, device_type=device_type,
                            device_hours=wall * devices / 3600.0, benchmark=str(path)))
    return pd.DataFrame.from_records(records, columns=["job", "kind", "wall_s", "devices", "device_type",
                                                       "device_hours", "benchmark"])
