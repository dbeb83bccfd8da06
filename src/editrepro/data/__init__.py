"""Datasets: preparing them on disk (``imagenet21k``: the ImageNet-21K-P cleaning) and reading them."""
