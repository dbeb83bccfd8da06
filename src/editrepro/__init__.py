"""Reproduction of EDIT (encoder-decoder ViT mitigating the [CLS] attention sink) against DeiT III, and
LaViT (Less-Attention pyramid ViT) against PVTv2.

``import editrepro.models`` registers the models with timm (so does every part of the package that
builds one). ``import editrepro`` alone stays light, without torch, so that the command line's short
jobs (``report``, ``aggregate``, ``clean-in21k``, ``cost``) start in a fraction of a second; when timm
is already imported, it registers the models too, so ``import timm, editrepro`` keeps working.
Subpackages load on first use (``editrepro.models``, ``editrepro.data``, ...).
"""
import importlib
import sys

__version__ = "0.1.0"

_SUBPACKAGES = ("commands", "data", "detection", "models", "reporting", "segmentation", "tracking", "training")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if "timm" in sys.modules:
    from . import models  # noqa: F401,E402  (registers edit_*, deit3_ref_* and lavit_* with timm)
