# Validation of the config and the helpers that turn it into job arguments.
# Pure Python and YAML: nothing here imports torch, so planning the DAG stays fast.
import functools
import json
import re
import shlex
from pathlib import Path

import yaml

from snakemake.utils import validate

from editrepro.recipes import ConfigError, batch_plan, load_recipe   # torch-free: planning stays fast
from editrepro.schema import load_yaml, yaml12_numbers   # torch-free
from editrepro.baselines import (BASELINES, OFFICIAL, OFFICIAL_STAGES, arch_size, official_chain,  # torch-free
                                 official_row)


# Numbers as YAML 1.2 reads them, like recipes and --set: Snakemake's loader (YAML 1.1) reads `lr: 2e-3` as a string.
config.update(yaml12_numbers(dict(config)))
validate(config, "../../config/schemas/workflow.schema.yaml")

NAME = config["name"]
RESULTS = f"results/{NAME}"
RUNS = f"{RESULTS}/runs"
EVALS = f"{RESULTS}/eval"
LOGS = f"logs/{NAME}"
DATA_ROOT = Path(config["data"]["root"])
DEMO_MARKER = DATA_ROOT / "DONE"
IN21K = f"{RESULTS}/data/imagenet21k"
# ImageNet-21K-P's form, and the manifests pretraining reads: the processed release as distributed (data.imagenet21k_p,
# indexed by rule in21k_p), or the raw release cleaned (rule clean_in21k) then resized as the reference does (rule
# resize_in21k; in21k_cleaning.resize none: the full-size images). Sizes as editrepro.data.imagenet21k.DEFAULT_SIZE.
IN21K_RESIZE = config["in21k_cleaning"]["resize"]
IN21K_RESIZE_SIZE = config["in21k_cleaning"]["resize_size"] or {"squish": 224, "short-side": 256}.get(IN21K_RESIZE)
IN21K_FORM = "processed" if config["data"]["imagenet21k_p"] else "full" if IN21K_RESIZE == "none" else "resized"
IN21K_P = f"{RESULTS}/data/imagenet21k_p"
IN21K_RESIZED = f"{RESULTS}/data/imagenet21k_{IN21K_RESIZE}{IN21K_RESIZE_SIZE}"
IN21K_READ = {"processed": IN21K_P, "resized": IN21K_RESIZED, "full": IN21K}[IN21K_FORM]
MODEL_LABEL = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
TRANSFER_DATASETS = r"cifar10|cifar100|flowers102|dtd|caltech256"
SCHEDULES = r"1x|3x"
DENSE_HEADS = r"semantic_fpn|upernet"

# The software every rule runs with (--software-deployment-method conda builds it from requirements.lock);
# relative to the rule files in workflow/rules/.
ENV = "../envs/editrepro.yaml"

wildcard_constraints:
    model=MODEL_LABEL,
    res=r"224|384|512",
    dataset=TRANSFER_DATASETS,
    table=r"table3|table4|table5|lavit",
    schedule=SCHEDULES,
    head=DENSE_HEADS,
    seed=r"[0-9]+",


# Each training stage: the recipe it uses and the dataset it reads.
STAGES = {
    "pretrain_in1k": dict(recipe="in1k_pretrain", dataset="imagenet1k"),
    "finetune_384": dict(recipe="finetune_384", dataset="imagenet1k"),
    "pretrain_in21k": dict(recipe="in21k_pretrain", dataset="imagenet21k"),
    "finetune_in21k": dict(recipe="finetune_in1k_from_in21k", dataset="imagenet1k"),
    "transfer": dict(recipe="transfer", dataset=None),
    "segment": dict(recipe="segment", dataset="ade20k"),
    "lavit_in1k": dict(recipe="lavit_in1k", dataset="imagenet1k"),
    "detect_1x": dict(recipe="retinanet_1x", dataset="coco"),
    "detect_3x": dict(recipe="retinanet_3x", dataset="coco"),
    "segment_semantic_fpn": dict(recipe="semantic_fpn", dataset="ade20k"),
    "segment_upernet": dict(recipe="upernet", dataset="ade20k"),
}


def dataset_root(name):
    """A dataset's root: absolute paths as given, relative ones under data.root."""
    if name == "imagenet21k":
        return IN21K_READ
    path = Path(config["data"][name])
    return str(path if path.is_absolute() else DATA_ROOT / path)


def data_ready(name):
    """What the workflow makes before a dataset can be read: the demo data, the 21k manifests.

    External datasets are not inputs: a dry run plans the whole matrix on a machine without
    them, and a job whose data is missing fails with the layout it expected.
    """
    if name == "imagenet21k":
        return [f"{IN21K_READ}/train.parquet"]
    if config["data"]["generate_demo"]:  # every dataset, "transfer" ones included, comes from the generator
        return [str(DEMO_MARKER)]
    return []


def data_root_of(name, input):
    """Where a job reads dataset `name`. Data the workflow makes (data_ready) is found from the job's `data`
    input, so the path follows that input wherever the job sees it; external data is where the config says."""
    if not data_ready(name):
        return dataset_root(name)
    made = Path(input.data[0]).parent   # the 21k manifests' folder, or data.root (the demo's DONE marker)
    return str(made if name == "imagenet21k" else made / config["data"][name])


def data_root(name):
    """The `data_root` param of a job reading dataset `name`, with `data=data_ready(name)` among its inputs."""
    return lambda wildcards, input: data_root_of(name, input)


