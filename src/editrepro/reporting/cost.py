"""What a configuration will cost, before it runs: GPU-hours per job and per table.

Three figures per training job, each where it can be had:
- ``estimate``: training FLOPs (3 x the forward GMACs x 2 at the job's resolution, x images
  x epochs) over the configured GPU's dense peak times an assumed model FLOP utilisation;
- ``from throughput``: images x epochs over a measured training throughput of the same
  architecture and resolution (``benchmarks/results/train_throughput_*.json``), per GPU;
- ``measured``: wall time x devices of a job that already ran (its Snakemake benchmark file
  and the device count its metrics.json records).

And the CPU cores per GPU a job needs to keep its GPU fed: the GPU's training images/s (measured,
else the estimate's) over one core's decode-and-augment rate for the job's recipe at its
resolution (``benchmarks/dataloader_throughput.py``, ``benchmarks/results/dataloader_throughput.json``).
"""
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

import pandas as pd
from tabulate import tabulate

from ..recipes import load_recipe
from ..schema import read_json
from .markdown import generated_line

__all__ = ["estimate", "render_cost"]


def _throughputs(paths: Iterable[Path], gpu: str) -> Dict[tuple, float]:
    """(timm name, img size, device) -> images/s per GPU, from throughput benchmarks run on ``gpu``.

    A file counts only if its device names the configured GPU's model (``A100`` of
    ``A100 80GB``): a CPU or another GPU's throughput says nothing about this cluster.
    """
    names = {"DeiT3-S": "deit3_ref_small_patch16_224", "EDIT-S": "edit_small_patch16_224"}
    token = gpu.split()[0].lower() if gpu.split() else ""
    out = {}
    for p in paths:
        d = read_json(p)
        if not token or token not in d.get("device", "").lower():
            continue
        for label, m in d["models"].items():
            if label in names:
                out[(names[label], d["img_size"], d["device"])] = m["images_per_sec"]
    return out


def cores_per_gpu(gpu_images_per_sec: float, recipe: str, img_size: int,
                  loader: Optional[Dict[str, Any]], input_form: str = "full") -> Optional[int]:
    """CPU cores (data-loading workers) that decode and augment as fast as the GPU trains; None unmeasured.

    ``input_form``: ``"resized"`` for a job reading ImageNet-21K-P's resized images (the processed
    release, or ``in21k_cleaning.resize`` other than none): the loader's ``images_per_sec_per_core_resized``
    figure (224 x 224 squish JPEGs) where measured, else the full-size one; ``"full"``: full-size images.
    """
    rates = None
    if input_form == "resized":
        rates = (loader or {}).get("images_per_sec_per_core_resized", {}).get(recipe)
    rates = rates or (loader or {}).get("images_per_sec_per_core", {}).get(recipe)
    if not rates:
        return None
    size = min(rates, key=lambda s: abs(int(s) - img_size))      # the measured resolution nearest the job's
    return max(1, math.ceil(gpu_images_per_sec / rates[size]))


def _count(counts: Mapping[str, Any], job: Dict[str, Any], what: str):
    try:
        return counts[job["job"]]
    except KeyError:
        raise KeyError(f"no {what} given for job {job['job']!r} (editrepro.analysis.counting.job_counts counts "
                       "them)") from None


def estimate(plan: List[Dict[str, Any]], config: Dict[str, Any], runs_root: Optional[Path] = None,
             throughput_files: Iterable[Path] = (), loader: Optional[Dict[str, Any]] = None, *,
             gmacs: Mapping[str, float], train_images: Mapping[str, int]) -> pd.DataFrame:
    """One row per training job of ``plan``. ``gmacs``: job name -> forward GMACs of one training image (the whole
    model); ``train_images``: job name -> images of one epoch of its dataset. Reporting builds no models: the
    ``cost`` command counts both with ``editrepro.analysis.counting.job_counts``."""
    peak = float(config["peak_tflops"]) * 1e12 * float(config["mfu"])
    measured_rates = _throughputs(throughput_files, str(config.get("gpu", "")))
    rows = []
    for job in plan:
        recipe = load_recipe(job["recipe"], job.get("overrides"))
        macs = _count(gmacs, job, "GMACs")
        images = _count(train_images, job, "training images") * recipe.epochs
        flops = 3 * 2 * macs * 1e9 * images
        rate = next((v for (arch, size, _), v in measured_rates.items()
                     if arch == job["arch"] and size == job["img_size"] and not job.get("args")), None)
        gpu_rate = rate or peak / (3 * 2 * macs * 1e9)              # images/s one GPU trains
        measured = None
        bench = Path(job["benchmark"])
        if bench.is_file() and runs_root is not None:
            metrics = Path(runs_root) / job["job"] / "metrics.json"
            devices = read_json(metrics).get("devices", 1) if metrics.is_file() else 1
            measured = float(pd.read_csv(bench, sep="\t")["s"].iloc[-1]) * devices / 3600
        rows.append(dict(job=job["job"], stage=job["stage"], model=job["model"], seed=job.get("seed", 0), arch=job["arch"],
                         resolution=job["resolution"], img_size=job["img_size"], epochs=recipe.epochs,
                         images=images, gflops_per_image=2 * macs, pflops=flops / 1e15,
                         estimate_gpu_hours=flops / peak / 3600,
                         throughput_gpu_hours=images / rate / 3600 if rate else None,
                         measured_device_hours=measured, gpu_images_per_sec=gpu_rate,
                         cpu_cores_per_gpu=cores_per_gpu(gpu_rate, Path(job["recipe"]).stem, job["img_size"], loader,
                                                         job.get("input_form", "full"))))
    return pd.DataFrame(rows)


