"""EDIT's decoder, ablated: the options ``models/edit.py`` gives its decoder (``decoder_qo_proj``,
``decoder_heads``, ``decoder_norm_affine``, ``decoder_reassociate``), each against the full EDIT model of the
Table 3a recipe (``tables.edit_ablation``)."""
from .ablation import AblationTable
from .base import register


@register
class EditAblation(AblationTable):
    name = "edit_ablation"
    title = "EDIT's decoder options, ablated (ImageNet-1k top-1 %)"
    family = "EDIT"