def validate_recipes():
    """Every recipe (its preset with the config's `set`) against its schema, before any job runs: a wrong key
    or value (a negative dp_loss_weight, say) is named here rather than in a failed job's log."""
    for name, ref in config["recipes"].items():
        preset = Path(f"config/recipes/{ref['preset']}.yaml")
        if not preset.is_file():
            raise ValueError(f"recipes.{name}.preset: {ref['preset']!r} is not a file under config/recipes/")
        try:
            recipe = {**(load_yaml(preset) or {}), **ref.get("set", {})}
        except ConfigError as e:   # a YAML syntax error, with its line
            raise ValueError(f"recipes.{name}: {e}") from None
        schema = {"segmentation": "segmentation_recipe", "detection": "detection_recipe"}.get(recipe.get("task"), "recipe")
        try:
            validate(recipe, f"../../config/schemas/{schema}.schema.yaml", set_default=False)
        except Exception as e:
            raise ValueError(f"recipes.{name} ({preset} with its set) does not fit "
                             f"config/schemas/{schema}.schema.yaml: {getattr(e, 'args', [e])[-1]}") from None
        try:   # the rules a schema cannot state (ordered lr_steps, bce without label smoothing): the library's own
            load_recipe(preset, ref.get("set", {}))
        except ConfigError as e:
            raise ValueError(f"recipes.{name}: {e}") from None


validate_recipes()


# The timm names of LaViT (models/lavit.py registers them; tests/workflow checks this list against it).
LAVIT_ARCHS = [f"lavit_{size}_{res}" for size in ("tiny", "small", "base") for res in (224, 384)]


def recipe_file(stage):
    return f"config/recipes/{config['recipes'][STAGES[stage]['recipe']]['preset']}.yaml"


