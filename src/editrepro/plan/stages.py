"""The training stages and the rules that run them: one table, read by the one training rule definition of
``workflow/rules/train.smk`` (a rule per entry of ``TRAIN_RULES``, named as the Slurm profile's resources are) and by
the plan (``Plan.train_job``), so that a run folder, its log folder and the run it starts from are written once.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from ..baselines import OFFICIAL_STAGES

__all__ = ["STAGES", "TrainRule", "TRAIN_RULES", "TRAIN_RULE"]

# Each training stage: the recipe it uses (recipes.<name> in the config) and the dataset it reads.
STAGES: Dict[str, dict] = {
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
    # Table 3's DeiT III baselines by DeiT III's own recipes (editrepro.baselines; docs/reference.md)
    **{stage: dict(recipe=recipe, dataset=dataset) for stage, (recipe, dataset) in OFFICIAL_STAGES.items()},
}


@dataclass(frozen=True)
class TrainRule:
    """A training rule: the run folders it makes (``run``, with its wildcards in braces), the stage that trains them
    (a stage of ``STAGES``, with wildcards; ``None``: the run's chain says, as for DeiT III's own recipes), where its
    logs go (``log``, under ``logs/<name>/``), the run it starts from (``init``: same model and seed; ``None`` from
    scratch or as the chain says), the MLflow experiment of its runs, the resolution key it trains at and how its
    image size follows (``pixels``: ``res``, ``lavit``: LaViT's table's pixels, ``dense_crop``: its ADE20K crop)."""

    name: str
    run: str
    log: str
    stage: Optional[str]
    init: Optional[str]
    experiment: str
    constraints: Dict[str, str] = field(default_factory=dict)
    res: str = "224"          # the resolution key it trains at (``resolutions``), with wildcards
    pixels: str = "res"       # its image size: resolutions[res], or LaViT's table's (lavit), or its dense crop

    @property
    def run_regex(self) -> str:
        """``run`` as a regex of the folder names it makes, its wildcards as named groups."""
        return re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{self.constraints[m[1]]})", self.run)


TRANSFER_DATASETS = r"cifar10|cifar100|flowers102|dtd|caltech256"
SCHEDULES = r"1x|3x"
DENSE_HEADS = r"semantic_fpn|upernet"
OFFICIAL_RUNS = r"in1k_official_(192|224|384)|in21k_official_(pretrain|224|384)"
ABLATIONS = r"edit_ablation|lavit_ablation"

TRAIN_RULES = (
    # Table 3a: ImageNet-1k from scratch at 224, fine-tuned at 384 (position embeddings resampled on load)
    TrainRule("pretrain_in1k", "in1k_224", "pretrain_in1k", "pretrain_in1k", None, "table3"),
    TrainRule("finetune_384", "in1k_384", "finetune_384", "finetune_384", "in1k_224", "table3", res="384"),
    # Table 3b: ImageNet-21k at 224, fine-tuned on ImageNet-1k at 224 and 384
    TrainRule("pretrain_in21k", "in21k_pretrain", "pretrain_in21k", "pretrain_in21k", None, "table3"),
    TrainRule("finetune_in21k", "in21k_{res}", "finetune_in21k/{res}", "finetune_in21k", "in21k_pretrain", "table3",
              {"res": r"224|384"}, res="{res}"),
    # Table 3's DeiT III baselines by DeiT III's own README recipes: the run folder's chain says the stage and init
    TrainRule("train_deit3_official", "{orun}", "deit3_official/{orun}", None, None, "table3", {"orun": OFFICIAL_RUNS}),
    # Table 4: the transfer recipe from the ImageNet-1k 224 model; Table 5: Segmenter on ADE20K from it
    TrainRule("transfer", "transfer_{dataset}", "transfer/{dataset}", "transfer", "in1k_224", "table4",
              {"dataset": TRANSFER_DATASETS}),
    TrainRule("segment", "ade20k", "segment", "segment", "in1k_224", "table5", res="512"),
    # LaViT's table: LaViT and PVTv2 from scratch; RetinaNet on COCO, Semantic FPN and UperNet on ADE20K from them
    # (detection trains at the backbone's size: the detector resizes to its min_size)
    TrainRule("train_lavit", "lavit_224", "train_lavit", "lavit_in1k", None, "lavit", pixels="lavit"),
    TrainRule("detect", "coco_{schedule}", "detect/coco_{schedule}", "detect_{schedule}", "lavit_224", "lavit",
              {"schedule": SCHEDULES}, pixels="lavit"),
    TrainRule("segment_dense", "ade20k_{head}", "segment_dense/ade20k_{head}", "segment_{head}", "lavit_224", "lavit",
              {"head": DENSE_HEADS}, pixels="dense_crop"),
    # the ablation tables: each variant of the full model, by the full model's stage and recipe (plus its `set`)
    TrainRule("train_ablation", "{ablation}", "ablation/{ablation}", None, None, "{ablation}", {"ablation": ABLATIONS}),
)

# the training rules by name
TRAIN_RULE = {rule.name: rule for rule in TRAIN_RULES}
