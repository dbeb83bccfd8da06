# Config validation and the lookups the rules read. What the tables need (their cells, each cell's training jobs,
# run folders, paths and tags) is planned by `editrepro.plan` and the table modules of `editrepro.tables`, which the
# collectors read too; this file checks the config and turns that plan into the rules' inputs and flags.
# Pure Python and YAML: nothing here imports torch, so planning the DAG stays fast.
import functools
import json
import re
import shlex
from pathlib import Path

from snakemake.utils import validate

from editrepro.recipes import ConfigError, batch_plan, load_recipe   # torch-free: planning stays fast
from editrepro.schema import load_yaml, yaml12_numbers   # torch-free
from editrepro.plan import STAGES, TRAIN_RULES, Plan, json_flags, tag_flags   # torch-free
from editrepro.tables import TABLES, evaluation_of   # the registered tables: no torch
from editrepro.tables.jobs import (attention_pair as attention_pair_of, benchmarks_of, cells_of, cost_cells,
                                   official_recipes, planned_tables, saturation_models as saturation_models_of,
                                   training_plan)
from editrepro.launch import launch_command, launch_resources   # torch-free


# Numbers as YAML 1.2 reads them, like recipes and --set: Snakemake's loader (YAML 1.1) reads `lr: 2e-3` as a string.
config.update(yaml12_numbers(dict(config)))
validate(config, "../../config/schemas/workflow.schema.yaml")

PLAN = Plan(config)
LAYOUT = PLAN.layout
NAME = config["name"]
RESULTS, RUNS, EVALS, LOGS = LAYOUT.results, LAYOUT.runs, LAYOUT.evals, LAYOUT.logs
DATA_ROOT, DEMO_MARKER = PLAN.data_root, PLAN.demo_marker
# ImageNet-21K-P's form and the folders of its manifests (editrepro.plan.Plan: in21k_form, in21k_dirs)
IN21K_RESIZE, IN21K_RESIZE_SIZE, IN21K_FORM = PLAN.in21k_resize, PLAN.in21k_resize_size, PLAN.in21k_form
IN21K, IN21K_P, IN21K_RESIZED = PLAN.in21k_dirs["full"], PLAN.in21k_dirs["processed"], PLAN.in21k_dirs["resized"]
IN21K_READ = PLAN.in21k_read
MODEL_LABEL = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"

# The software every rule runs with (--software-deployment-method conda builds it from requirements.lock);
# relative to the rule files in workflow/rules/.
ENV = "../envs/editrepro.yaml"

wildcard_constraints:
    model=MODEL_LABEL,
    table="|".join(TABLES),
    seed=r"[0-9]+",


def data_ready(name):
    """What the workflow makes before dataset `name` can be read (the demo data, the 21k manifests): a job's input."""
    return PLAN.data_ready(name)


def data_root_of(name, input):
    """Where a job reads dataset `name`. Data the workflow makes (data_ready) is found from the job's `data`
    input, so the path follows that input wherever the job sees it; external data is where the config says."""
    if not data_ready(name):
        return PLAN.dataset_root(name)
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
    """The job's launch (editrepro.launch.launch_command): `editrepro`, torchrun --standalone over one node's GPUs,
    or, for nodes > 1 or compute.launcher srun, srun with one torchrun agent per node (docs/slurm.md).

    `stage` is a stage name or a function of the wildcards giving one. Evaluated as each job is planned (a dry run
    too), it checks that the stage's recipe batch splits over the job's devices (check_batch): a job that would fail
    when it starts fails the plan instead, and only the jobs of the targets asked for are checked. (A param of the
    resources, which Snakemake leaves out of its params rerun trigger: the check changes no job's params.)"""
    def launch(wildcards, resources):
        gpus = int(getattr(resources, "gpu", 0) or 0)
        nodes = int(getattr(resources, "nodes", 1) or 1)
        command = launch_command(gpus, nodes, config["compute"]["launcher"])   # names gpu / nodes / launcher errors
        check_batch(STAGES[stage(wildcards) if callable(stage) else stage]["recipe"], gpus, nodes)
        return command

    return launch


def own_resource(rulename, key, wildcards, input, attempt, default):
    """The value of resource `key` of this job (the rule's, the profile's set-resources or default-resources)."""
    value = workflow.get_rule(rulename).resources.get(key)
    if value is None:
        return default
    value = value.evaluate(wildcards, input=input, attempt=attempt, rulename=rulename).value
    return default if value is None else value