def recipe_overrides(stage):
    """The config's overrides of the preset, as --set flags (also a param: changing one re-runs the job)."""
    sets = config["recipes"][STAGES[stage]["recipe"]].get("set", {})
    return " ".join(f"--set {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in sorted(sets.items()))


def model_arch(wildcards):
    if wildcards.model not in config["models"]:
        raise ValueError(f"model {wildcards.model!r} is not under 'models' in the config; "
                         f"known: {', '.join(config['models'])}")
    return config["models"][wildcards.model]["arch"]


def model_args(wildcards):
    args = config["models"][wildcards.model].get("args", {})
    return " ".join(f"--model-arg {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in sorted(args.items()))


def pixels(res):
    return config["resolutions"][str(res)]


def compute_args():
    c = config["compute"]
    args = f"--device {c['device']} --amp {c['amp']} --workers {c['workers']}"
    if c["per_device_batch"]:
        args += f" --per-device-batch {c['per_device_batch']}"
    if c["compile"]:
        args += " --compile"
    if c["grad_checkpointing"]:
        args += " --grad-checkpointing"
    if c["checkpoint_every"] is not None:
        args += f" --checkpoint-every {c['checkpoint_every']}"
    if c["max_bad_samples"] is not None:
        args += f" --max-bad-samples {c['max_bad_samples']}"
    return args


def launcher(stage):
    """The job's launch: `editrepro`, or torchrun over its GPUs (one task; one per node with nodes > 1).

    `stage` is a stage name or a function of the wildcards giving one. Evaluated as each job is planned (a dry run
    too), it checks that the stage's recipe batch splits over the job's devices (check_batch): a job that would fail
    when it starts fails the plan instead, and only the jobs of the targets asked for are checked. (A param of the
    resources, which Snakemake leaves out of its params rerun trigger: the check changes no job's params.)"""
    def launch(wildcards, resources):
        gpus = int(getattr(resources, "gpu", 0) or 0)
        nodes = int(getattr(resources, "nodes", 1) or 1)
        check_batch(STAGES[stage(wildcards) if callable(stage) else stage]["recipe"], gpus, nodes)
        if nodes > 1:
            endpoint = '$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1):29500'
            return (f"srun --ntasks-per-node=1 torchrun --nnodes={nodes} --nproc_per_node={gpus // nodes} "
                    f"--rdzv_backend=c10d --rdzv_id=$SLURM_JOB_ID --rdzv_endpoint={endpoint} -m editrepro")
        if gpus > 1:
            return f"torchrun --standalone --nproc_per_node={gpus} -m editrepro"
        return "editrepro"

    return launch


def cluster_resource(key):
    """Partition or account from the config ('' leaves the choice to the cluster)."""
    return config["cluster"][key] or ""


def tags(**kv):
    return " ".join(f"--tag {shlex.quote(f'{k}={v}')}" for k, v in kv.items())


TRAIN_SHELL = (
    "{params.launch} train --recipe {input.recipe} {params.sets} "
    "--model {params.arch} {params.model_args} --img-size {params.img_size} "
    "--dataset {params.dataset} --data-root {params.data_root} {params.init} "
    "--output {params.outdir} {params.compute} --seed {wildcards.seed} "
    "--experiment {params.experiment} --run-name {params.run_name} {params.tags} > {log} 2>&1"
)


# -- what each table needs ---------------------------------------------------------------
T3 = config["tables"]["table3"]


def seeds_of(*keys):
    """The training seeds of a table (``tables.<table>[.<part>].seeds``, the most specific given), else
    ``[compute.seed]``. Each seed's runs are their own jobs, under ``.../<model>/seed<N>/``."""
    spec, found, where = config["tables"], None, "tables"
    for key in keys:
        spec, where = spec[key], f"{where}.{key}"
        if spec.get("seeds") is not None:
            found, named = spec["seeds"], f"{where}.seeds"
    if found is None:
        return [int(config["compute"]["seed"])]
    if len(set(found)) != len(found):
        raise ValueError(f"{named}: {found} lists a seed twice; each seed is one run of every cell")
    return [int(x) for x in found]


def run_dir(run, model, seed):
    """A training job's folder: checkpoints, metrics.json, log.jsonl."""
    return f"{RUNS}/{run}/{model}/seed{seed}"


def eval_json(run, model, seed):
    return f"{EVALS}/{run}/{model}/seed{seed}.json"


def table3_runs():
    """(run folder, model, half, seed) of every Table 3 cell, once per seed of its half."""
    runs = [(f"in1k_{res}", m, "a", s) for m in T3["in1k"]["models"] for res in T3["in1k"]["resolutions"]
            for s in seeds_of("table3", "in1k")]
    runs += [(f"in21k_{res}", m, "b", s) for m in T3["in21k"]["models"] for res in T3["in21k"]["resolutions"]
             for s in seeds_of("table3", "in21k")]
    return runs


def table3_evals():
    return [eval_json(run, model, seed) for run, model, _, seed in table3_runs() + table3_official_runs()]


# -- Table 3's DeiT III baselines (editrepro.baselines; docs/reference.md, "DeiT III's own results and recipe") --
for _stage, (_recipe, _dataset) in OFFICIAL_STAGES.items():
    STAGES[_stage] = dict(recipe=_recipe, dataset=_dataset)


def baselines_of(half):
    """`tables.table3.<half>.baselines`, else `tables.table3.baselines`, else [paper]. `paper` trains every model of
    the half by the EDIT paper's recipes (as always); `deit3_official` adds each DeiT3 model by DeiT III's own."""
    for where, spec in ((f"tables.table3.{half}.baselines", T3[half].get("baselines")),
                        ("tables.table3.baselines", T3.get("baselines"))):
        if spec is not None:
            if "paper" not in spec:
                raise ValueError(f"{where}: {spec} leaves out 'paper', the EDIT paper's recipes that train every "
                                 f"model of the half; list it with the others (allowed: {', '.join(BASELINES)})")
            return list(spec)
    return ["paper"]


def official_models(half):
    """The half's DeiT3 models (arch deit3*) that DeiT III's own recipes also train, where its baselines say so."""
    if OFFICIAL not in baselines_of(half):
        return []
    return [m for m in T3[half]["models"] if config["models"].get(m, {}).get("arch", "").startswith("deit3")]


def table3_official_runs():
    """(run folder, model, half, seed) of every official-recipe cell of Table 3, at the half's resolutions and seeds:
    in1k_official_<res> (half a), in21k_official_<res> (half b). Each is evaluated as its own row."""
    runs = [(f"in1k_official_{res}", m, "a", s) for m in official_models("in1k") for res in T3["in1k"]["resolutions"]
            for s in seeds_of("table3", "in1k")]
    runs += [(f"in21k_official_{res}", m, "b", s) for m in official_models("in21k")
             for res in T3["in21k"]["resolutions"] for s in seeds_of("table3", "in21k")]
    return runs


def official_job(run, model):
    """{stage, res, init}: how DeiT III's recipes train run folder `run` of `model` (editrepro.baselines)."""
    arch = config["models"][model]["arch"]
    chain = official_chain(run, arch_size(arch))
    if chain is None:
        raise ValueError(f"tables.table3.baselines: DeiT III's README gives no recipe that trains {run} for {model} "
                         f"({arch}); deit3_official covers tiny (Small's recipe), small and base DeiT3 models")
    return chain


def official_jobs(run, model):
    """Every training job of an official-recipe cell, upstream first: [(run folder, {stage, res, init}), ...]."""
    jobs = []
    while run:
        chain = official_job(run, model)
        jobs.insert(0, (run, chain))
        run = chain["init"]
    return jobs


def validate_official():
    """Before any job: every official-recipe chain has a size the README trains and its resolutions; the recipes it
    uses default to the presets of their names (config/recipes/deit3_official_*), added to `recipes` only when
    planned (so a config without deit3_official keeps its recipes, and every job, as they were) and checked."""
    for run, model, _, _ in table3_official_runs():
        for job_run, chain in official_jobs(run, model):
            if chain["res"] not in config["resolutions"]:
                raise ValueError(f"resolutions['{chain['res']}'] is missing: tables.table3.baselines deit3_official "
                                 f"trains {model} at it ({job_run}; DeiT III pretrains ViT-B at 192 px). Set "
                                 f"resolutions.\"{chain['res']}\" (the paper's matrix: {chain['res']}; a stand-in "
                                 f"the patch size 16 divides otherwise)")
            name = STAGES[chain["stage"]]["recipe"]
            config["recipes"].setdefault(name, {"preset": name, "set": {}})
    if table3_official_runs():
        validate_recipes()


validate_official()


def official_params(wildcards):
    """What a `train_deit3_official` job is: its run's chain, stage, dataset and pixels."""
    chain = official_job(wildcards.orun, wildcards.model)
    return dict(chain, dataset=STAGES[chain["stage"]]["dataset"], img_size=pixels(chain["res"]))


def official_init(wildcards):
    """The checkpoint a `train_deit3_official` job starts from (the same seed's upstream run), or none."""
    init = official_job(wildcards.orun, wildcards.model)["init"]
    return [f"{run_dir(init, wildcards.model, wildcards.seed)}/model.pth"] if init else []


def table4_runs():
    """(run folder, model, seed) of every Table 4 cell."""
    t4 = config["tables"]["table4"]
    return [(f"transfer_{d}", m, s) for m in t4["models"] for d in t4["datasets"] for s in seeds_of("table4")]


def table5_runs():
    """(run folder, model, seed) of every Table 5 cell."""
    return [("ade20k", m, s) for m in config["tables"]["table5"]["models"] for s in seeds_of("table5")]


LAVIT = config["tables"]["lavit"]
LAVIT_STRIDE = 32   # the last stage of LaViT's (and PVTv2's) pyramid


def lavit_pixels():
    """What LaViT's table trains at: its own `pixels`, else the 224 stand-in; a multiple of the pyramid's stride."""
    px = LAVIT.get("pixels") or pixels(224)
    if px % LAVIT_STRIDE:
        lower, upper = max(LAVIT_STRIDE, px // LAVIT_STRIDE * LAVIT_STRIDE), (px // LAVIT_STRIDE + 1) * LAVIT_STRIDE
        raise ValueError(f"tables.lavit trains at {px} px (resolutions['224'], tables.lavit.pixels unset), which "
                         f"LaViT's pyramid cannot divide by its stride {LAVIT_STRIDE}: set tables.lavit.pixels to "
                         f"{lower} or {upper}")
    return px


DENSE = LAVIT["dense"]
DENSE_DET, DENSE_SEG = DENSE["detection"], DENSE["segmentation"]


def dense_crop():
    """The ADE20K crop of LaViT's segmentation jobs: its own `pixels`, else the 512 stand-in."""
    return DENSE_SEG.get("pixels") or pixels(512)


def validate_lavit():
    """LaViT's table, checked once before any job: a resolution the pyramid divides, LaViT names it builds,
    dense jobs on pyramid backbones the table trains (each starts from that checkpoint)."""
    if LAVIT["models"]:
        lavit_pixels()
    for m in LAVIT["models"]:
        arch = config["models"].get(m, {}).get("arch", "")
        if arch.startswith("lavit_") and arch not in LAVIT_ARCHS:
            raise ValueError(f"models.{m}.arch: {arch!r} is not a LaViT this package builds; "
                             f"use one of {', '.join(LAVIT_ARCHS)} (sizes via args, e.g. depths)")
    for part, spec in (("detection", DENSE_DET), ("segmentation", DENSE_SEG)):
        for m in spec["models"]:
            if m not in LAVIT["models"]:
                raise ValueError(f"tables.lavit.dense.{part}.models: {m!r} is not in tables.lavit.models; a dense "
                                 f"job starts from that table's ImageNet-1k checkpoint of the backbone")
            arch = config["models"][m]["arch"]
            if not arch.startswith(("lavit_", "pvt_v2_")):
                raise ValueError(f"tables.lavit.dense.{part}.models: {m!r} is {arch!r}; dense prediction takes a "
                                 f"pyramid backbone (lavit_*, pvt_v2_*)")
    if DENSE_SEG["models"] and dense_crop() % LAVIT_STRIDE:
        raise ValueError(f"tables.lavit.dense.segmentation crops at {dense_crop()} px, not a multiple of "
                         f"{LAVIT_STRIDE}: set tables.lavit.dense.segmentation.pixels")
    for stage in dense_stages():
        if STAGES[stage]["recipe"] not in config["recipes"]:
            raise ValueError(f"recipes.{STAGES[stage]['recipe']} is missing (the {stage} jobs use it)")


def dense_stages():
    return ([f"detect_{s}" for s in DENSE_DET["schedules"]] if DENSE_DET["models"] else []) + \
        ([f"segment_{h}" for h in DENSE_SEG["heads"]] if DENSE_SEG["models"] else [])


validate_lavit()


def lavit_runs():
    """(run folder, model, seed) of every LaViT-table cell: each model trained from scratch with LaViT's recipe."""
    return [("lavit_224", m, s) for m in LAVIT["models"] for s in seeds_of("lavit")]


def dense_runs():
    """(run folder, model, seed) of every dense-prediction cell of LaViT's table: coco_1x/3x, ade20k_<head>; the
    seeds of LaViT's table (each from the backbone's ImageNet-1k run of the same seed)."""
    seeds = seeds_of("lavit")
    runs = [(f"coco_{sch}", m, s) for sch in DENSE_DET["schedules"] for m in DENSE_DET["models"] for s in seeds]
    return runs + [(f"ade20k_{h}", m, s) for h in DENSE_SEG["heads"] for m in DENSE_SEG["models"] for s in seeds]


def dense_dataset(run):
    return "coco" if run.startswith("coco_") else "ade20k"


def dense_tags(run, model, seed):
    return tags(table="lavit", half=run, row=model, stage=run, config=NAME,
                resolution=dense_crop() if run.startswith("ade20k") else 800, seed=seed)


def lavit_evals():
    return [eval_json(run, model, seed) for run, model, seed in lavit_runs() + dense_runs()]


def all_models_used():
    used = set(T3["in1k"]["models"]) | set(T3["in21k"]["models"]) | set(LAVIT["models"])
    used |= set(config["tables"]["table4"]["models"]) | set(config["tables"]["table5"]["models"])
    unknown = sorted(used - set(config["models"]))
    if unknown:
        raise ValueError(f"tables name models {unknown} that are not under 'models' in the config")
    return used


all_models_used()


def training_plan():
    """Every training job the configured tables need, as data for the cost estimate."""
    jobs = {}

    def add(run, stage, model, res, seed):
        recipe = config["recipes"][STAGES[stage]["recipe"]]
        job = f"{run}/{model}/seed{seed}"
        jobs[job] = dict(
            job=job, stage=stage, model=model, seed=seed, arch=config["models"][model]["arch"],
            args=config["models"][model].get("args", {}), img_size=pixels(res), resolution=res,
            dataset=STAGES[stage]["dataset"], recipe=recipe_file(stage), overrides=recipe.get("set", {}),
            benchmark=f"{LOGS}/benchmarks/runs/{job}.tsv")
        return jobs[job]

    for run, model, half, seed in table3_runs():
        res = int(run.rsplit("_", 1)[1])
        if half == "a":
            add("in1k_224", "pretrain_in1k", model, 224, seed)
            if res == 384:
                add(run, "finetune_384", model, 384, seed)
        else:
            # its images: resized (224 squish, the processed release's) or full size; cost's loader figure follows
            add("in21k_pretrain", "pretrain_in21k", model, 224, seed)["input_form"] = (
                "full" if IN21K_FORM == "full" else "resized")
            add(run, "finetune_in21k", model, res, seed)
    for run, model, _, seed in table3_official_runs():     # DeiT III's own recipes, each chain upstream first
        for job_run, chain in official_jobs(run, model):
            job = add(job_run, chain["stage"], model, int(chain["res"]), seed)
            if job["dataset"] == "imagenet21k":
                job["input_form"] = "full" if IN21K_FORM == "full" else "resized"
    for run, model, seed in table4_runs():
        add("in1k_224", "pretrain_in1k", model, 224, seed)
        add(run, "transfer", model, 224, seed)["dataset"] = run.split("_", 1)[1]
    for run, model, seed in table5_runs():
        add("in1k_224", "pretrain_in1k", model, 224, seed)
        add(run, "segment", model, 512, seed)
    for run, model, seed in lavit_runs():
        add(run, "lavit_in1k", model, 224, seed)["img_size"] = lavit_pixels()
    for run, model, seed in dense_runs():
        add("lavit_224", "lavit_in1k", model, 224, seed)["img_size"] = lavit_pixels()
        stage = f"detect_{run[5:]}" if run.startswith("coco_") else f"segment_{run[7:]}"
        add(run, stage, model, 512, seed)["img_size"] = dense_crop() if run.startswith("ade20k") else 800
    return list(jobs.values())


def cost_cells():
    """The cells the configured tables fill, one per table, half, row and resolution: the model's architecture,
    the training jobs (run/model, one seed) its value needs, upstream included, and its seeds. `cost` pairs them
    into the papers' claimed gains and prices the seeds each claim needs."""
    cells = {}

    def add(table, half, model, res, jobs, seed, **extra):
        cell = cells.setdefault((table, half, model, res, extra.get("column")), dict(
            table=table, half=half, row=model, resolution=res, arch=config["models"][model]["arch"],
            jobs=[f"{run}/{model}" for run in jobs], seeds=[], **extra))
        cell["seeds"].append(seed)

    for run, model, half, seed, *_ in table3_runs():
        res = int(run.rsplit("_", 1)[1])
        first = "in1k_224" if half == "a" else "in21k_pretrain"
        add("table3", half, model, res, list(dict.fromkeys([first, run])), seed)   # in1k_224 alone at 224
    for run, model, seed, *_ in table4_runs():
        add("table4", "", model, 224, ["in1k_224", run], seed, column=run.split("_", 1)[1])
    for run, model, seed, *_ in table5_runs():
        add("table5", "", model, 512, ["in1k_224", run], seed)
    for run, model, seed, *_ in lavit_runs():
        add("lavit", "", model, 224, [run], seed)
    for run, model, seed, *_ in dense_runs():
        add("lavit", run, model, None, ["lavit_224", run], seed)
    return list(cells.values())


# -- helpers of the data, evaluate and aggregate rules ------------------------------------


def in21k_source():
    """The demo tree (after generation) or the listing/tree the config points at."""
    if config["data"]["generate_demo"]:
        return [str(DEMO_MARKER)]
    listing = config["data"]["imagenet21k_listing"]
    return [listing] if listing else []


def in21k_source_args():
    root = Path(config["data"]["imagenet21k"])
    root = root if root.is_absolute() else DATA_ROOT / root
    listing = config["data"]["imagenet21k_listing"]
    return f"--root {shlex.quote(str(root))}" + (f" --listing {shlex.quote(listing)}" if listing else "")


def in21k_p_args():
    """`editrepro in21k-p`'s arguments: data.imagenet21k_p (under data.root unless absolute) and its count check."""
    root = Path(config["data"]["imagenet21k_p"] or ".")
    root = root if root.is_absolute() else DATA_ROOT / root
    any_counts = " --any-counts" if config["data"]["imagenet21k_p_counts"] == "any" else ""
    return f"--root {shlex.quote(str(root))}{any_counts}"


def in21k_benchmarks():
    """Benchmark files of the jobs that make the ImageNet-21k manifests pretraining reads (IN21K_FORM)."""
    if IN21K_FORM == "processed":
        return [f"{LOGS}/benchmarks/data/in21k_p.tsv"]
    files = [f"{LOGS}/benchmarks/data/clean_in21k.tsv"]
    return files + ([f"{LOGS}/benchmarks/data/resize_in21k.tsv"] if IN21K_FORM == "resized" else [])


def config_json(stats=False, recipes=False):
    """What a report-writing job reads of the config; ``stats``: also the seed-noise prior (the report rules only,
    so that changing it re-runs no other job); ``recipes``: also the recipes and compute.amp (reports/report.md's
    recipe section only, likewise)."""
    out = {"name": NAME, "comparable_to_paper": config["comparable_to_paper"], "description": config["description"]}
    if stats:
        out["stats"] = config["stats"]
    if recipes:     # the report's "Recipes against their references": each recipe's preset and set, the precision
        out["recipes"], out["compute"] = config["recipes"], {"amp": config["compute"]["amp"]}
    return shlex.quote(json.dumps(out))


def bench(kind, run, model, seed):
    """A job's Snakemake benchmark file (kind: runs = training, eval = evaluation)."""
    return f"{LOGS}/benchmarks/{kind}/{run}/{model}/seed{seed}.tsv"


def table4_benchmarks():
    """Benchmark files of Table 4's jobs: the transfer runs, their evaluations, the pretraining they start from."""
    runs = table4_runs()
    files = [bench(kind, run, model, seed) for run, model, seed in runs for kind in ("runs", "eval")]
    files += [bench("runs", "in1k_224", model, seed) for _, model, seed in runs]
    if config["data"]["generate_demo"] and runs:
        files.append(f"{LOGS}/benchmarks/data/demo_data.tsv")
    return sorted(set(files))


def table5_benchmarks():
    """Benchmark files of Table 5's jobs: Segmenter runs, their evaluations, the pretraining they start from."""
    runs = table5_runs()
    files = [bench(kind, run, model, seed) for run, model, seed in runs for kind in ("runs", "eval")]
    files += [bench("runs", "in1k_224", model, seed) for _, model, seed in runs]
    if config["data"]["generate_demo"] and runs:
        files.append(f"{LOGS}/benchmarks/data/demo_data.tsv")
    return sorted(set(files))


def table3_benchmarks():
    """Benchmark files of every job Table 3 depends on: data, training, evaluation."""
    runs = table3_runs()
    files = [bench("eval", run, model, seed) for run, model, _, seed in runs]
    files += [bench("runs", run, model, seed) for run, model, _, seed in runs]
    files += [bench("runs", "in1k_224", model, seed) for run, model, _, seed in runs if run.startswith("in1k_384")]
    in21k = [(model, seed) for run, model, _, seed in runs if run.startswith("in21k_")]
    files += [bench("runs", "in21k_pretrain", model, seed) for model, seed in in21k]
    official = table3_official_runs()     # DeiT III's own recipes: each cell's evaluation and its training chain
    files += [bench("eval", run, model, seed) for run, model, _, seed in official]
    files += [bench("runs", job_run, model, seed) for run, model, _, seed in official
              for job_run, _ in official_jobs(run, model)]
    if in21k or any(run.startswith("in21k_") for run, *_ in official):
        files += in21k_benchmarks()
    if config["data"]["generate_demo"] and runs:
        files.append(f"{LOGS}/benchmarks/data/demo_data.tsv")
    return sorted(set(files))


def attention_pair():
    """(run, EDIT model, DeiT III model, seed) for the attention figures: the first of each family Table 3
    trains, on the first seed of that half."""
    for run, _, half, _ in table3_runs():
        if run not in ("in1k_224", "in21k_224"):
            continue
        models = [m for r, m, _, _ in table3_runs() if r == run]
        edit = next((m for m in models if config["models"][m]["arch"].startswith("edit_")), None)
        deit3 = next((m for m in models if config["models"][m]["arch"].startswith("deit3")), None)
        if edit and deit3:
            return run, edit, deit3, seeds_of("table3", "in1k" if half == "a" else "in21k")[0]
    return None


FIGURES_T3 = ["fig1_attention_sink.png", "fig4_top1_vs_flops.png", "table3_paired_gains.png",
              "fig5_attention_maps.png", "table3_training_curves.png"] if attention_pair() else []


def table4_evals():
    return [eval_json(run, model, seed) for run, model, seed in table4_runs()]


def table5_evals():
    return [eval_json(run, model, seed) for run, model, seed in table5_runs()]


def lavit_benchmarks():
    """Benchmark files of the LaViT table's jobs: its trainings and evaluations, ImageNet-1k and dense."""
    runs = lavit_runs() + dense_runs()
    files = [bench(kind, run, model, seed) for run, model, seed in runs for kind in ("runs", "eval")]
    if config["data"]["generate_demo"] and runs:
        files.append(f"{LOGS}/benchmarks/data/demo_data.tsv")
    return sorted(set(files))


# -- what each table is made of (one aggregate_table and one report_table serve them all) --
TABLES = {
    "table3": dict(evals=table3_evals, benchmarks=table3_benchmarks),
    "table4": dict(evals=table4_evals, benchmarks=table4_benchmarks),
    "table5": dict(evals=table5_evals, benchmarks=table5_benchmarks),
    "lavit": dict(evals=lavit_evals, benchmarks=lavit_benchmarks),
}


def table_evals(wildcards):
    return TABLES[wildcards.table]["evals"]()


def table_benchmarks(wildcards):
    # read if present, not inputs: deleting logs/ must not re-run jobs
    return " ".join(TABLES[wildcards.table]["benchmarks"]())


def saturation_models():
    """(label, run folder, model, seed) of the attention-saturation figure: the first LaViT and PVTv2 of LaViT's
    table (its first seed) and, when Table 3 trains them, the EDIT and DeiT III of its attention figures."""
    def arch(m):
        return config["models"][m]["arch"]

    chosen = []
    for family, prefix in (("LaViT", "lavit_"), ("PVTv2", "pvt_v2")):
        model = next((m for _, m, _ in lavit_runs() if arch(m).startswith(prefix)), None)
        if model:
            chosen.append((family, "lavit_224", model, seeds_of("lavit")[0]))
    if chosen and attention_pair():
        run, edit, deit3, seed = attention_pair()
        chosen = [("DeiT III", run, deit3, seed), ("EDIT", run, edit, seed)] + chosen
    return chosen


SATURATION_FIGURE = "reports/figures/lavit_attention_saturation.png"


def report_inputs(wildcards):
    """A table page's inputs: its cells and jobs, plus Table 1's counts (Table 3) or its figure (LaViT)."""
    inputs = dict(cells=f"{RESULTS}/{wildcards.table}.parquet", jobs=f"{RESULTS}/{wildcards.table}_jobs.parquet")
    if wildcards.table == "table3":
        inputs["table1"] = "results/table1.parquet"
    if wildcards.table == "lavit" and saturation_models():
        inputs["figures"] = SATURATION_FIGURE
    return inputs


def report_extra_args(wildcards, input):
    args = f"--table1 {input.table1}" if "table1" in input.keys() else ""
    return args + (f" --figures {input.figures}" if "figures" in input.keys() else "")


# -- the one `evaluate` rule: {RUNS}/{run}/{model}/model.pth -> {EVALS}/{run}/{model}.json -------------
def imagenet1k_eval_tags(run, model, seed):
    stage, res = run.rsplit("_", 1)
    if stage == "lavit":
        return tags(table="lavit", row=model, resolution=res, stage=run, config=NAME, seed=seed)
    if stage in ("in1k_official", "in21k_official"):   # DeiT III's own recipes: a row of their own
        return tags(table="table3", half="a" if stage == "in1k_official" else "b", row=official_row(model),
                    resolution=res, stage=run, baseline=OFFICIAL, config=NAME, seed=seed)
    half = {"in1k": "a", "in21k": "b"}[stage]
    return tags(table="table3", half=half, row=model, resolution=res, stage=run, config=NAME, seed=seed)


# Each kind of run folder the tables evaluate: its run names (a regex), the tags of the cell its JSON fills
# (run, model, seed -> --tag flags), the dataset it is scored on (run -> name), whether the job waits for that data
# (`waits`: its data_ready among the inputs; Tables 4 and 5 have it through their training job only) and
# whether it names dataset and root to `editrepro evaluate` (`names`; otherwise the checkpoint's own, the
# training job's). A new table's runs are one more entry here, not a new rule; the Slurm profile's `evaluate`
# runtime goes by the run name's first word.
EVALUATIONS = {
    # Table 3 and LaViT's table: ImageNet-1k val at the run's resolution and its recipe's crop ratio
    # (and the DeiT III official-recipe rows of Table 3, in1k_official_* / in21k_official_*)
    "imagenet1k": dict(runs=r"in1k_(224|384)|in21k_(224|384)|lavit_224|in1k_official_(224|384)"
                            r"|in21k_official_(224|384)", tags=imagenet1k_eval_tags,
                       reads=lambda run: "imagenet1k", waits=True, names=True),
    # Table 4: the transfer dataset's test split (the readers' "val")
    "transfer": dict(runs=rf"transfer_({TRANSFER_DATASETS})",
                     tags=lambda run, model, seed: tags(table="table4", row=model, column=run.split("_", 1)[1],
                                                        resolution=224, stage="transfer", config=NAME, seed=seed),
                     reads=lambda run: run.split("_", 1)[1], waits=False, names=False),
    # Table 5: Segmenter on ADE20K val, single- and multi-scale mIoU
    "segment": dict(runs=r"ade20k",
                    tags=lambda run, model, seed: tags(table="table5", row=model, resolution=512,
                                                       stage="segment", config=NAME, seed=seed),
                    reads=lambda run: "ade20k", waits=False, names=False),
    # LaViT's dense tables: COCOeval box AP of RetinaNet, single- and multi-scale mIoU of Semantic FPN and UperNet
    "dense": dict(runs=rf"coco_({SCHEDULES})|ade20k_({DENSE_HEADS})", tags=dense_tags, reads=dense_dataset,
                  waits=True, names=False),
}
assert all(spec["waits"] for spec in EVALUATIONS.values() if spec["names"])   # eval_args reads the data input
EVAL_RUNS = "|".join(spec["runs"] for spec in EVALUATIONS.values())          # the rule's `run` wildcard


def evaluation(run):
    return next(spec for spec in EVALUATIONS.values() if re.fullmatch(spec["runs"], run))


def eval_tags(wildcards):
    return evaluation(wildcards.run)["tags"](wildcards.run, wildcards.model, wildcards.seed)


def eval_data(wildcards):
    spec = evaluation(wildcards.run)
    return data_ready(spec["reads"](wildcards.run)) if spec["waits"] else []


def eval_args(wildcards, input):
    """What it is scored on: the dataset and its root where the run names them, and the split; ImageNet-1k's
    also ImageNet-V2 and ReaL where the config gives them."""
    spec = evaluation(wildcards.run)
    name = spec["reads"](wildcards.run)
    named = f"--dataset {name} --data-root {data_root_of(name, input)} " if spec["names"] else ""
    extra = imagenet1k_extra_args(input) if spec is EVALUATIONS["imagenet1k"] else ""
    return f"{named}--split val{extra}"


def imagenet1k_extra_args(input):
    """`--imagenet-v2 DIR --real-labels FILE` for data.imagenet_v2 / data.imagenet_real_labels where set (relative to
    data.root, or the demo's); not inputs, like every external dataset: a missing one fails the job naming it."""
    flags = {"imagenet_v2": "--imagenet-v2", "imagenet_real_labels": "--real-labels"}
    return "".join(f" {flag} {data_root_of(key, input)}" for key, flag in flags.items() if config["data"].get(key))


# -- checks before any job is queued: each training job's batch on its devices, the data planned jobs read ------
@functools.cache
def recipe_batch(name):
    return load_recipe(f"config/recipes/{config['recipes'][name]['preset']}.yaml",
                       config["recipes"][name].get("set", {})).batch_size


def check_batch(name, gpus, nodes):
    """recipes.<name>'s batch splits over the job's processes (as `launcher` starts them from its gpu and nodes
    resources) with compute.per_device_batch, by the rule the job itself applies (editrepro.recipes.batch_plan);
    if not, planning fails naming the recipe, its batch, per_device_batch, the devices and the values that would work."""
    world = nodes * (gpus // nodes) if nodes > 1 else max(gpus, 1)
    per_device, batch = config["compute"]["per_device_batch"], recipe_batch(name)
    try:
        batch_plan(batch, per_device, world)
    except ConfigError as e:
        on = f"gpu={gpus}" + (f", nodes={nodes}" if nodes > 1 else "")
        raise ValueError(f"recipes.{name} (batch_size {batch}) cannot run on the {world} device(s) of this job "
                         f"(resources {on}) with compute.per_device_batch {per_device or 'null'}: {e}. Change "
                         f"compute.per_device_batch, the rule's gpu (the profile's set-resources) or the recipe's "
                         f"batch_size (recipes.{name}.set)") from None


def data_path(key):
    """Where the config's data.<key> is: absolute as given, relative under data.root."""
    path = Path(config["data"][key])
    return str(path if path.is_absolute() else DATA_ROOT / path)


def job_reads(rule_name, wildcards):
    """{config key: path} of what a job of `rule_name` reads and no job makes, external datasets: not the demo's, not
    the ImageNet-21k manifests (the clean_in21k / resize_in21k / in21k_p jobs read its release)."""
    if config["data"]["generate_demo"]:
        return {}
    if rule_name in ("clean_in21k", "resize_in21k"):
        return {"data.imagenet21k": data_path("imagenet21k")}
    if rule_name == "in21k_p":
        return {"data.imagenet21k_p": data_path("imagenet21k_p")}
    if rule_name == "attention_model" and ATTENTION.get("images"):
        return {"attention.images": ATTENTION["images"]}
    names = {"pretrain_in1k": ["imagenet1k"], "finetune_384": ["imagenet1k"], "finetune_in21k": ["imagenet1k"],
             "train_lavit": ["imagenet1k"], "figures_table3": ["imagenet1k"], "figures_lavit": ["imagenet1k"],
             "calibrate_model": ["imagenet1k"], "attention_model": ["imagenet1k"], "segment": ["ade20k"],
             "segment_dense": ["ade20k"], "detect": ["coco"]}.get(rule_name, [])
    if rule_name == "transfer":
        names = [wildcards.dataset]
    elif rule_name == "train_deit3_official":
        names = [official_params(wildcards)["dataset"]]
    elif rule_name == "evaluate":
        spec = evaluation(wildcards.run)
        names = [spec["reads"](wildcards.run)]
        if spec is EVALUATIONS["imagenet1k"]:
            names += [key for key in ("imagenet_v2", "imagenet_real_labels") if config["data"].get(key)]
    return {f"data.{name}": data_path(name) for name in names if not data_ready(name)}


def missing_data(jobs):
    """{config key: (path, {rule: jobs})} of the paths the given Snakemake jobs read that do not exist."""
    missing = {}
    for job in jobs:
        for key, path in job_reads(job.rule.name, job.wildcards).items():
            if not Path(path).exists():
                rules = missing.setdefault(key, (path, {}))[1]
                rules[job.rule.name] = rules.get(job.rule.name, 0) + 1
    return missing


def missing_data_text(missing):
    lines = [f"  {key}: {path} (read by {', '.join(f'{n} {rule_name}' for rule_name, n in sorted(by_rule.items()))} "
             f"job{'s' if sum(by_rule.values()) > 1 else ''})" for key, (path, by_rule) in sorted(missing.items())]
    return (f"{len(missing)} data path(s) of config '{NAME}' that planned jobs read do not exist (relative paths are "
            f"under data.root, {DATA_ROOT}):\n" + "\n".join(lines))


def check_data_paths():
    """Before any job is submitted (the Snakefile's onstart, real runs only): refuse to start when a job that will
    run reads a data path that does not exist, naming each config key and path."""
    missing = missing_data(workflow.dag.needrun_jobs())
    if missing:
        raise ValueError(f"{missing_data_text(missing)}\nNo job was started: fill in these paths in the config "
                         f"(a dry run, snakemake -n, lists them as a warning)")


def warn_missing_data_after_dry_run():
    """A dry run plans before the data is there: the missing paths of its planned jobs are one warning, printed
    when the dry run ends (Snakemake has no hook after a dry run's DAG; onstart runs in real runs only)."""
    import atexit
    import sys

    def warn():
        dag = getattr(workflow, "dag", None)
        if dag is None:
            return
        try:
            missing = missing_data(dag.needrun_jobs(exclude_finished=False))
        except Exception:   # noqa: BLE001  (a warning must not turn a finished dry run into a traceback)
            return
        if missing:
            print(f"\nWarning: {missing_data_text(missing)}\nA real run refuses to start until they exist.",
                  file=sys.stderr)

    if workflow.output_settings is not None and workflow.output_settings.dryrun:
        atexit.register(warn)


warn_missing_data_after_dry_run()
