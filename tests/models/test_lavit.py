"""LaViT: the published counts, the Less-Attention mechanics, and what timm's own models pass."""
import pytest
import timm
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from editrepro.models import LaViT, capture_attention, create_model, load_pretrained
from editrepro.models.complexity import count_complexity
from editrepro.models.lavit_layers import LessAttention, VanillaAttention

SIZES = ("tiny", "small", "base")
SMALL = dict(img_size=64, num_classes=7)   # a 2 x 2 grid at stride 32: 4 keys in every stage


def tiny(**kwargs) -> LaViT:
    """LaViT-T with one or two blocks a stage (VA then LA in stages 3 and 4), at 64 px."""
    return timm.create_model("lavit_tiny_224", **{**SMALL, "depths": (1, 1, 2, 2), **kwargs})


# -- the published counts ---------------------------------------------------------------------

PUBLISHED = {"tiny": (10.9, 1.6), "small": (22.4, 3.3), "base": (39.6, 6.1)}


@pytest.mark.parametrize("size", SIZES)
def test_counts_against_the_published_ones(size):
    c = count_complexity(f"lavit_{size}_224")
    params, gflops = PUBLISHED[size]
    assert abs(c.gmacs / gflops - 1) <= 0.05, c                     # every size within 5% of the FLOPs
    if size == "tiny":
        # no design of the family reaches 10.9M (docs/lavit.md): the report says +15.3%
        assert c.params_m / params - 1 == pytest.approx(0.153, abs=0.005), c
    else:
        assert abs(c.params_m / params - 1) <= 0.03, c


def test_lavit_costs_less_than_the_pvtv2_it_modifies():
    for size, pvt in zip(SIZES, ("pvt_v2_b1", "pvt_v2_b2", "pvt_v2_b3")):
        ours, base = count_complexity(f"lavit_{size}_224"), count_complexity(pvt)
        assert ours.params < base.params and ours.gmacs < base.gmacs
        # the same widths, all VA: the only difference is the LA layers (and MLP ratio 4)
        all_va = count_complexity(f"lavit_{size}_224", num_va=DEPTHS[size])
        assert ours.gmacs < all_va.gmacs and ours.params < all_va.params


DEPTHS = {"tiny": (2, 2, 2, 2), "small": (3, 4, 6, 3), "base": (3, 4, 18, 3)}


def test_default_split_puts_la_layers_in_the_second_half_of_stages_3_and_4():
    with torch.device("meta"):
        m = timm.create_model("lavit_base_224")
    assert m.num_va == (3, 4, 9, 2) and m.la_layers == 10
    kinds = [[type(b.attn).__name__ for b in s.blocks] for s in m.stages]
    assert kinds[2] == ["VanillaAttention"] * 9 + ["LessAttention"] * 9
    assert kinds[3] == ["VanillaAttention"] * 2 + ["LessAttention"]


# -- the Less-Attention layer -----------------------------------------------------------------


class MatmulLog(TorchDispatchMode):
    """Records the contracted dimension of every matrix product (and any fused attention kernel)."""

    def __init__(self):
        super().__init__()
        self.contracted, self.fused = [], 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if name in ("aten.bmm", "aten.mm", "aten.addmm", "aten.matmul", "aten.baddbmm"):
            a = args[1] if name in ("aten.addmm", "aten.baddbmm") else args[0]
            self.contracted.append(a.shape[-1])
        if "scaled_dot_product" in name:
            self.fused += 1
        return func(*args, **(kwargs or {}))


