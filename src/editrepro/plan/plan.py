"""A configuration's plan: the training and evaluation jobs its tables need, each as a structured identity (run
folder, model, seed, with its stage, resolution and the run it starts from), from the validated workflow config.

Torch-free and pandas-free: ``workflow/rules/common.smk`` builds one ``Plan`` as Snakemake parses the workflow,
its small lookups read it, and the table modules (``editrepro.tables``) list their cells over it.
"""
import json
import re
import shlex
from pathlib import Path
from typing import Any, Dict, List, Mapping

from ..baselines import BASELINES, OFFICIAL, OFFICIAL_STAGES, arch_size, official_chain
from .layout import Layout
from .stages import STAGES, TRAIN_RULE, TRAIN_RULES

__all__ = ["Plan", "TrainJob", "tag_flags", "LAVIT_ARCHS", "LAVIT_STRIDE"]

# The timm names of LaViT (models/lavit.py registers them; tests/workflow checks this list against it).
LAVIT_ARCHS = [f"lavit_{size}_{res}" for size in ("tiny", "small", "base") for res in (224, 384)]
LAVIT_STRIDE = 32   # the last stage of LaViT's (and PVTv2's) pyramid


def tag_flags(**kv) -> str:
    """``--tag key=value`` flags, in the order given: the MLflow tags of a run, and the cell an evaluation fills."""
    return " ".join(f"--tag {shlex.quote(f'{k}={v}')}" for k, v in kv.items())


class TrainJob(dict):
    """One training job: stage, run, model, seed, res (the resolution key), img_size, dataset, init (the run
    folder it starts from, or None), experiment and tags (its MLflow tags, in order). A dict: the cost estimate
    and the rules read it by key."""


