"""Data: dataset readers for the standard on-disk layouts."""
from .datasets import DATASETS, LayoutError, build_dataset

__all__ = ["DATASETS", "LayoutError", "build_dataset"]
