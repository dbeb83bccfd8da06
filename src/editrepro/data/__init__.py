"""Data: preparing datasets on disk (``imagenet21k``: the ImageNet-21K-P cleaning), readers for the
standard on-disk layouts, the DeiT III and Segmenter transforms, and the embedded demo-data generator."""
from .datasets import DATASETS, LayoutError, build_dataset
from .demo import DemoSizes, demo_roots, generate_demo_data
from .seg_transforms import build_seg_eval_transform, build_seg_train_transform
from .transforms import (
    IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, build_eval_transform, build_train_transform,
)

__all__ = [
    "DATASETS", "LayoutError", "build_dataset",
    "build_train_transform", "build_eval_transform",
    "IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD",
    "build_seg_train_transform", "build_seg_eval_transform",
    "DemoSizes", "demo_roots", "generate_demo_data",
]
