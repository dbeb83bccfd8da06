"""The design-choice ablations: each variant of a full model (its own model arguments and recipe settings) trained by
the full model's stage and recipe, over the table's seeds, against that full model seed by seed.

Neither paper prints an ablation of these choices (EDIT's decoder options are this reproduction's readings of
the paper; LaViT's are reconstructed, ``editrepro.lavit_design.DESIGN_CHOICES``), so every cell is "no paper value":
the table says what each choice is worth here, with the paired difference's 95% interval and its verdict.

    tables:
      edit_ablation:
        base: EDIT-T                        # a models: label; its run is the stage's own (in1k_224/EDIT-T/seed<N>)
        variants:                           # name -> what it changes: model args, recipe settings
          qo_proj: {args: {decoder_qo_proj: true}}
        seeds: [0, 1, 2]

Each variant trains into ``runs/<table>/<variant>/seed<N>`` (rule ``train_ablation``); the full model's run is the
one its stage already makes, so a config that also has it in Table 3 (or LaViT's table) trains it once.
"""
import json
from typing import Any, Dict, List

import pandas as pd
from tabulate import tabulate

from ..plan.plan import ABLATION_STAGES
from ..reporting.markdown import fmt
from ..reporting.results import CELL_COLUMNS, _cell, _load_evals, _seed, summarize_cells
from .base import Cell, Evaluation, Table

__all__ = ["AblationTable", "change_text"]


def change_text(args: Dict[str, Any], sets: Dict[str, Any]) -> str:
    """What a variant changes, as ``key=value`` in JSON (model args, then recipe settings)."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in [*sorted(args.items()), *sorted(sets.items())])


class AblationTable(Table):
    """An ablation table; subclasses give ``name``, ``title`` and ``family`` (the page's words)."""

    family = ""

    def __init__(self):
        # the variants' run folder is the table's name; scored on ImageNet-1k val like the full model's
        self.evaluations = (Evaluation(self.name, tags=self._tags, reads=lambda run: "imagenet1k", waits=True,
                                       names=True),)

    def _tags(self, plan, run, model, seed) -> Dict[str, Any]:
        """A variant's evaluation: its row, the full model it ablates and what it changes (the page's label)."""
        base = plan.ablation(run, model)["base"]          # names the table's variants when `model` is not one
        change = plan.table_spec(run)["variants"][model] or {}
        return dict(table=run, row=model, resolution="224", stage=run, ablates=base,
                    change=change_text(change.get("args", {}), change.get("set", {})), config=plan.name, seed=seed)

    def planned(self, plan) -> bool:
        return bool(plan.table_spec(self.name).get("base"))

    def cells(self, plan) -> List[Cell]:
        spec = plan.table_spec(self.name)
        if not spec.get("base"):
            return []
        seeds = plan.seeds_of(self.name)
        full = [Cell(self.name, ABLATION_STAGES[self.name]["run"], spec["base"], s, column="full", resolution=224,
                     priced=False) for s in seeds]
        return full + [Cell(self.name, self.name, v, s, column=v, resolution=224, priced=False)
                       for v in spec.get("variants") or {} for s in seeds]

    def collect(self, evals, paper_tables, config_name, comparable) -> pd.DataFrame:
        """Per seed: the full model's top-1 (its evaluation has no ``ablates`` tag), each variant's (row
        ``<variant> (<change>)``) and the variant's paired difference from the full model of the same seed (metric
        ``top1_delta``: its mean and t-interval over the seeds are the paired comparison). No paper value: neither
        paper prints these."""
        loaded = _load_evals(evals)
        full = {_seed(e): float(e["top1"]) for e in loaded if not e["tags"].get("ablates")}
        records = []
        for e in loaded:
            tags, top1 = e["tags"], float(e["top1"])
            variant = bool(tags.get("ablates"))
            row = f"{tags['row']} ({tags.get('change', '')})" if variant else f"{tags['row']} (full model)"
            where = dict(half="", resolution=224, dataset="imagenet1k", model=e.get("model"))
            records.append(_cell(self.name, row, tags["row"] if variant else "full", "top1", None, top1, 0.0,
                                 comparable, False, e, config_name, **where))
            if variant and _seed(e) in full:
                records.append(_cell(self.name, row, "delta", "top1_delta", None, top1 - full[_seed(e)], 0.0,
                                     comparable, False, e, config_name, **where))
        return pd.DataFrame.from_records(records, columns=CELL_COLUMNS)

    def sections(self, cells: pd.DataFrame) -> str:
        """The full model, then each variant: its mean top-1 over the seeds and its paired difference from the full
        model (mean and 95% t-interval of the per-seed differences), with what that interval says."""
        cells = summarize_cells(cells)
        top1 = cells[cells["metric"] == "top1"]
        full = top1[top1["column"] == "full"]
        if not len(full):
            return f"No {self.family} ablation was run yet (tables.{self.name}: its full model has no evaluation)."
        rows = [[full.iloc[0]["row"], fmt(full.iloc[0]["reproduced_value"]), _n(full.iloc[0]), "", "", "baseline"]]
        deltas = cells[cells["metric"] == "top1_delta"].set_index("row")
        for _, c in top1[top1["column"] != "full"].iterrows():
            d = deltas.loc[c["row"]] if c["row"] in deltas.index else None
            rows.append([c["row"], fmt(c["reproduced_value"]), _n(c), fmt(d["reproduced_value"]) if d is not None
                         else "-", _interval(d), _verdict(d)])
        lines = [f"Each variant is the full model with one change, trained by the full model's recipe on the same "
                 f"seeds and evaluated on ImageNet-1k. Δ is variant − full, seed by seed: its mean and 95% "
                 f"t-interval. Neither paper prints these ablations (no paper value).", "",
                 tabulate(rows, headers=["model", "top-1", "seeds", "Δ top-1 vs full", "95% interval", "verdict"],
                          tablefmt="github", disable_numparse=True), ""]
        return "\n".join(lines)


def _n(cell) -> str:
    return "" if pd.isna(cell["n"]) else str(int(cell["n"]))


def _interval(d) -> str:
    if d is None or pd.isna(d["n"]) or int(d["n"]) < 2:
        return "-"
    return f"[{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]"


def _verdict(d) -> str:
    """What the paired interval says: the variant better or worse than the full model, or not distinguishable."""
    if d is None or pd.isna(d["n"]):
        return "pending"
    if int(d["n"]) < 2:
        return "one seed: cannot tell from noise"
    if d["ci_low"] > 0:
        return "better than the full model"
    if d["ci_high"] < 0:
        return "worse than the full model"
    return "not distinguishable from the full model"