def slurm_launch():
    """What each training job adds to its resources for the Slurm plugin (editrepro.launch.launch_resources). A job
    that starts its own tasks (nodes > 1, or compute.launcher srun) gets `mpi` (and `tasks`, `tasks_per_gpu` on
    several nodes), so that the plugin's job step runs its srun as it is instead of inside its own `srun -n1`; other
    jobs get none (a resource evaluated to None is left out). From the job's own gpu and nodes resources; the
    training rules' resources end with **slurm_launch()."""
    def resource(key):
        def value(wildcards, input, attempt, rulename):
            gpus = int(own_resource(rulename, "gpu", wildcards, input, attempt, 0) or 0)
            nodes = int(own_resource(rulename, "nodes", wildcards, input, attempt, 1) or 1)
            return launch_resources(gpus, nodes, config["compute"]["launcher"]).get(key)
        return value

    return {key: resource(key) for key in ("mpi", "tasks", "tasks_per_gpu")}


def cluster_resource(key):
    """Partition or account from the config ('' leaves the choice to the cluster)."""
    return config["cluster"][key] or ""


TRAIN_SHELL = (
    "{params.launch} train --recipe {input.recipe} {params.sets} "
    "--model {params.arch} {params.model_args} --img-size {params.img_size} "
    "--dataset {params.dataset} --data-root {params.data_root} {params.init} "
    "--output {params.outdir} {params.compute} --seed {wildcards.seed} "
    "--experiment {params.experiment} --run-name {params.run_name} {params.tags} > {log} 2>&1"
)


# -- the tables' cells and the training jobs they need (editrepro.tables over editrepro.plan) ------------------
def add_official_recipes():
    """DeiT III's own recipes that Table 3's chains use default to the presets of their names
    (config/recipes/deit3_official_*), added to `recipes` only when planned (so a config without deit3_official keeps
    its recipes, and every job, as they were) and checked like the others."""
    names = official_recipes(PLAN)     # checks each chain's resolution too
    for name in names:
        config["recipes"].setdefault(name, {"preset": name, "set": {}})
    if names:
        validate_recipes()


add_official_recipes()


PLAN.check_lavit()
PLAN.check_ablations(MODEL_LABEL)

# the tables this config has, in the report's order (an ablation table where `tables.<name>.base` is set)
PLANNED_TABLES = planned_tables(PLAN)
ABLATION_TABLES = "|".join(name for name in TABLES if name.endswith("_ablation"))   # each page has its figure


def table_cells(table):
    """The cells of a registered table (editrepro.tables): run, model, seed, half, column."""
    return cells_of(PLAN, table)


def all_models_used():
    used = {c.model for table in PLANNED_TABLES for c in table_cells(table)
            if c.run != table}   # an ablation's variants are not models of the config; its full model is
    unknown = sorted(used - set(config["models"]))
    if unknown:
        raise ValueError(f"tables name models {unknown} that are not under 'models' in the config")
    return used


all_models_used()


def table3_runs():
    """(run folder, model, half, seed) of every Table 3 cell by the paper's recipes, once per seed of its half."""
    return [(c.run, c.model, c.half, c.seed) for c in table_cells("table3") if c.priced]


def lavit_runs():
    """(run folder, model, seed) of every ImageNet-1k cell of LaViT's table."""
    return [(c.run, c.model, c.seed) for c in table_cells("lavit") if c.run == "lavit_224"]


def table4_runs():
    return [(c.run, c.model, c.seed) for c in table_cells("table4")]


def table5_runs():
    return [(c.run, c.model, c.seed) for c in table_cells("table5")]


def run_dir(run, model, seed):
    return LAYOUT.run_dir(run, model, seed)


def table_evals(wildcards):
    return [LAYOUT.eval_json(c.run, c.model, c.seed) for c in table_cells(wildcards.table)]


def table_benchmarks(wildcards):
    # read if present, not inputs: deleting logs/ must not re-run jobs
    return " ".join(benchmarks_of(PLAN, wildcards.table))


def attention_pair():
    """(run, EDIT model, DeiT III model, seed) of Table 3's attention figures, or None."""
    return attention_pair_of(PLAN)


FIGURES_T3 = ["fig1_attention_sink.png", "fig4_top1_vs_flops.png", "table3_paired_gains.png",
              "fig5_attention_maps.png", "table3_training_curves.png"] if attention_pair() else []


def saturation_models():
    """(label, run folder, model, seed) of the attention-saturation figure (editrepro.tables.jobs)."""
    return saturation_models_of(PLAN)


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


# -- the training rules (train.smk: one definition over editrepro.plan.TRAIN_RULES) ---------------------------
def train_job(spec, wildcards):
    return PLAN.train_job(spec.name, wildcards)


