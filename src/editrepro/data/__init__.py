"""Data: preparing datasets on disk (``imagenet21k``: the ImageNet-21K-P cleaning), readers for the
standard on-disk layouts, the DeiT III and Segmenter transforms, and the embedded demo-data generator.

The names below load on first use, so the ImageNet-21k cleaning (numpy and pyarrow only) starts without
torch.
"""
import importlib

__all__ = [
    "DATASETS", "LayoutError", "build_dataset",
    "build_train_transform", "build_eval_transform",
    "IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD",
    "build_seg_train_transform", "build_seg_eval_transform",
    "DemoSizes", "demo_roots", "generate_demo_data",
]

_WHERE = {
    "DATASETS": "datasets", "LayoutError": "datasets", "build_dataset": "datasets",
    "DemoSizes": "demo", "demo_roots": "demo", "generate_demo_data": "demo",
    "build_seg_train_transform": "seg_transforms", "build_seg_eval_transform": "seg_transforms",
    "build_train_transform": "transforms", "build_eval_transform": "transforms",
    "IMAGENET_DEFAULT_MEAN": "transforms", "IMAGENET_DEFAULT_STD": "transforms",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
