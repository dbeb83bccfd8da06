"""Where a model comes from, for the analyses and ``evaluate``: timm's pretrained weights, a local file
loaded by timm, or a training job of this pipeline; its data config; sample images from any folder.

- ``--model NAME --pretrained``: ``timm.create_model(NAME, pretrained=True)``, timm's own loading (the Hugging
  Face cache, or the hub when the machine has network).
- ``--model NAME --checkpoint FILE``: ``timm.create_model(NAME, pretrained=True,
  pretrained_cfg_overlay=dict(file=FILE))``: timm reads the file (``state_dict`` / ``model`` / EMA keys,
  safetensors) and its model's filter adapts it (position embeddings of another grid, DINOv2's layout, ...);
  the classifier's size is read from the file (and its head kept) unless ``--model-arg num_classes=...`` asks
  for another (then timm drops the file's head).
- ``--weights FILE``: a ``model.pth`` of ``editrepro train``, rebuilt from the construction record stored with it
  (``training.tasks.build_from_checkpoint``: the model training built, any timm classifier included).

The data config is timm's ``resolve_data_config`` of the model (its pretrained config: input size, crop, mean,
std, interpolation); a training job's is its own resolution and evaluation crop, the pipeline's evaluation
transform. Importing this module costs nothing: torch and timm are imported when a model is loaded.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["TimmSource", "LoadedModel", "add_timm_arguments", "timm_source", "load_timm_model", "load_trained",
           "image_files", "load_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class TimmSource:
    """A timm model and the weights timm loads into it (``pretrained``, or ``checkpoint``: a file)."""
    name: str
    pretrained: bool = False
    checkpoint: Optional[str] = None
    model_args: Dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.name}, " + ("timm's pretrained weights" if self.pretrained else f"checkpoint {self.checkpoint}")


@dataclass
class LoadedModel:
    model: Any                      # torch.nn.Module, in eval mode
    name: str                       # the timm architecture (with its tag, if given)
    source: str                     # "pretrained", "checkpoint" or "weights"
    path: Optional[str]             # the file read, if any
    data_config: Dict[str, Any]     # timm's data config: input_size, interpolation, mean, std, crop_pct, crop_mode
    description: str = ""

    @property
    def num_classes(self) -> int:
        return int(getattr(self.model, "num_classes", 0) or 0)


def add_timm_arguments(p: argparse.ArgumentParser, required: bool = False) -> None:
    """``--model NAME`` with ``--pretrained`` or ``--checkpoint FILE``, and ``--model-arg KEY=VALUE``."""
    g = p.add_argument_group("a timm model" + ("" if required else " (instead of a training job's --weights)"))
    g.add_argument("--model", metavar="NAME", required=required,
                   help="timm model name, optionally with its pretrained tag (deit3_small_patch16_224.fb_in1k)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--pretrained", action="store_true",
                     help="timm's own pretrained weights: the Hugging Face cache, or the hub with network")
    src.add_argument("--checkpoint", metavar="FILE",
                     help="a local weights file, loaded by timm (pretrained_cfg_overlay=dict(file=FILE))")
    g.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra timm.create_model argument (repeatable), e.g. --model-arg reg_tokens=4")


def timm_source(args: argparse.Namespace) -> Optional[TimmSource]:
    """The ``TimmSource`` the arguments name, or None without ``--model``; ``ValueError`` if incomplete."""
    from ..recipes import parse_overrides

    if not getattr(args, "model", None):
        given = [flag for flag, on in (("--pretrained", args.pretrained), ("--checkpoint", args.checkpoint),
                                       ("--model-arg", args.model_arg)) if on]
        if given:
            raise ValueError(f"{', '.join(given)} need --model NAME (the timm model to build)")
        return None
    if not args.pretrained and not args.checkpoint:
        raise ValueError(f"--model {args.model}: say which weights, --pretrained (timm's) or --checkpoint FILE")
    return TimmSource(args.model, pretrained=bool(args.pretrained), checkpoint=args.checkpoint,
                      model_args=parse_overrides(args.model_arg))


def _peek_state_dict(path: Path) -> Dict[str, Any]:
    """The weights of ``path`` as timm will read them (without copying the tensors in: mmap)."""
    from ..models.weights import unwrap_state_dict
    from ..torchfiles import load_torch_file

    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_slice(k) for k in f.keys()}
    checkpoint = load_torch_file(path, "checkpoint", mmap=True)      # an old (non-zip) torch file is read, not mapped
    if not isinstance(checkpoint, dict):
        raise ValueError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not a state dict")
    return unwrap_state_dict(checkpoint)


def _classes_of(state_dict: Dict[str, Any], classifier: Optional[str]) -> Optional[int]:
    """Rows of the file's classifier (``head.weight``), 0 if it has none (a backbone), None if unknown."""
    if not classifier:
        return None
    weight = state_dict.get(f"{classifier}.weight")
    if weight is None:
        return 0
    shape = weight.get_shape() if hasattr(weight, "get_shape") else tuple(weight.shape)
    return int(shape[0])