def render_cost(df: pd.DataFrame, config: Dict[str, Any], commit: Optional[str] = None,
                claims: Optional[pd.DataFrame] = None) -> str:
    """The cost page; ``claims`` (``power.claim_costs``) adds the seeds and GPU-hours each claimed gain needs."""
    lines = ["# What the configuration costs", "", generated_line("snakemake cost", commit, config["name"]), "",
             f"Estimate: training FLOPs (3 x forward, all matmuls) / ({config['peak_tflops']} TFLOP/s dense peak of "
             f"one {config['gpu']} x {config['mfu']:.0%} utilisation). *From throughput*: images / a measured "
             "training throughput of the same model and resolution (`benchmarks/train_throughput.py`). "
             "*Measured*: jobs that already ran (wall time x devices).", ""]
    if config.get("generate_demo"):
        lines += ["> The demo's figures are for its stand-in data and reduced models; run "
                  "`snakemake cost --configfile config/paper.yaml` for the paper's matrix.", ""]
    rows = [[r.job, r.stage, f"{r.img_size}", r.epochs, f"{r.images:,}", f"{r.pflops:,.1f}",
             f"{r.estimate_gpu_hours:,.1f}",
             "–" if pd.isna(r.throughput_gpu_hours) else f"{r.throughput_gpu_hours:,.1f}",
             "–" if pd.isna(r.measured_device_hours) else f"{r.measured_device_hours:,.3f}",
             f"{r.gpu_images_per_sec:,.0f}",
             "–" if pd.isna(r.cpu_cores_per_gpu) else f"{int(r.cpu_cores_per_gpu)}"]
            for r in df.itertuples()]
    lines += [tabulate(rows, headers=["job", "stage", "px", "epochs", "images seen", "PFLOP", "GPU-h estimate",
                                      "GPU-h from throughput", "measured device-h", "GPU img/s",
                                      "CPU cores / GPU"],
                       tablefmt="github", disable_numparse=True), ""]
    loader = config.get("loader")
    if loader:
        lines += [f"*CPU cores / GPU*: the GPU's training images/s (measured, else estimated) over one core's decode "
                  f"and augment rate for the job's recipe, measured on {loader.get('cpu', 'a CPU')} "
                  "(`benchmarks/dataloader_throughput.py`); a slower or faster CPU changes it in proportion. "
                  "ImageNet-21k pretraining on resized images (the processed ImageNet-21K-P, or "
                  "`in21k_cleaning.resize` other than none) uses the rate on 224 x 224 JPEGs"
                  + ("" if loader.get("images_per_sec_per_core_resized") else
                     " where measured (not in this file: the full-size rate is used)") + ".", ""]
    else:
        lines += ["*CPU cores / GPU*: not measured here; run `python benchmarks/dataloader_throughput.py` on a node "
                  "of the cluster to fill the column.", ""]
    by_stage = df.groupby("stage")["estimate_gpu_hours"].sum()
    lines += ["By stage (estimate): " + ", ".join(f"{k} {v:,.0f} GPU-h" for k, v in by_stage.items()) + ".",
              "", f"**Total estimate: {df['estimate_gpu_hours'].sum():,.0f} GPU-hours** on {config['gpu']}.", ""]
    if len(df):
        longest = df.loc[df["estimate_gpu_hours"].idxmax()]
        hours = longest["estimate_gpu_hours"]
        lines += [f"*Nodes*: every job runs on one node unless its rule gets `nodes` in the Slurm profile's "
                  "`set-resources` (`workflow/profiles/slurm/config.yaml`), with `gpu` the total over the nodes: "
                  "`pretrain_in21k: {gpu: 32, nodes: 4, ...}` runs one torchrun agent per node, 8 GPUs each "
                  f"(`docs/slurm.md`). The longest job, {longest['job']} ({hours:,.0f} GPU-h), takes about "
                  f"{hours / 8:,.0f} h on one 8-GPU node, {hours / 16:,.0f} h on 2 and {hours / 32:,.0f} h on 4.", ""]
    if "seed" in df.columns and len(df):
        # each seed repeats every job of the cells it trains: the matrix at n seeds costs n x one seed
        one = df.assign(cell=df["job"].str.rsplit("/", n=1).str[0]).drop_duplicates("cell")["estimate_gpu_hours"].sum()
        seeds = sorted(int(x) for x in df["seed"].unique())
        lines += [f"Seeds: the configured ones ({', '.join(map(str, seeds))}) cost the total above; every training "
                  "job runs once per seed of its table (`tables.<table>.seeds`). The whole matrix at "
                  + ", ".join(f"{n} seed{'s' if n > 1 else ''}: {n * one:,.0f} GPU-h" for n in (1, 2, 3)) + ".", ""]
    if claims is not None:   # the seeds each claimed gain needs for 80% power, and their GPU-hours
        from .power import cost_power_lines

        lines += cost_power_lines(claims, df, config.get("stats"), config["gpu"])
    return "\n".join(lines)
