"""LaViT's reconstructed components, ablated: the diagonality-preserving loss (its weight and form: recipe
settings), residual attention downsampling (``attn_downsample``) and the VA/LA split (``num_va``), each against the
full LaViT model of its table's recipe (``tables.lavit_ablation``)."""
from .ablation import AblationTable
from .base import register


@register
class LaViTAblation(AblationTable):
    name = "lavit_ablation"
    title = "LaViT's reconstructed components, ablated (ImageNet-1k top-1 %)"
    family = "LaViT"
