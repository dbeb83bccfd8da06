from pathlib import Path

import pytest
import torch

import editrepro.models  # noqa: F401  (registers the models with timm)
from editrepro.data import generate_demo_data


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> dict[str, Path]:
    """The default demo data, generated once per session: dataset name -> build_dataset root."""
    return generate_demo_data(tmp_path_factory.mktemp("demo"), seed=0)


@pytest.fixture(scope="session")
def demo_root(demo) -> Path:
    """The directory generate_demo_data wrote to."""
    return demo["imagenet1k"].parent
