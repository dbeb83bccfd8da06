"""A pyramid backbone (LaViT, PVTv2) as the multi-level feature extractor dense-prediction heads take.

Detection (RetinaNet's FPN) and segmentation (Semantic FPN, UperNet) read the four stage outputs
of a classification backbone, at strides 4, 8, 16 and 32. ``PyramidFeatures`` builds the timm
model as it was trained on ImageNet (same ``img_size``, so its checkpoint loads unchanged), loads
that checkpoint, drops the classifier (timm's ``prune_intermediate_layers``) and returns the
stages' outputs through timm's ``forward_intermediates``. It declares what it returns:
``channels`` and ``strides`` per level, read from the model's ``feature_info``.

Inputs of any size whose sides are multiples of 32 are accepted: PVTv2 by construction, LaViT with
``dynamic_img_size`` (its Less-Attention transforms resampled to the input's grids).
"""
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from ..families import DENSE_FAMILIES

__all__ = ["PyramidFeatures", "DENSE_FAMILIES"]


class PyramidFeatures(nn.Module):
    """The stage outputs ``levels`` of a pyramid classifier: a list of NCHW maps.

    Args:
        name: A timm model name of a pyramid family (``lavit_*``, ``pvt_v2_*``).
        img_size: The size it was trained at (LaViT's transforms are built for it); ignored by PVTv2.
            Default: the ``img_size`` in ``pretrained``'s config, else the model's default.
        pretrained: An ImageNet checkpoint of the same model (the pipeline's ``model.pth``) or None.
        levels: Which of the four stages to return (0: stride 4 ... 3: stride 32).
        drop_path_rate: Stochastic depth of the backbone while the dense model trains.
        model_kwargs: Further ``create_model`` arguments (e.g. the demo's reduced ``depths``).
    """

    def __init__(self, name: str, img_size: Optional[int] = None, pretrained: Optional[str] = None,
                 levels: Sequence[int] = (0, 1, 2, 3), drop_path_rate: float = 0.0,
                 model_kwargs: Optional[Dict[str, Any]] = None):
        super().__init__()
        from . import create_model, load_pretrained, model_family

        family = model_family(name)["family"]
        if family not in DENSE_FAMILIES:
            raise ValueError(f"{name!r} is a {family} model: dense prediction takes a pyramid backbone "
                             f"({', '.join(DENSE_FAMILIES)}), whose stages give features at strides 4-32")
        kwargs = dict(model_kwargs or {})
        if family == "LaViT":
            kwargs["dynamic_img_size"] = True
        checkpoint = _read_checkpoint(pretrained) if pretrained else None
        if img_size is None and checkpoint is not None:
            img_size = (checkpoint.get("config") or {}).get("img_size")
        model = create_model(name, img_size=img_size, num_classes=0, drop_path_rate=drop_path_rate, **kwargs)
        if checkpoint is not None:
            load_pretrained(model, checkpoint)
        self.levels = [int(i) for i in levels]
        info = model.feature_info
        if any(not 0 <= i < len(info) for i in self.levels):
            raise ValueError(f"levels {self.levels} must index the {len(info)} stages of {name}")
        self.channels: List[int] = [int(info[i]["num_chs"]) for i in self.levels]
        self.strides: List[int] = [int(info[i]["reduction"]) for i in self.levels]
        model.prune_intermediate_layers(self.levels, prune_head=True)
        self.model = model
        self.name = name

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return self.model.forward_intermediates(x, indices=self.levels, intermediates_only=True)

    @torch.jit.ignore
    def no_weight_decay(self):
        own = getattr(self.model, "no_weight_decay", None)
        return {f"model.{k}" for k in own()} if callable(own) else set()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.model.set_grad_checkpointing(enable)


def _read_checkpoint(path) -> Dict[str, Any]:
    from ..torchfiles import load_torch_file

    return load_torch_file(path, "backbone checkpoint")