def test_la_layers_compute_no_q_k_product():
    # width 48, 3 heads: head_dim 16; 8 x 8 grid, sr 4: 4 keys. q k^T is the only product over 16
    dim, heads, grid, sr = 48, 3, (8, 8), 4
    x = torch.randn(2, 64, dim)
    prev = torch.randn(2, heads, 64, 4)
    la = LessAttention(dim, heads, sr, grid)
    va = VanillaAttention(dim, heads, sr)
    with MatmulLog() as log_la:
        out, scores, _ = la(x, grid, prev)
    with MatmulLog() as log_va:
        va(x, grid, return_logits=True)
    assert 16 not in log_la.contracted and log_la.fused == 0
    assert sorted(set(log_la.contracted)) == [4, 48, 64]       # W_Theta and attn v (K), W_v / proj (C), W_Psi (N)
    assert 16 in log_va.contracted                               # the same check sees a vanilla layer's q k^T
    assert out.shape == x.shape and scores.shape == prev.shape
    assert not hasattr(la, "q") and not any("sr" in n for n, _ in la.named_parameters())


def test_an_untrained_la_layer_reuses_the_previous_attention_exactly():
    m = tiny().eval()
    x = torch.randn(2, 3, 64, 64)
    with capture_attention(m) as maps:
        m(x)
    assert maps.kinds == ["VA", "VA", "VA", "LA", "VA", "LA"]
    # W = I at init and the scores (not their softmax) are transformed: the LA map is its VA's
    torch.testing.assert_close(maps.encoder[3], maps.encoder[2])
    torch.testing.assert_close(maps.encoder[5], maps.encoder[4])
    assert maps.encoder[2].shape == (2, 5, 16, 4) and maps.encoder[4].shape == (2, 8, 4, 4)


def test_la_transform_is_psi_a_theta_transposed():
    la = LessAttention(16, 2, 2, (4, 4))
    with torch.no_grad():
        la.theta.delta.normal_()
        la.psi.delta.normal_()
    a = torch.randn(3, 2, 16, 4)
    w_theta, w_psi = la.theta.weight()[0], la.psi.weight()[0]
    # A^l = Psi(Theta(A)^T)^T with Psi, Theta linear maps on the last axis
    expected = ((a @ w_theta.T).transpose(-1, -2) @ w_psi.T).transpose(-1, -2)
    torch.testing.assert_close(la.transform(a), expected)


def test_residual_attention_downsampling_changes_the_next_stage_and_is_off_when_disabled():
    torch.manual_seed(0)
    on = tiny().eval()
    off = tiny(attn_downsample="none").eval()
    missing, unexpected = off.load_state_dict(on.state_dict(), strict=False)
    assert missing == [] and all(".attn_downsample." in k for k in unexpected) and unexpected
    x = torch.randn(2, 3, 64, 64)
    with capture_attention(on) as a, capture_attention(off) as b:
        on(x)
        off(x)
    torch.testing.assert_close(a.encoder[0], b.encoder[0])          # stage 1 has nothing before it
    for i in (1, 2, 4):                                               # the first VA of stages 2, 3, 4
        assert (a.encoder[i] - b.encoder[i]).abs().max() > 1e-4, i
    # and the bias is exactly the downsampled previous scores: with the conv zeroed, on == off
    with torch.no_grad():
        for s in on.stages[1:]:
            s.attn_downsample.conv.weight.zero_()
    torch.testing.assert_close(on(x), off(x))


def test_all_va_without_residual_is_timm_pvtv2_exactly():
    pvt = timm.create_model("pvt_v2_b1", num_classes=7).eval()
    ours = timm.create_model("lavit_tiny_224", img_size=64, num_classes=7, mlp_ratios=(8, 8, 4, 4),
                             num_va=(2, 2, 2, 2), attn_downsample="none").eval()
    ours.load_state_dict(pvt.state_dict(), strict=True)             # the same names: VA layers are PVTv2 blocks
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), pvt(x))


