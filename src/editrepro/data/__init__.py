"""Data: dataset readers for the standard on-disk layouts and the embedded demo-data generator."""
from .datasets import DATASETS, LayoutError, build_dataset
from .demo import DemoSizes, demo_roots, generate_demo_data

__all__ = [
    "DATASETS", "LayoutError", "build_dataset",
    "DemoSizes", "demo_roots", "generate_demo_data",
]