def _offline_hint(name: str) -> str:
    import timm

    cfg = timm.get_pretrained_cfg(name)
    hub = getattr(cfg, "hf_hub_id", None) if cfg else None
    try:
        from huggingface_hub import constants

        cache = constants.HF_HUB_CACHE
    except Exception:  # noqa: BLE001 (only for the message)
        cache = "~/.cache/huggingface/hub"
    where = f"the Hugging Face hub ({hub})" if hub else "its download URL"
    return (f"timm fetches them from {where} and keeps them in the Hugging Face cache ({cache}). Without network "
            f"they must already be there: on a machine with network run `python -c \"import timm; "
            f"timm.create_model('{name}', pretrained=True)\"` and copy that cache here (or point HF_HOME / "
            f"HF_HUB_CACHE at a copy), or save the weights to a file and give --checkpoint FILE")


def load_timm_model(source: TimmSource, device: str = "cpu") -> LoadedModel:
    """Build ``source`` with timm's pretrained loading (see the module's docstring), in eval mode."""
    import timm
    from timm.data import resolve_data_config

    from ..models import check_model_name

    check_model_name(source.name)
    kwargs = dict(source.model_args)
    if source.checkpoint:
        path = Path(source.checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        overlay = dict(file=str(path))
        cfg = timm.get_pretrained_cfg(source.name)
        classes = _classes_of(_peek_state_dict(path), cfg.classifier if cfg else "head")
        if classes is not None:          # the file's label space: timm keeps a head of its pretrained_cfg's size
            overlay["num_classes"] = classes
            kwargs.setdefault("num_classes", classes)
        try:
            model = timm.create_model(source.name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        except RuntimeError as e:                             # timm's load_state_dict: missing or unexpected keys
            raise ValueError(f"checkpoint {path} does not fit timm's {source.name}"
                             f"{' with ' + str(source.model_args) if source.model_args else ''}: "
                             f"{str(e).splitlines()[0][:600]}") from None
    else:
        try:
            model = timm.create_model(source.name, pretrained=True, **kwargs)
        except RuntimeError as e:
            if "No pretrained weights exist" not in str(e) and "Invalid pretrained config" not in str(e):
                raise
            tags = [m for m in timm.list_pretrained(source.name.split(".")[0] + "*")][:8]
            raise ValueError(f"timm has no pretrained weights for {source.name!r}"
                             + (f"; its tagged weights: {', '.join(tags)}" if tags else "")
                             + "; or give --checkpoint FILE") from None
        except (OSError, ConnectionError) as e:   # huggingface_hub's LocalEntryNotFoundError is an OSError
            raise ValueError(f"could not load timm's pretrained weights of {source.name!r} "
                             f"({type(e).__name__}: {str(e).splitlines()[0][:300]}). "
                             + _offline_hint(source.name)) from None
    model = model.to(device).eval()
    data_config = resolve_data_config(model=model)
    data_config = _fit_to_model(model, data_config)
    return LoadedModel(model=model, name=source.name, source="pretrained" if source.pretrained else "checkpoint",
                       path=source.checkpoint, data_config=data_config, description=source.describe())


def _fit_to_model(model, data_config: Dict[str, Any]) -> Dict[str, Any]:
    """A model built for another fixed size than its pretrained config's (``img_size`` given) gets images of its
    own size."""
    embed = getattr(model, "patch_embed", None)
    size = tuple(getattr(embed, "img_size", None) or ()) if embed is not None else ()
    strict = getattr(embed, "strict_img_size", True) and not getattr(embed, "dynamic_img_pad", False)
    if len(size) == 2 and strict and tuple(data_config["input_size"][1:]) != size:
        data_config = {**data_config, "input_size": (data_config["input_size"][0], *size)}
    return data_config


def load_trained(weights: str, device: str = "cpu") -> LoadedModel:
    """A training job's ``model.pth``, with the pipeline's evaluation transform (its resolution and crop)."""
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, resolve_data_config

    from ..training.evaluation import load_trained_model

    model, cfg = load_trained_model(weights)
    size = int(cfg["img_size"])
    crop = float(cfg["recipe"].get("eval_crop_ratio", 1.0) or 1.0)
    data_config = resolve_data_config(args=dict(input_size=(3, size, size), crop_pct=crop, interpolation="bicubic",
                                                mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD), model=model)
    return LoadedModel(model=model.to(device).eval(), name=cfg["model"], source="weights", path=str(weights),
                       data_config=data_config, description=f"{cfg['model']}, training job {weights}")


def image_files(folder: str | Path, count: Optional[int] = None) -> List[Path]:
    """JPEG and PNG files under ``folder`` (recursively): the first of every sub-folder, then the second of
    every sub-folder, ... (a class-folder tree gives one image per class first); sorted within each."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    groups: Dict[Path, List[Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        groups.setdefault(path.parent, []).append(path)
    if not groups:
        raise FileNotFoundError(f"no JPEG or PNG images under {root}")
    ordered = [files[i] for i in range(max(map(len, groups.values()))) for files in groups.values() if i < len(files)]
    return ordered[:count] if count else ordered


def load_images(folder: str | Path, data_config: Dict[str, Any], count: Optional[int] = 8) -> Tuple[Any, List[Path]]:
    """``count`` images of ``folder`` (``image_files``) through timm's ``create_transform(**data_config)``:
    a (B, C, H, W) batch and the files it holds."""
    import torch
    from PIL import Image
    from timm.data import create_transform

    transform = create_transform(**data_config, is_training=False)
    files = image_files(folder, count)
    images = []
    for path in files:
        with Image.open(path) as img:
            images.append(transform(img.convert("RGB")))
    return torch.stack(images), files
