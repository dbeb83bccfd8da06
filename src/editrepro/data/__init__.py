"""Data: dataset readers for the standard on-disk layouts, the DeiT III transforms, and the
embedded demo-data generator."""
from .datasets import DATASETS, LayoutError, build_dataset
from .demo import DemoSizes, demo_roots, generate_demo_data
from .transforms import (
    IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, build_eval_transform, build_train_transform,
)

__all__ = [
    "DATASETS", "LayoutError", "build_dataset",
    "build_train_transform", "build_eval_transform",
    "IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD",
    "DemoSizes", "demo_roots", "generate_demo_data",
]
