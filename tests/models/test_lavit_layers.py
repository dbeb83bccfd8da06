"""LaViT's diagonality-preserving loss against hand-computed values, and inside the model."""
import pytest
import timm
import torch

from editrepro.models import capture_attention
from editrepro.models.lavit_layers import diagonality_preserving_loss as dp_loss


def as_batch(a: torch.Tensor) -> torch.Tensor:
    return a[None, None]                                              # (B=1, heads=1, N, K)


def test_zero_on_matrices_built_to_satisfy_each_form():
    K = 4
    half = 0.5 * torch.eye(K) + (0.5 / (K - 1)) * (torch.ones(K, K) - torch.eye(K))   # diagonal: half of each row
    uniform = torch.full((K, K), 1.0 / K)                             # diagonal: the mean off-diagonal entry
    assert dp_loss(as_batch(half), (2, 2), 1, "half_diagonal").item() == pytest.approx(0.0, abs=1e-7)
    assert dp_loss(as_batch(uniform), (2, 2), 1, "mean_diagonal").item() == pytest.approx(0.0, abs=1e-7)
    assert dp_loss(as_batch(half), (2, 2), 1, "mean_diagonal").item() > 0.5
    assert dp_loss(as_batch(uniform), (2, 2), 1, "half_diagonal").item() > 0.4


def test_hand_computed_values():
    a = as_batch(torch.tensor([[0.9, 0.1], [0.3, 0.7]]))
    # symmetry: |0.1 - 0.3| twice = 0.4; diagonal: |0.9 - 0.1| + |0.7 - 0.3| = 1.2; per row: / 2
    assert dp_loss(a, (1, 2), 1, "half_diagonal").item() == pytest.approx((0.4 + 1.2) / 2)
    assert dp_loss(a, (1, 2), 1, "symmetry").item() == pytest.approx(0.4 / 2)
    b = as_batch(torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]]))
    sym = 2 * (0.05 + 0.15 + 0.1)
    mean_diag = abs(2 * 0.5 - 0.5) + abs(2 * 0.6 - 0.4) + abs(2 * 0.8 - 0.2)
    assert dp_loss(b, (1, 3), 1, "mean_diagonal").item() == pytest.approx((sym + mean_diag) / 3)


def test_queries_are_pooled_to_their_key_cell():
    # 4 x 4 queries over 2 x 2 keys (sr 2): each query carries the row of its cell
    K = 4
    target = 0.5 * torch.eye(K) + (0.5 / (K - 1)) * (torch.ones(K, K) - torch.eye(K))
    cell = torch.arange(16).reshape(4, 4)
    cell = (cell // 4 // 2) * 2 + (cell % 4) // 2                     # the 2 x 2 key cell of each query
    probs = target[cell.flatten()]                                    # (16, 4)
    assert dp_loss(as_batch(probs), (4, 4), 2, "half_diagonal").item() == pytest.approx(0.0, abs=1e-7)
    shuffled = probs[torch.randperm(16, generator=torch.Generator().manual_seed(0))]
    assert dp_loss(as_batch(shuffled), (4, 4), 2, "half_diagonal").item() > 0.1


def test_positive_with_a_gradient_on_a_random_attention():
    logits = torch.randn(2, 3, 16, 4, requires_grad=True)
    loss = dp_loss(logits.softmax(-1), (4, 4), 2)
    assert loss.item() > 0
    loss.backward()
    assert logits.grad.abs().sum() > 0


def test_the_model_averages_it_over_its_la_layers():
    m = timm.create_model("lavit_tiny_224", img_size=64, depths=(1, 1, 3, 2), num_va=(1, 1, 1, 1), num_classes=5).eval()
    with torch.no_grad():
        for blk in (b for s in m.stages for b in s.blocks if hasattr(b.attn, "theta")):
            blk.attn.theta.delta.normal_(std=0.3)                       # LA layers that transform something
    x = torch.randn(2, 3, 64, 64)
    with capture_attention(m) as maps:
        logits, aux = m.forward_aux(x, dp_form="mean_diagonal")
    la = [(a, m.grids[2] if a.shape[2] == 16 else m.grids[3], 2 if a.shape[2] == 16 else 1)
          for a, kind in zip(maps.encoder, maps.kinds) if kind == "LA"]
    assert len(la) == m.la_layers == 3
    expected = torch.stack([dp_loss(a, grid, sr, "mean_diagonal") for a, grid, sr in la]).mean()
    torch.testing.assert_close(aux["dp_loss"], expected)
    torch.testing.assert_close(logits, m(x))
    none = timm.create_model("lavit_tiny_224", img_size=64, depths=(1, 1, 1, 1), num_va=(1, 1, 1, 1))
    assert none.forward_aux(x)[1]["dp_loss"].item() == 0.0          # no LA layer, no DP term
