"""Every registered model traces: torch.fx, torch.export and torch.compile(fullgraph=True) give the eager
outputs; the clear error for a wrong input size stays for eager calls."""
import pytest
import timm
import torch

from editrepro.models import list_models


def small(name: str):
    """The variant at a size that keeps a CPU trace quick: one block (LaViT: one or two a stage)."""
    if name.startswith("lavit_"):
        return timm.create_model(name, img_size=64, depths=(1, 1, 2, 2), num_classes=5).eval(), 64
    return timm.create_model(name, img_size=32, depth=1, num_classes=5).eval(), 32


@pytest.mark.parametrize("name", list_models())
def test_fx_export_and_compile(name):
    torch._dynamo.reset()
    model, size = small(name)
    x = torch.randn(2, 3, size, size)
    expected = model(x)
    torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), expected)
    torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), expected)
    torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expects images of shape"):
        model(torch.randn(1, 3, size + 32, size + 32))
