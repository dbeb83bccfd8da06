"""Reproduction of EDIT (encoder-decoder ViT mitigating the [CLS] attention sink) against DeiT III.

Importing the package registers its models with timm.
"""
from . import models  # noqa: F401  (registers edit_* and deit3_ref_* with timm)

__version__ = "0.1.0"