# -- what timm's models pass --------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_forward_backward_every_parameter_gets_a_gradient(size):
    m = timm.create_model(f"lavit_{size}_224", drop_path_rate=0.1, **SMALL)
    x = torch.randn(2, 3, 64, 64)
    logits, aux = m.forward_aux(x)
    assert logits.shape == (2, 7) and aux["dp_loss"].ndim == 0
    (logits.logsumexp(-1).sum() + aux["dp_loss"]).backward()
    assert [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []


def test_features_head_and_intermediates():
    m = tiny().eval()
    x = torch.randn(2, 3, 64, 64)
    feats = m.forward_features(x)
    assert feats.shape == (2, 512, 2, 2)
    torch.testing.assert_close(m.forward_head(feats), m(x))
    assert m.forward_head(feats, pre_logits=True).shape == (2, 512)
    final, inter = m.forward_intermediates(x)
    assert [t.shape[1:] for t in inter] == [(64, 16, 16), (128, 8, 8), (320, 4, 4), (512, 2, 2)]
    torch.testing.assert_close(final, feats)
    two = m.forward_intermediates(x, indices=[0, 1], stop_early=True, intermediates_only=True)
    torch.testing.assert_close(two[1], inter[1])


def test_features_only_is_a_four_level_pyramid():
    m = timm.create_model("lavit_tiny_224", features_only=True, img_size=64, depths=(1, 1, 2, 2)).eval()
    assert m.feature_info.channels() == [64, 128, 320, 512] and m.feature_info.reduction() == [4, 8, 16, 32]
    assert [f.shape[-1] for f in m(torch.randn(1, 3, 64, 64))] == [16, 8, 4, 2]
    two = timm.create_model("lavit_tiny_224", features_only=True, out_indices=(1, 2), img_size=64,
                            depths=(1, 1, 2, 2)).eval()
    assert [f.shape[1] for f in two(torch.randn(1, 3, 64, 64))] == [128, 320]
    assert len(two.model.stages) == 3                                # pruned after the last stage asked for


def test_gradient_checkpointing_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    a = tiny()
    b = tiny()
    b.load_state_dict(a.state_dict())
    b.set_grad_checkpointing(True)
    x = torch.randn(2, 3, 64, 64)
    for m in (a, b):
        logits, aux = m.forward_aux(x)
        (logits.square().mean() + aux["dp_loss"]).backward()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_pretrained_cfg_from_a_local_file_and_224_to_384(tmp_path):
    src = timm.create_model("lavit_tiny_224", num_classes=10, depths=(1, 1, 2, 2))
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "lavit.pth"
    torch.save({"model": src.state_dict()}, path)
    same = timm.create_model("lavit_tiny_224", pretrained=True, depths=(1, 1, 2, 2),
                             pretrained_cfg_overlay=dict(file=str(path), num_classes=10))
    for k, v in src.state_dict().items():
        assert torch.equal(same.state_dict()[k], v), k
    big = timm.create_model("lavit_tiny_384", pretrained=True, depths=(1, 1, 2, 2), num_classes=5,
                            pretrained_cfg_overlay=dict(file=str(path), num_classes=10))
    assert big.head.weight.shape == (5, 512)                          # another label space: a fresh head
    theta = "stages.2.blocks.1.attn.theta.delta"                      # keys 7 x 7 -> 12 x 12
    psi = "stages.2.blocks.1.attn.psi.delta"                          # queries 14 x 14 -> 24 x 24
    assert big.state_dict()[theta].shape == (1, 144, 144) and big.state_dict()[psi].shape == (1, 576, 576)
    torch.testing.assert_close(big.state_dict()["stages.0.blocks.0.attn.q.weight"],
                               src.state_dict()["stages.0.blocks.0.attn.q.weight"])
    assert big(torch.randn(1, 3, 384, 384)).shape == (1, 5)


def test_resampling_keeps_the_map_of_a_smooth_attention():
    from editrepro.models.lavit_layers import resample_transform

    g, n = 7, 14
    yy, xx = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    # a smooth map: every output cell takes the same weights of a smooth input field
    delta = (torch.sin(yy.flatten() / 3.0)[None, :] * torch.ones(g * g, 1))[None] / (g * g)
    new = resample_transform(delta, n * n)
    assert new.shape == (1, n * n, n * n)
    field = torch.cos(yy.flatten() / 4.0)                            # a smooth input on the old grid
    fine = torch.nn.functional.interpolate(field.reshape(1, 1, g, g), size=(n, n), mode="bicubic",
                                           align_corners=False).flatten()
    # the map's response to the same smooth field barely changes with the grid's density
    assert (new[0] @ fine).mean() == pytest.approx((delta[0] @ field).mean(), rel=0.05)
    with pytest.raises(ValueError, match="only square grids"):
        resample_transform(delta, 50)


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown model 'lavit_huge_224'.*Did you mean"):
        create_model("lavit_huge_224")
    with pytest.raises(ValueError, match=r"img_size 230x230 is not a multiple; use 224 or 256"):
        timm.create_model("lavit_tiny_224", img_size=230)
    m = tiny()
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, 64, 64\), got \(1, 3, 96, 96\)"):
        m(torch.randn(1, 3, 96, 96))
    with pytest.raises(ValueError, match="dp_loss_form must be one of"):
        tiny(dp_loss_form="diagonal")
    with pytest.raises(ValueError, match="num_va 3 must be between 0 and the stage's depth 2"):
        tiny(num_va=(1, 1, 1, 3))