class Plan:
    """What the config asks for, in structured form; ``config`` is the validated workflow config."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config
        self.name = config["name"]
        self.layout = Layout(self.name)
        self.data_root = Path(config["data"]["root"])
        # ImageNet-21K-P's form, and the manifests pretraining reads: the processed release as distributed
        # (data.imagenet21k_p, indexed by rule in21k_p), or the raw release cleaned (rule clean_in21k) then resized as
        # the reference does (rule resize_in21k; in21k_cleaning.resize none: the full-size images). Sizes as
        # editrepro.data.imagenet21k.DEFAULT_SIZE.
        cleaning = config["in21k_cleaning"]
        self.in21k_resize = cleaning["resize"]
        self.in21k_resize_size = cleaning["resize_size"] or {"squish": 224, "short-side": 256}.get(self.in21k_resize)
        self.in21k_form = ("processed" if config["data"]["imagenet21k_p"] else
                           "full" if self.in21k_resize == "none" else "resized")
        data = f"{self.layout.results}/data"
        self.in21k_dirs = dict(full=f"{data}/imagenet21k", processed=f"{data}/imagenet21k_p",
                               resized=f"{data}/imagenet21k_{self.in21k_resize}{self.in21k_resize_size}")
        self.in21k_read = self.in21k_dirs[self.in21k_form]

    # -- data --------------------------------------------------------------------------------------------------
    @property
    def demo_marker(self) -> Path:
        return self.data_root / "DONE"

    def data_path(self, key: str) -> str:
        """Where the config's data.<key> is: absolute as given, relative under data.root."""
        path = Path(self.config["data"][key])
        return str(path if path.is_absolute() else self.data_root / path)

    def dataset_root(self, name: str) -> str:
        """A dataset's root: the ImageNet-21k manifests' folder, else data.<name> (relative: under data.root)."""
        return self.in21k_read if name == "imagenet21k" else self.data_path(name)

    def data_ready(self, name: str) -> List[str]:
        """What the workflow makes before a dataset can be read: the demo data, the 21k manifests.

        External datasets are not inputs: a dry run plans the whole matrix on a machine without
        them, and a job whose data is missing fails with the layout it expected.
        """
        if name == "imagenet21k":
            return [f"{self.in21k_read}/train.parquet"]
        if self.config["data"]["generate_demo"]:  # every dataset, "transfer" ones included, comes from the generator
            return [str(self.demo_marker)]
        return []

    def in21k_source(self) -> List[str]:
        """What the ImageNet-21k cleaning reads that a rule makes or a file gives: the demo tree (after
        generation), else the listing the config points at."""
        if self.config["data"]["generate_demo"]:
            return [str(self.demo_marker)]
        listing = self.config["data"]["imagenet21k_listing"]
        return [listing] if listing else []

    def in21k_source_args(self) -> str:
        """`editrepro clean-in21k` / `resize-in21k`'s source: data.imagenet21k and its listing."""
        listing = self.config["data"]["imagenet21k_listing"]
        return (f"--root {shlex.quote(self.data_path('imagenet21k'))}"
                + (f" --listing {shlex.quote(listing)}" if listing else ""))

    def in21k_p_args(self) -> str:
        """`editrepro in21k-p`'s arguments: data.imagenet21k_p (under data.root unless absolute) and its count check."""
        root = Path(self.config["data"]["imagenet21k_p"] or ".")
        root = root if root.is_absolute() else self.data_root / root
        any_counts = " --any-counts" if self.config["data"]["imagenet21k_p_counts"] == "any" else ""
        return f"--root {shlex.quote(str(root))}{any_counts}"

    def in21k_jobs(self) -> List[str]:
        """The data jobs that make the ImageNet-21k manifests pretraining reads (their benchmark names)."""
        if self.in21k_form == "processed":
            return ["in21k_p"]
        return ["clean_in21k"] + (["resize_in21k"] if self.in21k_form == "resized" else [])

    # -- the config's parts --------------------------------------------------------------------------------------
    def table_spec(self, table: str) -> Dict[str, Any]:
        return self.config["tables"].get(table) or {}

    def seeds_of(self, *keys: str) -> List[int]:
        """The training seeds of a table (``tables.<table>[.<part>].seeds``, the most specific given), else
        ``[compute.seed]``. Each seed's runs are their own jobs, under ``.../<model>/seed<N>/``."""
        spec, found, where, named = self.config["tables"], None, "tables", ""
        for key in keys:
            spec, where = spec[key], f"{where}.{key}"
            if spec.get("seeds") is not None:
                found, named = spec["seeds"], f"{where}.seeds"
        if found is None:
            return [int(self.config["compute"]["seed"])]
        if len(set(found)) != len(found):
            raise ValueError(f"{named}: {found} lists a seed twice; each seed is one run of every cell")
        return [int(x) for x in found]

    def model(self, label: str) -> Dict[str, Any]:
        """``models.<label>``: {arch, args}."""
        if label in self.config["models"]:
            return self.config["models"][label]
        raise ValueError(f"model {label!r} is not under 'models' in the config; known: {', '.join(self.config['models'])}")

    def arch(self, label: str) -> str:
        return self.model(label)["arch"]

    def pixels(self, res) -> int:
        return self.config["resolutions"][str(res)]

    def recipe_name(self, stage: str) -> str:
        return STAGES[stage]["recipe"]

    def recipe_ref(self, stage: str) -> Dict[str, Any]:
        """``recipes.<name>`` of a stage ({preset, set}); DeiT III's own recipes default to the presets of their
        names (config/recipes/deit3_official_*), as the workflow adds them when it plans them."""
        name = self.recipe_name(stage)
        if name in self.config["recipes"]:
            return self.config["recipes"][name]
        if stage in OFFICIAL_STAGES:
            return {"preset": name, "set": {}}
        raise ValueError(f"recipes.{name} is missing (the {stage} jobs use it)")

    def recipe_file(self, stage: str) -> str:
        return f"config/recipes/{self.recipe_ref(stage)['preset']}.yaml"

    def recipe_sets(self, stage: str) -> Dict[str, Any]:
        return self.recipe_ref(stage).get("set", {})

    # -- Table 3's DeiT III baselines (editrepro.baselines; docs/reference.md) ------------------------------------
    def baselines_of(self, half: str) -> List[str]:
        """`tables.table3.<half>.baselines`, else `tables.table3.baselines`, else [paper]. `paper` trains every model
        of the half by the EDIT paper's recipes (as always); `deit3_official` adds each DeiT3 model by DeiT III's own."""
        t3 = self.table_spec("table3")
        for where, spec in ((f"tables.table3.{half}.baselines", t3.get(half, {}).get("baselines")),
                            ("tables.table3.baselines", t3.get("baselines"))):
            if spec is not None:
                if "paper" not in spec:
                    raise ValueError(f"{where}: {spec} leaves out 'paper', the EDIT paper's recipes that train every "
                                     f"model of the half; list it with the others (allowed: {', '.join(BASELINES)})")
                return list(spec)
        return ["paper"]

    def official_models(self, half: str) -> List[str]:
        """The half's DeiT3 models (arch deit3*) that DeiT III's own recipes also train, where its baselines say so."""
        if OFFICIAL not in self.baselines_of(half):
            return []
        return [m for m in self.table_spec("table3")[half]["models"]
                if self.config["models"].get(m, {}).get("arch", "").startswith("deit3")]

    def official_job(self, run: str, model: str) -> dict:
        """{stage, res, init}: how DeiT III's recipes train run folder `run` of `model` (editrepro.baselines)."""
        arch = self.arch(model)
        chain = official_chain(run, arch_size(arch))
        if chain is None:
            raise ValueError(f"tables.table3.baselines: DeiT III's README gives no recipe that trains {run} for "
                             f"{model} ({arch}); deit3_official covers tiny (Small's recipe), small and base DeiT3 "
                             "models")
        return chain

    def official_jobs(self, run: str, model: str) -> List[tuple]:
        """Every training job of an official-recipe cell, upstream first: [(run folder, {stage, res, init}), ...]."""
        jobs = []
        while run:
            chain = self.official_job(run, model)
            jobs.insert(0, (run, chain))
            run = chain["init"]
        return jobs

    # -- LaViT's table --------------------------------------------------------------------------------------------
    def lavit_pixels(self) -> int:
        """What LaViT's table trains at: its own `pixels`, else the 224 stand-in; a multiple of the pyramid's stride."""
        px = self.table_spec("lavit").get("pixels") or self.pixels(224)
        if px % LAVIT_STRIDE:
            lower, upper = max(LAVIT_STRIDE, px // LAVIT_STRIDE * LAVIT_STRIDE), (px // LAVIT_STRIDE + 1) * LAVIT_STRIDE
            raise ValueError(f"tables.lavit trains at {px} px (resolutions['224'], tables.lavit.pixels unset), which "
                             f"LaViT's pyramid cannot divide by its stride {LAVIT_STRIDE}: set tables.lavit.pixels to "
                             f"{lower} or {upper}")
        return px

    def dense_crop(self) -> int:
        """The ADE20K crop of LaViT's segmentation jobs: its own `pixels`, else the 512 stand-in."""
        return self.table_spec("lavit")["dense"]["segmentation"].get("pixels") or self.pixels(512)

    def dense_stages(self) -> List[str]:
        dense = self.table_spec("lavit")["dense"]
        det, seg = dense["detection"], dense["segmentation"]
        return ([f"detect_{s}" for s in det["schedules"]] if det["models"] else []) + \
            ([f"segment_{h}" for h in seg["heads"]] if seg["models"] else [])

    def check_lavit(self) -> None:
        """LaViT's table, checked once before any job: a resolution the pyramid divides, LaViT names it builds,
        dense jobs on pyramid backbones the table trains (each starts from that checkpoint)."""
        spec, models = self.table_spec("lavit"), self.config["models"]
        if spec["models"]:
            self.lavit_pixels()
        for m in spec["models"]:
            arch = models.get(m, {}).get("arch", "")
            if arch.startswith("lavit_") and arch not in LAVIT_ARCHS:
                raise ValueError(f"models.{m}.arch: {arch!r} is not a LaViT this package builds; "
                                 f"use one of {', '.join(LAVIT_ARCHS)} (sizes via args, e.g. depths)")
        for part in ("detection", "segmentation"):
            for m in spec["dense"][part]["models"]:
                if m not in spec["models"]:
                    raise ValueError(f"tables.lavit.dense.{part}.models: {m!r} is not in tables.lavit.models; a "
                                     f"dense job starts from that table's ImageNet-1k checkpoint of the backbone")
                arch = models[m]["arch"]
                if not arch.startswith(("lavit_", "pvt_v2_")):
                    raise ValueError(f"tables.lavit.dense.{part}.models: {m!r} is {arch!r}; dense prediction "
                                     f"takes a pyramid backbone (lavit_*, pvt_v2_*)")
        if spec["dense"]["segmentation"]["models"] and self.dense_crop() % LAVIT_STRIDE:
            raise ValueError(f"tables.lavit.dense.segmentation crops at {self.dense_crop()} px, not a multiple of "
                             f"{LAVIT_STRIDE}: set tables.lavit.dense.segmentation.pixels")
        for stage in self.dense_stages():
            if STAGES[stage]["recipe"] not in self.config["recipes"]:
                raise ValueError(f"recipes.{STAGES[stage]['recipe']} is missing (the {stage} jobs use it)")

    # -- the ablation tables ---------------------------------------------------------------------------------------
    def ablation(self, table: str, variant: str) -> Dict[str, Any]:
        """A variant of ablation table `table`: {base, arch, args, set, stage}; args are the full model's with the
        variant's on top."""
        spec = self.table_spec(table)
        variants = spec.get("variants") or {}
        if variant not in variants:
            raise ValueError(f"tables.{table}.variants has no {variant!r}; known: {', '.join(variants) or 'none'}")
        base = self.model(spec["base"])
        change = variants[variant] or {}
        stage = ABLATION_STAGES[table]
        return dict(base=spec["base"], arch=base["arch"], args={**base.get("args", {}), **change.get("args", {})},
                    set=change.get("set", {}), stage=stage["stage"])

    def check_ablations(self, label_pattern: str) -> None:
        """Each ablation table's full model is a model of the config of the family its stage trains, and each
        variant is a folder name that changes something (model args or recipe settings)."""
        for table, family in (("edit_ablation", "edit_"), ("lavit_ablation", "lavit_")):
            spec = self.table_spec(table)
            if not spec.get("base"):
                continue
            arch = self.config["models"].get(spec["base"], {}).get("arch", "")
            if not arch.startswith(family):
                raise ValueError(f"tables.{table}.base: {spec['base']!r} ({arch or 'not under models'}) is not a "
                                 f"{family}* model of the config")
            for variant, change in (spec.get("variants") or {}).items():
                if not re.fullmatch(label_pattern, variant):
                    raise ValueError(f"tables.{table}.variants: {variant!r} is no folder name ({label_pattern})")
                if not (change or {}).get("args") and not (change or {}).get("set"):
                    raise ValueError(f"tables.{table}.variants.{variant}: give args: or set: (what it changes)")

    # -- one training job, from its rule and wildcards ---------------------------------------------------------------
    def train_job(self, rule: str, wildcards: Mapping[str, Any]) -> TrainJob:
        """Everything a job of training rule `rule` is, from its wildcards (model, seed and the rule's own)."""
        spec = TRAIN_RULE[rule]
        wc = dict(wildcards.items())   # Snakemake's Wildcards or a dict
        model, seed = wc["model"], wc["seed"]
        run = spec.run.format(**wc)
        stage, init, res = spec.stage.format(**wc) if spec.stage else None, spec.init, spec.res.format(**wc)
        pixels = spec.pixels
        model_spec = self.config["models"].get(model, {})
        arch, args, sets = model_spec.get("arch"), model_spec.get("args", {}), {}
        if rule == "train_deit3_official":
            chain = self.official_job(run, model)
            stage, init, res = chain["stage"], chain["init"], chain["res"]
            tags = dict(table="table3", row=model, stage=stage, resolution=res, baseline=OFFICIAL)
        elif rule == "train_ablation":      # its full model's stage and size, with the variant's change
            variant = self.ablation(run, model)
            stage, pixels = variant["stage"], "lavit" if variant["stage"] == "lavit_in1k" else "res"
            arch, args, sets = variant["arch"], variant["args"], variant["set"]
            tags = dict(table=run, row=model, stage=stage, resolution=res, ablates=variant["base"])
        elif rule == "transfer":
            tags = dict(table="table4", row=model, column=wc["dataset"], stage="transfer", resolution=res)
        elif rule in ("detect", "segment_dense"):
            tags = self.dense_tags(run, model)
        else:
            tags = dict(table=spec.experiment, row=model, stage=stage, resolution=res)
        if arch is None:
            self.model(model)      # names the models the config has
        img_size = {"lavit": self.lavit_pixels, "dense_crop": self.dense_crop}.get(pixels, lambda: self.pixels(res))()
        dataset = wc["dataset"] if rule == "transfer" else STAGES[stage]["dataset"]
        sets = {**self.recipe_sets(stage), **sets}
        tags = {**tags, "config": self.name, "seed": seed}   # dense tags have config already, before resolution
        return TrainJob(rule=rule, stage=stage, run=run, model=model, seed=seed, res=res, img_size=img_size,
                        dataset=dataset, init=init, experiment=spec.experiment.format(**wc), tags=tags,
                        log=self.layout.train_log(spec.log.format(**wc), model, seed), arch=arch, args=args,
                        sets=sets)

    def job_of_run(self, run: str, model: str, seed) -> TrainJob:
        """The training job that makes run folder `run` of `model` at `seed`."""
        for spec in TRAIN_RULES:
            found = re.fullmatch(spec.run_regex, run)
            if found:
                return self.train_job(spec.name, dict(found.groupdict(), model=model, seed=seed))
        raise ValueError(f"no training rule makes run folder {run!r}")

    def chain(self, run: str, model: str, seed) -> List[TrainJob]:
        """The training jobs of `run` (of `model` at `seed`), upstream first: each starts from the one before."""
        jobs = [self.job_of_run(run, model, seed)]
        while jobs[0]["init"]:
            jobs.insert(0, self.job_of_run(jobs[0]["init"], model, seed))
        return jobs

    def dense_tags(self, run: str, model: str) -> Dict[str, Any]:
        """The tags of a dense-prediction job of LaViT's table (its training and its evaluation); seed and config
        are added by the caller."""
        return dict(table="lavit", half=run, row=model, stage=run, config=self.name,
                    resolution=self.dense_crop() if run.startswith("ade20k") else 800)


# where each ablation table's full model is trained, and so its variants: the stage and its run folder
ABLATION_STAGES = {
    "edit_ablation": dict(stage="pretrain_in1k", run="in1k_224"),
    "lavit_ablation": dict(stage="lavit_in1k", run="lavit_224"),
}


def json_flags(flag: str, values: Mapping[str, Any]) -> str:
    """``--set k=v`` / ``--model-arg k=v`` flags, sorted by key, values as JSON."""
    return " ".join(f"{flag} {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in sorted(values.items()))

