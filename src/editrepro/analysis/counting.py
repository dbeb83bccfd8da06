"""Parameters and FLOPs counted by building models on the meta device, and the training-set sizes a job reads:
the numbers ``editrepro.reporting`` prints but does not measure (it builds no models; the commands and the
registered tables pass these in).

- ``job_gmacs``, ``train_images``, ``job_counts``: per training job, for the cost estimate
  (``reporting.cost.estimate``, called by the ``cost`` command);
- ``counted``, ``dense_counted``, ``segmenter_params``: per architecture at the paper's size, for the counted
  cells of LaViT's table and Table 5 (the ``counter`` of ``reporting.results.collect_lavit`` / ``collect_table5``:
  this module is one).

Importing this module imports no torch (the workflow imports it while Snakemake plans); the models, detection and
segmentation parts load when a count is asked for.
"""
import json
from functools import lru_cache
from typing import Any, Dict, Iterable

from ..recipes import load_recipe

__all__ = ["TRAIN_IMAGES", "train_images", "detection_input", "job_gmacs", "job_counts", "counted", "dense_counted",
           "segmenter_params"]

# Training-set sizes at full scale (the splits the readers use).
TRAIN_IMAGES = {
    "imagenet1k": 1_281_167, "imagenet21k": 11_060_223, "cifar10": 50_000, "cifar100": 50_000,
    "flowers102": 2_040, "dtd": 3_760, "caltech256": 15_360, "ade20k": 20_210,
    "coco": 117_266,   # train2017 images with at least one box (those the detector trains on)
}


def train_images(dataset: str, demo: bool) -> int:
    """Images of one epoch of ``dataset``: the full-scale split, or the demo's stand-in (``data.demo``'s sizes)."""
    if not demo:
        return TRAIN_IMAGES[dataset]
    from ..data.demo import DemoSizes

    d = DemoSizes()
    sizes = {
        "imagenet1k": d.imagenet1k_classes * d.imagenet1k_train_per_class,
        "imagenet21k": d.imagenet21k_expected()["train"],
        "cifar10": 10 * d.cifar10_train_per_class,
        "cifar100": 100 * d.cifar100_train_per_class,
        "flowers102": 102 * (d.flowers102_per_class[0] + d.flowers102_per_class[1]),   # train + val
        "dtd": 47 * (d.dtd_per_class[0] + d.dtd_per_class[1]),                        # train1 + val1
        "caltech256": d.caltech256_classes * 60,
        "ade20k": d.ade20k_train,
        "coco": d.coco_train,
    }
    if dataset not in sizes:
        raise ValueError(f"no demo size for {dataset}")
    return sizes[dataset]


def detection_input(recipe) -> tuple:
    """The (H, W) a detector trains on, for its cost: the largest shorter side and a 1.6 aspect ratio (COCO's
    typical 640 x 427 image resized), the longer side capped, both padded to the pyramid's 32."""
    h = max(recipe.min_size)
    w = min(round(1.6 * h), recipe.max_size)
    return (-(-h // 32) * 32, -(-w // 32) * 32)


def job_gmacs(job: Dict[str, Any], recipe=None) -> float:
    """Forward GMACs of one training image of ``job`` (a training plan's entry): the whole model (Segmenter, a
    dense segmenter or a detector for those stages). ``recipe``: the job's loaded recipe (default: loaded from
    the job's ``recipe`` and ``overrides``)."""
    if recipe is None:
        recipe = load_recipe(job["recipe"], job.get("overrides"))
    args = job.get("args", {})
    if job["stage"].startswith("detect"):
        from ..detection import detector_complexity

        return detector_complexity(job["arch"], input_size=detection_input(recipe), fpn_channels=recipe.fpn_channels,
                                   backbone_kwargs=args)["gmacs"]
    if job["stage"].startswith("segment_"):
        from ..segmentation.factory import seg_model_complexity

        return seg_model_complexity(recipe, job["arch"], crop=job["img_size"], model_kwargs=args)["gmacs"]
    from ..models.complexity import count_complexity, measure

    if job["stage"] != "segment":
        return count_complexity(job["arch"], img_size=job["img_size"], **args).gmacs
    import torch

    from ..segmentation import create_segmenter

    with torch.device("meta"):
        model = create_segmenter(job["arch"], 150, job["img_size"], backbone_kwargs=args).eval()
    return measure(model, (job["img_size"], job["img_size"])).gmacs


def job_counts(plan: Iterable[Dict[str, Any]], demo: bool) -> Dict[str, Dict[str, float]]:
    """What ``reporting.cost.estimate`` takes for a training plan: ``gmacs`` (job name -> ``job_gmacs``) and
    ``train_images`` (job name -> ``train_images`` of its dataset: one epoch). Jobs that differ only in their seed
    are counted once."""
    gmacs: Dict[str, float] = {}
    images: Dict[str, int] = {}
    seen: Dict[str, float] = {}
    for job in plan:
        key = json.dumps([job["stage"], job["arch"], job["img_size"], job.get("args", {}), job["recipe"],
                          job.get("overrides")], sort_keys=True)
        if key not in seen:
            seen[key] = job_gmacs(job)
        name, n = job["job"], train_images(job["dataset"], demo)
        if name in gmacs and (gmacs[name], images[name]) != (seen[key], n):
            raise ValueError(f"two jobs named {name!r} in the plan count differently")
        gmacs[name], images[name] = seen[key], n
    return {"gmacs": gmacs, "train_images": images}


@lru_cache(maxsize=None)
def counted(arch: str):
    """Parameters and GMACs of ``arch`` as the paper builds it (meta device, one image): a
    ``models.complexity.Complexity`` (``params_m``, ``gmacs`` with the attention matmuls, ``gmacs_no_attn``)."""
    from ..models.complexity import count_complexity

    return count_complexity(arch)


@lru_cache(maxsize=None)
def dense_counted(run: str, arch: str) -> Dict[str, float]:
    """Parameters (M) and GMACs of the whole dense model of LaViT's ``run`` (``coco_1x``, ``ade20k_upernet``, ...)
    at the paper's size: RetinaNet at 1280 x 800 (80 classes), the ADE20K segmenter at 512 x 512 (150 classes, the
    head's paper widths, no auxiliary head)."""
    if run.startswith("coco_"):
        from ..detection import detector_complexity

        return detector_complexity(arch)
    from ..segmentation.factory import paper_size_complexity

    counts = paper_size_complexity(run[len("ade20k_"):], arch)
    return {"params_m": counts["params_m_inference"], "gmacs": counts["gmacs"]}


def segmenter_params(arch: str) -> int:
    """Parameters of Segmenter on the backbone ``arch`` at Table 5's size (150 classes, 512 crops), on meta."""
    from ..segmentation import segmenter_params as count

    return count(arch)
