"""A parent MLflow run per cell of the matrix, with each seed's run nested under it.

The seeds' training runs exist already (one per job, ``Tracker``); the table's aggregation knows which
runs fill which cell, so it creates (or finds again) the cell's parent run, logs the aggregates there
(``<column>/mean``, ``/std``, ``/n``, ``/ci_low``, ``/ci_high``) and tags each seed's run with
``mlflow.parentRunId``: the UI nests them, and its compare view lines up cells. Cells whose values come
from the same runs (Table 5's single- and multi-scale mIoU, a detector's six APs) share one parent.

Re-aggregating updates the same parents (found by their ``editrepro.cell`` tag). A store that cannot be
reached, or a seed's run missing from it, is a warning, never a failed aggregation: the tables do not
depend on MLflow.
"""
import logging
from typing import Dict, List, Optional, Tuple

import pandas as pd

from .mlflow_tracker import EXPERIMENT_KIND, _is_lock_error, default_tracking_uri, ensure_store, with_retries

__all__ = ["nest_seed_runs", "CELL_TAG"]

CELL_TAG = "editrepro.cell"
_log = logging.getLogger(__name__)


def _cell_name(c) -> str:
    half = f"{c.half}/" if isinstance(c.half, str) and c.half else ""
    res = f"@{int(c.resolution)}" if not pd.isna(c.resolution) else ""
    dataset = f"/{c.column}" if c.table == "table4" else ""   # Table 4's columns are datasets: runs of their own
    return f"{c.config_name}/{c.table}/{half}{c.row}{dataset}{res}"


def nest_seed_runs(cells: pd.DataFrame, uri: Optional[str] = None) -> Dict[str, str]:
    """Parent runs for the summarised ``cells`` (``summarize_cells``' output) that have seeds' runs.

    Returns ``{cell name: parent run id}``; empty when the store cannot be used (with a warning).
    """
    seeded = cells[cells["run_ids"].fillna("") != ""] if "run_ids" in cells.columns else cells.iloc[:0]
    if not len(seeded):
        return {}
    try:
        from mlflow.tracking import MlflowClient

        uri = uri or default_tracking_uri()
        ensure_store(uri)
        client = MlflowClient(tracking_uri=uri)
        parents: Dict[str, str] = {}
        for runs, group in seeded.groupby("run_ids", sort=False):
            # idempotent (the parent is found by its tag), so a store locked by a parallel job is simply retried
            nested = with_retries(lambda: _nest_cell(client, runs, group, uri))
            if nested is not None:
                parents[nested[0]] = nested[1]
        return parents
    except Exception as e:  # noqa: BLE001  (the tables never depend on the tracking store)
        _log.warning("MLflow: no parent runs for the cells (%s: %s)", type(e).__name__, str(e).splitlines()[0]
                     if str(e) else "")
        return {}


def _nest_cell(client, runs: str, group: pd.DataFrame, uri: str) -> Optional[Tuple[str, str]]:
    """Find or create the parent run of the cells ``group`` (filled by the seeds' runs ``runs``), log their
    aggregates there and nest the seeds' runs under it: (cell name, parent run id), or None when a seed's run is
    not in the store."""
    from mlflow.entities import Metric, RunTag

    children = runs.split(",")
    first = group.iloc[0]
    name = _cell_name(first)
    if len(group["table"].unique()) > 1:
        raise ValueError(f"runs {runs} fill cells of several tables")
    try:
        experiment = client.get_run(children[0]).info.experiment_id
    except Exception as e:  # noqa: BLE001  (a run from another store, or deleted)
        if _is_lock_error(e):
            raise
        _log.warning("MLflow: seed run %s of %s is not in %s (%s); no parent run for it", children[0], name, uri,
                     type(e).__name__)
        return None
    key = f"{name}|{runs}"
    found = client.search_runs([experiment], filter_string=f"tags.`{CELL_TAG}` = '{key}'", max_results=1)
    if found:
        parent = found[0].info.run_id
    else:
        tags = {CELL_TAG: key, "table": str(first.table), "row": str(first.row), "kind": "cell",
                "seeds": str(first.seeds), EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]}
        if not pd.isna(first.resolution):
            tags["resolution"] = str(int(first.resolution))
        if isinstance(first.half, str) and first.half:
            tags["half"] = first.half
        parent = client.create_run(experiment, run_name=name, tags=tags).info.run_id
    metrics: List = []
    for c in group.itertuples():
        for stat, value in (("mean", c.reproduced_value), ("std", c.stdev), ("n", c.n), ("ci_low", c.ci_low),
                            ("ci_high", c.ci_high)):
            if value is not None and not pd.isna(value):
                metrics.append(Metric(f"{c.column}/{stat}", float(value), 0, 0))
    client.log_batch(parent, metrics=metrics, tags=[RunTag("seeds", str(first.seeds))])
    for child in children:
        try:
            client.set_tag(child, "mlflow.parentRunId", parent)
        except Exception as e:  # noqa: BLE001  (one seed's run gone: the others still nest)
            if _is_lock_error(e):
                raise
            _log.warning("MLflow: could not nest run %s under %s (%s)", child, name, type(e).__name__)
    client.set_terminated(parent, status="FINISHED")
    return name, parent
