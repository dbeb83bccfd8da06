"""Training configuration: a recipe (paper Table 2) plus what one job trains on.

Torch-free (nothing here imports torch at import time): the workflow's planning
(``workflow/rules/common.smk``) reads recipes and splits batches with it, and every part of the
package that runs or reports a job imports it from here.

A recipe comes from a preset in ``config/recipes/`` with ``key=value`` overrides, is
validated against ``config/schemas/recipe.schema.yaml`` (which holds the defaults) and
becomes a frozen ``Recipe``. Derived values (per-device batch, accumulation steps, the
model's drop-path for its size) are computed by methods and logged, never written back.
"""
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import yaml

from .schema import ConfigError, load_schema, load_yaml, parse_yaml_value, validate, yaml_error_text

__all__ = ["Recipe", "SegRecipe", "DetRecipe", "DataConfig", "TrainConfig", "load_recipe", "recipe_from_dict", "parse_overrides",
           "ConfigError", "batch_plan"]


@dataclass(frozen=True)
class Recipe:
    """A classification recipe (``config/schemas/recipe.schema.yaml``): one column of the paper's Table 2."""
    task: str
    name: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    lr_batch: Optional[int]
    min_lr: float
    warmup_lr: float
    warmup_epochs: int
    sched: str
    sched_step: str
    weight_decay: float
    opt_eps: float
    opt_betas: Tuple[float, float]
    grad_clip: Union[None, float, Mapping[str, Optional[float]]]
    lamb_max_grad_norm: Optional[float]
    loss: str
    label_smoothing: float
    drop_path: Union[float, Mapping[str, float]]
    layer_scale: Optional[float]
    repeated_aug: bool
    repeated_aug_repeats: int
    hflip: bool
    crop: str
    three_augment: bool
    color_jitter: Optional[float]
    rand_augment: Optional[str]
    random_erasing: float
    mixup: float
    cutmix: float
    mixup_prob: float
    mixup_switch_prob: float
    eval_crop_ratio: float
    ema: bool
    ema_decay: float
    dp_loss_weight: float
    dp_loss_form: str

    @classmethod
    def from_dict(cls, values: Dict[str, Any], source: Optional[str] = None) -> "Recipe":
        values = validate(dict(values), load_schema("recipe"), source)
        values["opt_betas"] = tuple(values["opt_betas"])
        for key in ("drop_path", "grad_clip"):
            if isinstance(values[key], dict):
                values[key] = dict(sorted(values[key].items()))
        if values["loss"] == "bce" and values["label_smoothing"] > 0:
            raise ConfigError(f"{source or 'recipe'}: label_smoothing must be 0 with the bce loss "
                              f"(DeiT III binarises mixup targets), got {values['label_smoothing']}")
        return cls(**values)

    @property
    def uses_mixup(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    @property
    def peak_lr(self) -> float:
        """The learning rate the schedule peaks at: ``lr``, or ``lr x batch_size / lr_batch`` (DeiT's and PVT's
        main.py scale ``--lr`` by the total batch / 512 unless ``--unscale-lr``)."""
        return self.lr if self.lr_batch is None else self.lr * self.batch_size / self.lr_batch

    def drop_path_for(self, model_name: str) -> float:
        """The stochastic depth rate of ``model_name`` (a size mapping is looked up by tiny/small/base;
        ``pvt_v2_b1/b2/b3`` are the sizes of the LaViT they are compared with)."""
        return float(_by_size(self.drop_path, "drop_path", model_name))

    def grad_clip_for(self, model_name: str) -> Optional[float]:
        """The ``--clip-grad`` of ``model_name`` (None: no clipping), a size mapping looked up like ``drop_path``."""
        clip = _by_size(self.grad_clip, "grad_clip", model_name)
        return None if clip is None else float(clip)

    def as_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["opt_betas"] = list(self.opt_betas)
        return d


def _by_size(value: Any, key: str, model_name: str) -> Any:
    """``value``, or its entry for the size of ``model_name`` when it is a tiny/small/base mapping."""
    if not isinstance(value, Mapping):
        return value
    from .families import model_size

    size = model_size(model_name)
    if size in value:
        return value[size]
    raise ConfigError(f"{key} gives values for {sorted(value)} but model {model_name!r} is none of them")


@dataclass(frozen=True)
class SegRecipe:
    """A segmentation recipe (``config/schemas/segmentation_recipe.schema.yaml``): Segmenter's ADE20K one,
    or Semantic FPN's or UperNet's over a pyramid backbone (``head``)."""
    task: str
    name: str
    head: str
    epochs: int
    batch_size: int
    optimizer: str
    opt_betas: Tuple[float, float]
    momentum: float
    lr: float
    min_lr: float
    poly_power: float
    warmup_steps: int
    warmup_ratio: float
    weight_decay: float
    grad_clip: Optional[float]
    drop_path: float
    layer_scale: Optional[float]
    base_size: Optional[Tuple[int, int]]
    ratio_range: Tuple[float, float]
    cat_max_ratio: float
    hflip: bool
    photometric: bool
    decoder_layers: int
    decoder_dropout: float
    fpn_channels: int
    head_channels: Optional[int]
    aux_weight: float
    aux_channels: int
    eval_stride: Optional[int]
    eval_scales: Tuple[float, ...]
    eval_flip: bool

    @classmethod
    def from_dict(cls, values: Dict[str, Any], source: Optional[str] = None) -> "SegRecipe":
        values = validate(dict(values), load_schema("segmentation_recipe"), source)
        for key in ("base_size", "ratio_range", "eval_scales", "opt_betas"):
            if values[key] is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def as_dict(self) -> Dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DetRecipe:
    """A detection recipe (``config/schemas/detection_recipe.schema.yaml``): RetinaNet's 1x or 3x schedule."""
    task: str
    name: str
    epochs: int
    batch_size: int
    optimizer: str
    momentum: float
    lr: float
    weight_decay: float
    decay_norm_and_bias: bool
    lr_steps: Tuple[int, ...]
    lr_gamma: float
    warmup_steps: int
    warmup_ratio: float
    grad_clip: Optional[float]
    drop_path: float
    min_size: Tuple[int, ...]
    max_size: int
    hflip: bool
    fpn_channels: int
    detections_per_img: int

    @classmethod
    def from_dict(cls, values: Dict[str, Any], source: Optional[str] = None) -> "DetRecipe":
        values = validate(dict(values), load_schema("detection_recipe"), source)
        values["lr_steps"], values["min_size"] = tuple(values["lr_steps"]), tuple(values["min_size"])
        late = [s for s in values["lr_steps"] if s >= values["epochs"]]
        if late or list(values["lr_steps"]) != sorted(values["lr_steps"]):
            raise ConfigError(f"{source or 'recipe'}: lr_steps {list(values['lr_steps'])} must be increasing epochs "
                              f"before the last ({values['epochs']} epochs)")
        return cls(**values)

    def as_dict(self) -> Dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


AnyRecipe = Union[Recipe, SegRecipe, DetRecipe]


def recipe_from_dict(values: Mapping[str, Any], source: Optional[str] = None) -> AnyRecipe:
    """A recipe of the kind its ``task`` key names (classification when absent)."""
    task = values.get("task", "classification")
    if task == "segmentation":
        return SegRecipe.from_dict(dict(values), source)
    if task == "detection":
        return DetRecipe.from_dict(dict(values), source)
    return Recipe.from_dict(dict(values), source)


def parse_overrides(items: Sequence[str]) -> Dict[str, Any]:
    """``["lr=1e-3", "drop_path={small: 0.1}"]`` -> dict; values are parsed as YAML."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            out[key.strip()] = parse_yaml_value(value) if value.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: {yaml_error_text(e)}") from None
    return out


def load_recipe(path: Union[str, Path], overrides: Optional[Mapping[str, Any]] = None) -> AnyRecipe:
    """Read a preset, apply overrides, validate; errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        from .schema import did_you_mean

        presets = sorted(p.name for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = did_you_mean(path.name, presets) or (f" Presets there: {', '.join(presets)}." if presets else "")
        raise FileNotFoundError(f"recipe {path} does not exist.{hint} (presets are in config/recipes/)")
    values = load_yaml(path) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys to values")
    values.update(overrides or {})
    return recipe_from_dict(values, source=str(path))


def _divisors(n: int, most: Optional[int] = None) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0 and (most is None or d <= most))


def batch_plan(batch_size: int, per_device_batch: Optional[int], world_size: int) -> Tuple[int, int]:
    """(per-device batch, accumulation steps) such that per-device batch x ``world_size`` x steps = ``batch_size``.

    ``per_device_batch`` None: ``batch_size / world_size``, no accumulation. The one rule: the training job applies
    it to its world size, and the workflow to each training rule's devices before any job is queued
    (workflow/rules/common.smk). Torch-free. A batch that does not split is a ``ConfigError`` that lists the
    values that would work."""
    per_device = per_device_batch or batch_size // world_size
    if per_device >= 1 and batch_size % (per_device * world_size) == 0:
        return per_device, batch_size // (per_device * world_size)
    head = (f"batch_size {batch_size} is not per_device_batch {per_device_batch} x {world_size} devices x an integer "
            f"number of accumulation steps" if per_device_batch else
            f"batch_size {batch_size} does not split evenly over {world_size} devices (per_device_batch unset: "
            f"batch_size / devices)")
    if batch_size % world_size:
        raise ConfigError(f"{head}; no per_device_batch works on {world_size} devices, which do not divide "
                          f"{batch_size}: run on a number of devices that divides it ({_divisors(batch_size, 64)}) "
                          f"or make batch_size a multiple of {world_size}")
    raise ConfigError(f"{head}; choose a per_device_batch that divides {batch_size // world_size} (batch_size / "
                      f"devices): {_divisors(batch_size // world_size)}")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset a job reads (names as in ``editrepro.data.DATASETS``)."""
    name: str
    root: str
    train_split: str = "train"
    val_split: str = "val"
    options: Mapping[str, Any] = field(default_factory=dict)
    num_workers: int = 4


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training job needs; ``output_dir`` receives checkpoints, logs and metrics."""
    model: str
    data: DataConfig
    recipe: AnyRecipe
    output_dir: str
    img_size: int = 224
    init_checkpoint: Optional[str] = None
    backbone_img_size: Optional[int] = None      # dense jobs: the backbone's ImageNet resolution (see below)
    per_device_batch: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    compile: bool = False
    grad_checkpointing: bool = False
    checkpoint_every: Optional[float] = None
    max_bad_samples: Optional[int] = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    eval_every: int = 1
    log_every: int = 10
    experiment: str = "default"
    run_name: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise ConfigError(f"amp must be auto, bf16, fp16 or off, got {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.per_device_batch is not None and self.per_device_batch < 1:
            raise ConfigError(f"per_device_batch must be positive, got {self.per_device_batch}")
        if self.eval_every < 1 or self.log_every < 1:
            raise ConfigError("eval_every and log_every must be at least 1")
        if self.checkpoint_every is not None and self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be minutes >= 0 (0: off), got {self.checkpoint_every}")
        if self.max_bad_samples is not None and self.max_bad_samples < 0:
            raise ConfigError(f"max_bad_samples must be >= 0, got {self.max_bad_samples}")

    def with_backbone_img_size(self) -> "TrainConfig":
        """A detection or segmentation job on a pyramid backbone rebuilds that backbone at the resolution it was
        trained at (LaViT's attention transforms are built for it): ``backbone_img_size``, else the
        ``img_size`` of the init checkpoint's config, fixed here so that the job's saved config rebuilds the
        model without the checkpoint."""
        if self.task == "classification" or self.backbone_img_size is not None or not self.init_checkpoint:
            return self
        from dataclasses import replace

        from .families import DENSE_FAMILIES, model_family

        if model_family(self.model)["family"] not in DENSE_FAMILIES:
            return self
        from .torchfiles import load_torch_file

        state = load_torch_file(self.init_checkpoint, "init checkpoint")
        size = ((state.get("config") if isinstance(state, dict) else None) or {}).get("img_size")
        return replace(self, backbone_img_size=int(size)) if size else self

    def checkpoint_interval_s(self, device_type: str) -> Optional[float]:
        """Seconds between time-based mid-epoch checkpoints (None: off). Default: 30 minutes on GPU, off on CPU."""
        minutes = self.checkpoint_every if self.checkpoint_every is not None else (30.0 if device_type == "cuda" else 0.0)
        return 60.0 * minutes if minutes > 0 else None

    def batch_plan(self, world_size: int) -> Tuple[int, int]:
        """(per-device batch, accumulation steps) giving the recipe's effective batch on ``world_size`` devices."""
        return batch_plan(self.recipe.batch_size, self.per_device_batch, world_size)

    def as_dict(self) -> Dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["data"] = asdict(self.data)
        d["recipe"] = self.recipe.as_dict()
        d["model_kwargs"] = dict(self.model_kwargs)
        d["tags"] = dict(self.tags)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown job keys {unknown}; allowed: {sorted(known)}")
        d["data"] = DataConfig(**d["data"])
        d["recipe"] = recipe_from_dict(d["recipe"])
        return cls(**d)

    @property
    def task(self) -> str:
        return self.recipe.task

    def config_hash(self) -> str:
        """Hash of what determines the result (not where it is written or how it is tracked)."""
        d = self.as_dict()
        # where it is written, how it is tracked, and what does not change the result (activation checkpointing
        # recomputes exactly; checkpoints and the bad-sample limit only decide when the job writes or stops)
        for key in ("output_dir", "experiment", "run_name", "tags", "log_every", "grad_checkpointing",
                    "checkpoint_every", "max_bad_samples"):
            d.pop(key)
        d["data"].pop("num_workers")
        if d["backbone_img_size"] is None:      # unset (every classification job): hashes as before the field existed
            d.pop("backbone_img_size")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
