"""What the configured tables need, over the registry and the plan: each planned table's cells, every training job
they need (upstream first), the benchmark files a table's Compute section reads, and the cost estimate's jobs and
cells. Torch-free: the Snakefile reads these as it plans."""
from typing import Any, Dict, List

from ..plan import Plan
from .base import TABLES, Cell

__all__ = ["planned_tables", "cells_of", "jobs_of", "benchmarks_of", "training_plan", "cost_cells", "official_recipes",
           "attention_pair", "saturation_models"]


def planned_tables(plan: Plan) -> List[str]:
    """The tables this config has, in the report's order (an ablation table where `tables.<name>.base` is set)."""
    return [name for name, table in TABLES.items() if table.planned(plan)]


def cells_of(plan: Plan, table: str) -> List[Cell]:
    """The cells of a registered table: run, model, seed, half, column (cached per plan)."""
    cache = plan.__dict__.setdefault("_cells", {})
    if table not in cache:
        cache[table] = TABLES[table].cells(plan)
    return cache[table]


def jobs_of(plan: Plan, cell: Cell) -> list:
    """The training jobs of a cell, upstream first (``Plan.chain``)."""
    return plan.chain(cell.run, cell.model, cell.seed)


def benchmarks_of(plan: Plan, table: str) -> List[str]:
    """Benchmark files of every job a table depends on: its evaluations, their training jobs upstream included,
    and the data jobs (the demo's, the ImageNet-21k manifests) they read."""
    layout, cells = plan.layout, cells_of(plan, table)
    files = [layout.bench("eval", c.run, c.model, c.seed) for c in cells]
    jobs = [job for c in cells for job in jobs_of(plan, c)]
    files += [layout.bench("runs", job["run"], job["model"], job["seed"]) for job in jobs]
    if any(job["dataset"] == "imagenet21k" for job in jobs):
        files += [layout.data_bench(name) for name in plan.in21k_jobs()]
    if plan.config["data"]["generate_demo"] and cells:
        files.append(layout.data_bench("demo_data"))
    return sorted(set(files))


def training_plan(plan: Plan) -> List[Dict[str, Any]]:
    """Every training job the configured tables need, as data for the cost estimate (upstream jobs first)."""
    jobs: Dict[str, Dict[str, Any]] = {}
    for table in planned_tables(plan):
        for cell in cells_of(plan, table):
            for job in jobs_of(plan, cell):
                key = f"{job['run']}/{job['model']}/seed{job['seed']}"
                dense = job["rule"] in ("detect", "segment_dense")   # priced at 512; the detector's input
                entry = dict(job=key, stage=job["stage"], model=job["model"], seed=job["seed"], arch=job["arch"],
                             args=job["args"], img_size=800 if job["rule"] == "detect" else job["img_size"],
                             resolution=512 if dense else int(job["res"]), dataset=job["dataset"],
                             recipe=plan.recipe_file(job["stage"]), overrides=job["sets"],
                             benchmark=plan.layout.bench("runs", job["run"], job["model"], job["seed"]))
                if job["dataset"] == "imagenet21k":   # its images: resized or full size; cost's loader figure follows
                    entry["input_form"] = "full" if plan.in21k_form == "full" else "resized"
                jobs[key] = entry
    return list(jobs.values())


def cost_cells(plan: Plan) -> List[Dict[str, Any]]:
    """The cells the configured tables fill, one per table, half, row and resolution: the model's architecture,
    the training jobs (run/model, one seed) its value needs, upstream included, and its seeds. `cost` pairs them
    into the papers' claimed gains and prices the seeds each claim needs."""
    cells: Dict[tuple, Dict[str, Any]] = {}
    for table in planned_tables(plan):
        for c in cells_of(plan, table):
            if not c.priced:
                continue
            extra = {"column": c.column} if c.column else {}
            cell = cells.setdefault((c.table, c.half, c.model, c.resolution, c.column), dict(
                table=c.table, half=c.half, row=c.model, resolution=c.resolution, arch=plan.arch(c.model),
                jobs=[f"{job['run']}/{c.model}" for job in jobs_of(plan, c)], seeds=[], **extra))
            cell["seeds"].append(c.seed)
    return list(cells.values())


def official_recipes(plan: Plan) -> List[str]:
    """The recipes DeiT III's own chains of Table 3 use (each defaults to the preset of its name), checking that
    every chain's resolution is configured."""
    names = []
    for c in cells_of(plan, "table3"):
        if c.priced:    # the paper's recipes; the others are DeiT III's own
            continue
        for job_run, chain in plan.official_jobs(c.run, c.model):
            if chain["res"] not in plan.config["resolutions"]:
                raise ValueError(f"resolutions['{chain['res']}'] is missing: tables.table3.baselines deit3_official "
                                 f"trains {c.model} at it ({job_run}; DeiT III pretrains ViT-B at 192 px). Set "
                                 f"resolutions.\"{chain['res']}\" (the paper's matrix: {chain['res']}; a stand-in "
                                 f"the patch size 16 divides otherwise)")
            names.append(plan.recipe_name(chain["stage"]))
    return list(dict.fromkeys(names))


def attention_pair(plan: Plan):
    """(run, EDIT model, DeiT III model, seed) for Table 3's attention figures: the first of each family Table 3
    trains by the paper's recipes at 224, on the first seed of that half; None if it trains no such pair."""
    runs = [c for c in cells_of(plan, "table3") if c.priced]
    for cell in runs:
        if cell.run not in ("in1k_224", "in21k_224"):
            continue
        models = [c.model for c in runs if c.run == cell.run]
        edit = next((m for m in models if plan.arch(m).startswith("edit_")), None)
        deit3 = next((m for m in models if plan.arch(m).startswith("deit3")), None)
        if edit and deit3:
            return cell.run, edit, deit3, plan.seeds_of("table3", "in1k" if cell.half == "a" else "in21k")[0]
    return None


def saturation_models(plan: Plan) -> List[tuple]:
    """(label, run folder, model, seed) of the attention-saturation figure: the first LaViT and PVTv2 of LaViT's
    table (its first seed) and, when Table 3 trains them, the EDIT and DeiT III of its attention figures."""
    lavit = [c.model for c in cells_of(plan, "lavit") if c.run == "lavit_224"]
    chosen = []
    for family, prefix in (("LaViT", "lavit_"), ("PVTv2", "pvt_v2")):
        model = next((m for m in lavit if plan.arch(m).startswith(prefix)), None)
        if model:
            chosen.append((family, "lavit_224", model, plan.seeds_of("lavit")[0]))
    pair = attention_pair(plan)
    if chosen and pair:
        run, edit, deit3, seed = pair
        chosen = [("DeiT III", run, deit3, seed), ("EDIT", run, edit, seed)] + chosen
    return chosen
