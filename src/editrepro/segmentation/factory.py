"""The segmentation model a recipe names: Segmenter on a ViT, Semantic FPN or UperNet on a pyramid.

``head: segmenter`` (Table 5 of EDIT) builds ``Segmenter`` at the crop size, the ViT's position
embeddings resampled from its ImageNet checkpoint. ``semantic_fpn`` and ``upernet`` (LaViT's ADE20K
table) put the heads of ``heads.py`` on ``PyramidFeatures`` (built at the backbone's ImageNet size,
which its checkpoint's config gives, and run at any multiple of 32).
"""
from typing import Any, Dict, Optional

import torch
from torch import nn

__all__ = ["create_seg_model", "seg_model_complexity", "paper_size_complexity", "PAPER_CROP", "ADE20K_CLASSES"]

PAPER_CROP = 512
ADE20K_CLASSES = 150


def create_seg_model(recipe, backbone: str, num_classes: int, img_size: int, pretrained: Optional[str] = None,
                     model_kwargs: Optional[Dict[str, Any]] = None, drop_path_rate: Optional[float] = None,
                     backbone_img_size: Optional[int] = None) -> nn.Module:
    """The model of ``recipe.head`` on ``backbone`` for crops of ``img_size``; a pyramid backbone is built at
    ``backbone_img_size`` (default: its checkpoint's, else the model's own)."""
    kwargs = dict(model_kwargs or {})
    rate = float(recipe.drop_path) if drop_path_rate is None else drop_path_rate
    if recipe.head == "segmenter":
        from .model import create_segmenter

        if recipe.layer_scale is not None:
            kwargs = {"init_values": recipe.layer_scale, **kwargs}
        return create_segmenter(backbone, num_classes, img_size, pretrained=pretrained,
                                decoder_layers=recipe.decoder_layers, dropout=recipe.decoder_dropout,
                                drop_path_rate=rate, backbone_kwargs=kwargs)
    from ..models.pyramid import PyramidFeatures
    from .heads import DenseSegmenter, build_head

    body = PyramidFeatures(backbone, img_size=backbone_img_size, pretrained=pretrained, drop_path_rate=rate,
                           model_kwargs=kwargs)
    options: Dict[str, Any] = {}
    if recipe.head == "semantic_fpn":
        options["fpn_channels"] = recipe.fpn_channels
        if recipe.head_channels:
            options["head_channels"] = recipe.head_channels
    else:
        options.update(aux=recipe.aux_weight > 0, aux_channels=recipe.aux_channels)
        if recipe.head_channels:
            options["channels"] = recipe.head_channels
    head, aux = build_head(recipe.head, body.channels, num_classes, **options)
    return DenseSegmenter(body, head, aux)


def seg_model_complexity(recipe, backbone: str, num_classes: int = ADE20K_CLASSES, crop: int = PAPER_CROP,
                         model_kwargs: Optional[Dict[str, Any]] = None) -> Dict[str, float]:
    """Parameters (M) and GMACs of the whole segmenter at the paper's size (ADE20K, a 512 x 512 image),
    counted on the meta device like Table 1; the auxiliary head (training only) is left out of the GMACs."""
    from ..models.complexity import count_params, measure

    with torch.device("meta"):
        model = create_seg_model(recipe, backbone, num_classes, crop, model_kwargs=model_kwargs,
                                 drop_path_rate=0.0).eval()
    c = measure(model, (crop, crop), backbone)
    aux = getattr(model, "aux_head", None)
    aux_params = count_params(aux) if aux is not None else 0
    return {"params_m": count_params(model) / 1e6, "params_m_inference": (count_params(model) - aux_params) / 1e6,
            "gmacs": c.gmacs}


def paper_size_complexity(head: str, backbone: str) -> Dict[str, float]:
    """``seg_model_complexity`` of ``head`` on the full ``backbone`` with the head's paper widths (the recipe
    schema's defaults, not a demo's narrowed ones), at 512 x 512 with 150 classes. The backbone is timm's
    architecture as registered (no LayerScale added), Table 5's convention (``segmenter_params``)."""
    from ..recipes import SegRecipe

    recipe = SegRecipe.from_dict({"task": "segmentation", "head": head, "layer_scale": None})
    return seg_model_complexity(recipe, backbone)
