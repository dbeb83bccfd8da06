"""Every registered model traces: torch.fx, torch.export and torch.compile(fullgraph=True) give the eager
outputs; the clear error for a wrong input size stays for eager calls.

The variants of a family differ only in widths, depths and the default image size (the registrations of
edit.py, deit3.py and lavit.py), and `small` overrides the depth and the size: one variant per family is traced
(the expensive part), and every other variant is checked to build the same modules of the same classes, so it
runs the same code the traced one did."""
import re

import pytest
import timm
import torch

from editrepro.models import list_models


def small(name: str):
    """The variant at a size that keeps a CPU trace quick: one block (LaViT: one or two a stage)."""
    if name.startswith("lavit_"):
        return timm.create_model(name, img_size=64, depths=(1, 1, 2, 2), num_classes=5).eval(), 64
    return timm.create_model(name, img_size=32, depth=1, num_classes=5).eval(), 32


def family(name: str) -> str:
    match = re.fullmatch(r"(.+?)_(tiny|small|base)_(?:patch16_)?(224|384)", name)
    assert match, f"{name}: not <family>_<tiny|small|base>_[patch16_]<224|384>; add it to TRACED's choice"
    return match.group(1)


# per family, its tiny variant at 224 (the cheapest): the one traced
TRACED = {family(name): name for name in list_models() if "_tiny_" in name and name.endswith("224")}


def test_every_family_has_a_traced_variant():
    assert {family(name) for name in list_models()} == set(TRACED) == {"deit3_ref", "edit", "lavit"}


@pytest.mark.parametrize("name", sorted(TRACED.values()))
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


@pytest.mark.parametrize("name", list_models())
def test_every_variant_runs_the_code_of_its_traced_one(name):
    model, size = small(name)
    traced, traced_size = small(TRACED[family(name)])
    assert size == traced_size
    assert [(n, type(m)) for n, m in model.named_modules()] == [(n, type(m)) for n, m in traced.named_modules()]
    assert model(torch.randn(2, 3, size, size)).shape == (2, 5)
    with pytest.raises(ValueError, match="expects images of shape"):
        model(torch.randn(1, 3, size + 32, size + 32))