def test_a_checkpoint_of_another_family_is_refused(tmp_path):
    edit = timm.create_model("edit_tiny_patch16_224", img_size=32, depth=2)
    path = tmp_path / "edit.pth"
    torch.save({"model": edit.state_dict(), "config": {"model": "edit_tiny_patch16_224"}}, path)
    with pytest.raises(ValueError, match=r"does not hold a LaViT.*trained as 'edit_tiny_patch16_224'"):
        load_pretrained(tiny(), path)


def _randomised(model):
    """Non-trivial LA transforms (an untrained one is the identity at every size and would hide a bug)."""
    torch.manual_seed(3)
    for name, p in model.named_parameters():
        if name.endswith(".delta"):
            p.data.normal_(0, 0.05)
    return model


def test_dynamic_img_size_is_the_model_resampled_to_the_input():
    """At another input size, a dynamic LaViT computes what the same weights resampled to that size
    (the 224 -> 384 fine-tuning path, ``checkpoint_filter_fn``) compute, non-square inputs included."""
    from editrepro.models import load_pretrained

    args = dict(depths=(1, 1, 2, 2), num_classes=0)
    base = _randomised(timm.create_model("lavit_tiny_224", img_size=64, dynamic_img_size=True, **args)).eval()
    for size in ((96, 96), (64, 128)):
        fixed = timm.create_model("lavit_tiny_224", img_size=size, **args).eval()
        load_pretrained(fixed, {"model": base.state_dict()})
        x = torch.randn(2, 3, *size)
        with torch.no_grad():
            assert torch.allclose(base.forward_features(x), fixed.forward_features(x), atol=1e-4)
    with torch.no_grad():   # at its own size nothing is resampled
        x = torch.randn(1, 3, 64, 64)
        static = timm.create_model("lavit_tiny_224", img_size=64, **args).eval()
        static.load_state_dict(base.state_dict())
        assert torch.equal(base.forward_features(x), static.forward_features(x))
    with pytest.raises(ValueError, match="multiple"):
        base(torch.randn(1, 3, 80, 64))


def test_factored_transform_never_builds_the_large_map():
    """Applying a transform on a denser grid is ``I + s R delta R^T`` without its N' x N' matrix: same values."""
    from editrepro.models.lavit_layers import AttentionTransform, resample_transform

    t = AttentionTransform(49, 2, (7, 7))
    t.delta.data.normal_()
    a = torch.randn(1, 2, 30, 10 * 14)
    explicit = a @ (resample_transform(t.delta.data, (10, 14)) + torch.eye(140)).transpose(-2, -1)
    assert torch.allclose(t.keys(a, (10, 14)), explicit, atol=1e-4)
    a = torch.randn(1, 2, 140, 30)
    explicit = (resample_transform(t.delta.data, (10, 14)) + torch.eye(140)) @ a
    assert torch.allclose(t.queries(a, (10, 14)), explicit, atol=1e-4)
