"""Which family and size a timm model name belongs to, for MLflow tags, reports and recipes.

Pure Python, no torch: recipes (their size-mapped values) and the reports read it without building a model.

The pipeline compares models in pairs of one size: EDIT against DeiT III (``tiny``, ``small``,
``base`` in their names) and LaViT against the PVTv2 it modifies (``pvt_v2_b1/b2/b3`` are the
``tiny/small/base`` of that pair: LaViT-T/S/B are built from their depths).
"""
from typing import Dict

__all__ = ["FAMILIES", "PVT_V2_SIZES", "DENSE_FAMILIES", "model_family", "model_size"]

# name prefix -> family label (longest prefix first)
FAMILIES = (("deit3", "DeiT3"), ("deit", "DeiT"), ("edit", "EDIT"), ("lavit", "LaViT"), ("pvt_v2", "PVTv2"),
            ("vit", "ViT"))
PVT_V2_SIZES = {"pvt_v2_b1": "tiny", "pvt_v2_b2": "small", "pvt_v2_b3": "base"}
SIZES = ("tiny", "small", "base", "large")
# the pyramid families whose four stages give dense heads features at strides 4-32 (models/pyramid.py)
DENSE_FAMILIES = ("LaViT", "PVTv2")


def model_size(arch: str) -> str:
    """``tiny``, ``small``, ``base`` (or ``large``) of a model name; '' when it has none."""
    name = arch.split(".", 1)[0]
    if name in PVT_V2_SIZES:
        return PVT_V2_SIZES[name]
    return next((s for s in SIZES if f"_{s}_" in f"{name}_"), "")


def model_family(arch: str) -> Dict[str, str]:
    """``family`` (EDIT, DeiT3, LaViT, PVTv2, ...) and ``size`` tags of a model name."""
    family = next((label for prefix, label in FAMILIES if arch.startswith(prefix)), arch.split("_")[0])
    return {"family": family, "size": model_size(arch)}
