"""LaViT's reconstructed design choices: the option that controls each, its default, and how sure it is.

Data only (no torch): ``editrepro.models.lavit`` builds the model these describe (and re-exports them), and
``reports/lavit.md`` prints them (``reporting.tables.lavit_sections``). Evidence: [paper] the paper's words;
[summary] third-party summaries of its equations; [extracted] numbers from a results database; [inference] a
design choice of this reproduction.
"""
from dataclasses import dataclass
from typing import Tuple

__all__ = ["Choice", "DESIGN_CHOICES"]


@dataclass(frozen=True)
class Choice:
    """One reconstructed design choice: the option that controls it, its default, and why."""
    option: str
    default: str
    evidence: str
    note: str


DESIGN_CHOICES: Tuple[Choice, ...] = (
    Choice("(pyramid)", "PVTv2: widths 64/128/320/512, heads 1/2/5/8, SRA ratios 8/4/2/1", "inference",
           "LaViT's sizes sit just below PVTv2-b1/b2/b3's; the paper's architecture table was not read."),
    Choice("depths", "T 2/2/2/2, S 3/4/6/3, B 3/4/18/3 (PVTv2-b1/b2/b3)", "inference",
           "the published counts shrink from PVTv2's about as LA layers would make them."),
    Choice("mlp_ratios", "4/4/4/4", "inference",
           "PVTv2-b1/b2/b3 with MLP ratio 4 cost 1.69/3.29/6.17 GMACs, the published 1.6/3.3/6.1 (timm's "
           "PVTv2 uses 8/8/4/4: 2.12/4.05/6.92)."),
    Choice("num_va", "stages 1-2 all VA; stages 3-4: the first ceil(depth/2) VA, the rest LA", "inference",
           "'a few VA layers, then LA layers' in each stage [paper]; the N x N query transform of the "
           "summary is affordable only where N is 4K (stage 3) or K (stage 4)."),
    Choice("la_query_mix", "full (W_Psi: N x N over the queries)", "summary",
           "'none' transforms the keys only."),
    Choice("la_shared_heads", "True (one W_Theta, W_Psi for all heads)", "inference",
           "not recovered; per-head maps are the alternative."),
    Choice("la_source", "logits (the pre-softmax scores are transformed)", "inference",
           "softmax is applied again after the transform [summary]; with identity transforms an LA layer "
           "then starts by reusing the previous attention exactly."),
    Choice("(W_Theta, W_Psi init)", "identity + learned delta (weight decay pulls towards reuse)", "inference",
           "not recovered."),
    Choice("(LA values)", "V from the layer's input average-pooled to the key grid, LayerNorm, W_v", "inference",
           "'V from the layer's own input' [summary]; pooling replaces the VA layer's reduction conv."),
    Choice("attn_downsample", "conv: 3 x 3 stride-2 conv over the query grid, heads as channels, added to "
           "the first VA layer's scores", "inference",
           "residual attention downsampling across stages [paper, Fig. 2]; its form was not read."),
    Choice("(LA at other input sizes)", "W_Theta, W_Psi resampled bicubically to the input's grids "
           "(dynamic_img_size: detection and segmentation)", "inference",
           "the same resampling as fine-tuning at 384; applied in factored form, never as an N x N matrix."),
    Choice("dp_loss_form", "half_diagonal: symmetry + |A_ii - sum_{j!=i} A_ij| on the key-cell-pooled "
           "attention", "inference",
           "the formula was not read; mean_diagonal (|(K-1) A_ii - sum_{j!=i} A_ij|) is the other reading."),
    Choice("dp_loss_weight", "0.1 (recipe)", "inference", "not recovered; a large weight is known to "
           "overpower the classification loss."),
    Choice("(recipe)", "300 epochs, AdamW lr 1e-3 at batch 1024, wd 0.05, cosine, 5 warmup epochs, "
           "RandAugment m9, mixup 0.8, cutmix 1.0, random erasing 0.25, label smoothing 0.1, "
           "drop path 0.1/0.2/0.3, EMA off", "inference",
           "the DeiT/PVT recipe 300-epoch pyramid ViTs use; the paper's was not recovered."),
)
