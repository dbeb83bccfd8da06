"""Parameter and FLOP counts in the paper's convention, for Table 1 and Table 3.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on the meta device, so
even ViT-L at 384 costs no memory or time. They are reported as the paper (fvcore)
reports them: multiply-accumulates of matmuls and convolutions, plus 5 per element of an
affine LayerNorm (4 without affine), nothing for activations, softmax or additions.

Two figures per model: ``gmacs`` counts everything the model computes; ``gmacs_no_attn``
leaves out the encoder's attention matmuls (``q k^T`` and ``attn v``; in LaViT's Less-Attention
layers, the transforms of the attention and ``attn v``), as a count of a fused attention kernel
would. The paper's 384 px rows only match the second (docs/reference.md, section 1).
"""
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from timm.layers import Attention

__all__ = ["Complexity", "count_complexity", "count_params", "measure"]

aten = torch.ops.aten


@dataclass(frozen=True)
class Complexity:
    model: str
    img_size: int
    params: int
    gmacs: float
    gmacs_no_attn: float

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    def as_dict(self) -> Dict[str, float]:
        return {**asdict(self), "params_m": self.params_m}


def _layer_norm_flops(input_shape, normalized_shape, weight_shape=None, bias_shape=None, *args, **kwargs) -> int:
    # fvcore: 5 ops per element with an affine transform, 4 without; x2 because the
    # counter's unit is FLOPs (2 per MAC) and everything is halved at the end.
    numel = 1
    for d in input_shape:
        numel *= d
    return 2 * numel * (5 if weight_shape is not None else 4)


def _attention_modules():
    """Modules whose batched matmuls are attention maps: ViT attention, PVTv2's and LaViT's."""
    from timm.models.pvt_v2 import Attention as PvtAttention

    from .lavit_layers import LessAttention
    return (Attention, PvtAttention, LessAttention)


def _is_attention_matmul(op) -> bool:
    name = str(op)
    return name.startswith("aten.bmm") or "scaled_dot_product" in name or "attention" in name


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure(model: nn.Module, img_size: Tuple[int, int], name: str = "") -> Complexity:
    """Parameters and GMACs (both conventions) of a built model for one image of ``img_size``."""
    in_chans = getattr(model, "in_chans", None) or getattr(getattr(model, "backbone", None), "in_chans", 3)
    x = torch.empty(1, in_chans, *img_size, device=next(model.parameters()).device)
    counter = FlopCounterMode(display=False, custom_mapping={aten.native_layer_norm: _layer_norm_flops})
    with counter:
        model(x)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    attention = 0
    kinds = _attention_modules()
    for fqn, module in model.named_modules():
        if isinstance(module, kinds):
            ops = counts.get(f"{prefix}.{fqn}", {})
            attention += sum(v for op, v in ops.items() if _is_attention_matmul(op))
    total = counter.get_total_flops()
    return Complexity(model=name or type(model).__name__, img_size=img_size[0], params=count_params(model),
                      gmacs=total / 2e9, gmacs_no_attn=(total - attention) / 2e9)


def count_complexity(model_name: str, img_size: Optional[int] = None, **kwargs) -> Complexity:
    """Build ``model_name`` on the meta device and count its parameters and GMACs for one image
    (of ``img_size``, or the size the model is built for)."""
    from . import create_model

    with torch.device("meta"):
        model = create_model(model_name, img_size=img_size, **kwargs).eval()
    size = img_size or model.pretrained_cfg["input_size"][-1]
    return measure(model, (size, size), model_name)