def train_inputs(spec):
    """A training rule's inputs: its recipe file, the data the workflow makes for it, the checkpoint it starts from."""
    def init(wildcards):
        job = train_job(spec, wildcards)
        return [LAYOUT.weights(job["init"], job["model"], job["seed"])] if job["init"] else []

    return dict(recipe=lambda wildcards: PLAN.recipe_file(train_job(spec, wildcards)["stage"]),
                data=lambda wildcards: data_ready(train_job(spec, wildcards)["dataset"]), init=init)


def train_params(spec):
    """A training rule's params (TRAIN_SHELL's flags), each from the job the plan makes of the wildcards."""
    def job(wildcards):
        return train_job(spec, wildcards)

    return dict(
        launch=launcher(lambda wildcards: job(wildcards)["stage"]),
        sets=lambda wildcards: json_flags("--set", job(wildcards)["sets"]),
        arch=lambda wildcards: job(wildcards)["arch"],
        model_args=lambda wildcards: json_flags("--model-arg", job(wildcards)["args"]),
        img_size=lambda wildcards: job(wildcards)["img_size"],
        dataset=lambda wildcards: job(wildcards)["dataset"],
        data_root=lambda wildcards, input: data_root_of(job(wildcards)["dataset"], input),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}" if job(wildcards)["init"] else "",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment=lambda wildcards: job(wildcards)["experiment"],
        run_name=lambda wildcards: f"{NAME}/{job(wildcards)['run']}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tag_flags(**job(wildcards)["tags"]),
    )


# -- a table's page and the report ------------------------------------------------------------------------------
SATURATION_FIGURE = "reports/figures/lavit_attention_saturation.png"


def report_inputs(wildcards):
    """A table's page inputs: its cells and jobs, plus Table 1's counts (Table 3) or its figure (LaViT's, an
    ablation table's)."""
    inputs = dict(cells=LAYOUT.table(wildcards.table), jobs=LAYOUT.table_jobs(wildcards.table))
    if wildcards.table == "table3":
        inputs["table1"] = "results/table1.parquet"
    if wildcards.table == "lavit" and saturation_models():
        inputs["figures"] = SATURATION_FIGURE
    if re.fullmatch(ABLATION_TABLES, wildcards.table):
        inputs["figures"] = f"reports/figures/{wildcards.table}_deltas.png"
    return inputs


def report_extra_args(wildcards, input):
    args = f"--table1 {input.table1}" if "table1" in input.keys() else ""
    return args + (f" --figures {input.figures}" if "figures" in input.keys() else "")


# -- the one `evaluate` rule: each table's run folders, with the tags of the cells they fill (editrepro.tables) ---
EVAL_RUNS = "|".join(kind.runs for table in TABLES.values() for kind in table.evaluations)   # the `run` wildcard


def evaluation(run):
    kind = evaluation_of(run)
    if kind is None:
        raise ValueError(f"no table evaluates run folder {run!r}")
    return kind


def eval_tags(wildcards):
    return tag_flags(**evaluation(wildcards.run).tags(PLAN, wildcards.run, wildcards.model, wildcards.seed))


def eval_data(wildcards):
    kind = evaluation(wildcards.run)
    return data_ready(kind.reads(wildcards.run)) if kind.waits else []


def eval_args(wildcards, input):
    """What it is scored on: the dataset and its root where the run names them, and the split; ImageNet-1k's
    also ImageNet-V2 and ReaL where the config gives them."""
    kind = evaluation(wildcards.run)
    name = kind.reads(wildcards.run)
    named = f"--dataset {name} --data-root {data_root_of(name, input)} " if kind.names else ""
    extra = imagenet1k_extra_args(input) if kind.names and name == "imagenet1k" else ""
    return f"{named}--split val{extra}"


def imagenet1k_extra_args(input):
    """`--imagenet-v2 DIR --real-labels FILE` for data.imagenet_v2 / data.imagenet_real_labels where set (relative to
    data.root, or the demo's); not inputs, like every external dataset: a missing one fails the job naming it."""
    flags = {"imagenet_v2": "--imagenet-v2", "imagenet_real_labels": "--real-labels"}
    return "".join(f" {flag} {data_root_of(key, input)}" for key, flag in flags.items() if config["data"].get(key))


TRAIN_RULE_NAMES = {spec.name for spec in TRAIN_RULES}


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
    return PLAN.data_path(key)


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
    names = {"figures_table3": ["imagenet1k"], "figures_lavit": ["imagenet1k"], "calibrate_model": ["imagenet1k"],
             "attention_model": ["imagenet1k"]}.get(rule_name, [])
    if rule_name in TRAIN_RULE_NAMES:
        names = [PLAN.train_job(rule_name, wildcards)["dataset"]]
    elif rule_name == "evaluate":
        spec = evaluation(wildcards.run)
        names = [spec.reads(wildcards.run)]
        if spec.names and names[0] == "imagenet1k":
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
