"""Table 3's DeiT III baselines: the names the workflow plans with and the reports compare against.

Three DeiT III numbers stand beside each EDIT row of Table 3 (docs/reference.md, section "DeiT III's own
results and recipe"):

- ``paper``: the EDIT paper's own DeiT3 runs (its Table 3), and this pipeline's DeiT3 trained by the EDIT
  paper's recipes (Table 2) -- the pairs the reports always made;
- ``published``: DeiT III's own published top-1 (facebookresearch/deit README_revenge.md, Model Zoo; the
  DeiT III paper), cited rows of ``config/paper_tables.yaml`` (status *cited*);
- ``deit3_official``: this pipeline's DeiT3 trained by DeiT III's own README commands
  (``config/recipes/deit3_official_*.yaml``), planned where ``tables.table3[.<half>].baselines`` names it; its
  rows are labelled :func:`official_row`.

Pure Python, no torch and no pandas: the workflow's planning imports it.
"""
from typing import Optional

from .families import model_size

__all__ = ["BASELINES", "OFFICIAL", "OFFICIAL_SUFFIX", "PUBLISHED_SUFFIX", "official_row", "is_official_row",
           "is_published_row", "arch_size", "OFFICIAL_STAGES", "official_chain"]

OFFICIAL = "deit3_official"
BASELINES = ("paper", OFFICIAL)   # the values tables.table3.baselines takes
OFFICIAL_SUFFIX = " (official recipe)"
PUBLISHED_SUFFIX = " (published)"    # the label of config/paper_tables.yaml's DeiT III rows: "DeiT III-B (published)"


def official_row(model: str) -> str:
    """The Table 3 row label of ``model`` trained by DeiT III's own recipe: ``DeiT3-B (official recipe)``."""
    return f"{model}{OFFICIAL_SUFFIX}"


def is_official_row(row) -> bool:
    return isinstance(row, str) and row.endswith(OFFICIAL_SUFFIX)


def is_published_row(row) -> bool:
    """A cited row of DeiT III's own published numbers (config/paper_tables.yaml, ``baseline: published``)."""
    return isinstance(row, str) and row.endswith(PUBLISHED_SUFFIX)


def arch_size(arch: str) -> str:
    """``tiny``/``small``/``base``/``large`` of a ViT name ('' if none): ``editrepro.families.model_size``
    (torch-free, so planning can use it)."""
    return model_size(arch)


# The training stages of the official recipes: stage -> (recipe name under `recipes:`, dataset). One recipe per
# README command; Tiny, which the README does not train, takes Small's (the S command is the natural reading).
OFFICIAL_STAGES = {
    "official_in1k_small": ("deit3_official_in1k_small", "imagenet1k"),        # ViT-S (and T) at 224, 800 epochs
    "official_in1k_base": ("deit3_official_in1k_base", "imagenet1k"),          # ViT-B at 192 px, 800 epochs
    "official_in1k_base_ft224": ("deit3_official_in1k_base_ft224", "imagenet1k"),  # ViT-B: 20 epochs at 224
    "official_in1k_ft384": ("deit3_official_in1k_ft384", "imagenet1k"),        # S and B: 20 epochs at 384
    "official_in21k": ("deit3_official_in21k", "imagenet21k"),                 # 240 epochs at 224
    "official_in21k_ft": ("deit3_official_in21k_ft", "imagenet1k"),            # 50 epochs at 224 (and 384)
}


def official_chain(run: str, size: str) -> Optional[dict]:
    """How a run folder of the official recipes is trained for a model of ``size``: its stage, the resolution
    key it trains at (``resolutions``), and the run it starts from (None: from scratch). None where the run
    is not one the recipes train for that size.

    ImageNet-1k: Tiny and Small pretrain at 224 (``in1k_official_224``); Base pretrains at 192
    (``in1k_official_192``), then fine-tunes 20 epochs at 224 from it. The 384 fine-tune
    (``in1k_official_384``) starts from the model of the 224 row. ImageNet-21k: ``in21k_official_pretrain``
    at 224, then ``in21k_official_224`` / ``in21k_official_384`` from it.
    """
    if size not in ("tiny", "small", "base"):
        return None
    base = size == "base"
    chains = {
        "in1k_official_192": dict(stage="official_in1k_base", res="192", init=None) if base else None,
        "in1k_official_224": (dict(stage="official_in1k_base_ft224", res="224", init="in1k_official_192") if base
                              else dict(stage="official_in1k_small", res="224", init=None)),
        "in1k_official_384": dict(stage="official_in1k_ft384", res="384", init="in1k_official_224"),
        "in21k_official_pretrain": dict(stage="official_in21k", res="224", init=None),
        "in21k_official_224": dict(stage="official_in21k_ft", res="224", init="in21k_official_pretrain"),
        "in21k_official_384": dict(stage="official_in21k_ft", res="384", init="in21k_official_pretrain"),
    }
    return chains.get(run)
