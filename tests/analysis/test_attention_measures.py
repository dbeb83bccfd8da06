"""The attention-sink measures on hand-made maps, the 16 x 16 corners, register tokens, EDIT's decoder view, and a
model whose attention the analysis cannot read."""
import math

import numpy as np
import pytest
import timm
import torch

from editrepro.analysis.attention import _Sums, attention_summary, summarise
from editrepro.models import AttentionMaps
from editrepro.reporting.attention_report import claim_verdict


def rows(*weights):
    """A (1, 1, T, T) map whose every query has the same weights."""
    w = torch.tensor(weights, dtype=torch.float32)
    return w.expand(len(weights), -1)[None, None].clone()


def summary_of(layers, prefix=1, has_cls=True, decoder=(), batches=1):
    sums = _Sums()
    for _ in range(batches):
        maps = AttentionMaps(encoder=list(layers), kinds=["attention"] * len(layers), decoder=list(decoder))
        sums.add(maps, layers[0].shape[0], corner=16)
    return summarise(sums, prefix, has_cls)


def test_sink_score_and_ratios_of_hand_made_maps():
    sink = rows(0.7, 0.1, 0.1, 0.1)              # [CLS] + 3 patches: [CLS] gets 7x an average other token
    flat = rows(0.25, 0.25, 0.25, 0.25)
    s = summary_of([sink, flat])
    L = s.layers
    assert L["to_cls"] == pytest.approx([0.7, 0.25]) and L["to_other"] == pytest.approx([0.1, 0.25])
    assert L["cls_ratio"] == pytest.approx([7.0, 1.0]) and L["sink_ratio"] == pytest.approx([7.0, 1.0])
    assert L["prefix_share"] == pytest.approx([0.7, 0.25]) and L["top_share"] == pytest.approx([0.7, 0.25])
    assert s.sink_score == pytest.approx(4.0) and s.sink_view == "encoder"
    # the similarity of layer 2 with layer 1: cosine of the flattened maps
    a, b = sink.flatten(), flat.flatten()
    assert math.isnan(L["similarity"][0])
    assert L["similarity"][1] == pytest.approx((a @ b / a.norm() / b.norm()).item())
    assert s.saturation == pytest.approx(L["similarity"][1])


def test_means_run_over_queries_heads_and_images_in_any_batching():
    q1 = torch.tensor([[0.4, 0.2, 0.2, 0.2], [0.1, 0.3, 0.3, 0.3], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    q2 = torch.full((4, 4), 0.25)
    two_heads = torch.stack([q1, q2])[None]                      # (1, 2, 4, 4)
    s = summary_of([two_heads])
    received = torch.stack([q1, q2]).mean(dim=(0, 1))          # over heads and queries
    assert s.layers["to_cls"][0] == pytest.approx(received[0].item())
    assert s.layers["to_other"][0] == pytest.approx(received[1:].mean().item())
    # two images in one batch, or the same two images in two batches of one: the same numbers
    pair = torch.cat([two_heads, rows(0.9, 0.05, 0.05, 0.0).expand(1, 2, 4, 4)])
    one_batch = summary_of([pair])
    sums = _Sums()
    for i in range(2):
        sums.add(AttentionMaps(encoder=[pair[i:i + 1]], kinds=["attention"]), 1, corner=16)
    assert summarise(sums, 1, True).layers["to_cls"] == pytest.approx(one_batch.layers["to_cls"])
    assert one_batch.layers["to_cls"][0] == pytest.approx((received[0].item() + 0.9) / 2)


def test_registers_are_prefix_tokens_not_patches():
    # [CLS], one register, two patches
    s = summary_of([rows(0.5, 0.2, 0.15, 0.15)], prefix=2)
    L = s.layers
    assert L["to_other"] == pytest.approx([(0.2 + 0.15 + 0.15) / 3]) and L["to_patch"] == pytest.approx([0.15])
    assert L["cls_ratio"] == pytest.approx([0.5 / (0.5 / 3)]) and L["sink_ratio"] == pytest.approx([0.5 / 0.15])
    assert L["prefix_share"] == pytest.approx([0.7])
    assert s.sink_score == pytest.approx(0.5 / 0.15)


def test_no_class_token_no_sink_score():
    s = summary_of([rows(0.7, 0.1, 0.1, 0.1)], prefix=0, has_cls=False)
    assert s.sink_score is None and s.sink_view == "" and np.isnan(s.layers["cls_ratio"]).all()
    assert s.layers["top_share"] == pytest.approx([0.7])


def test_the_decoder_view_of_hand_made_maps():
    enc = rows(0.25, 0.25, 0.25, 0.25)
    dec = [torch.tensor([[[0.1, 0.1, 0.1, 0.7]]]), torch.tensor([[[0.2, 0.2, 0.2, 0.4]]])]   # 3 patches, then c
    s = summary_of([enc, enc], prefix=0, has_cls=False, decoder=dec)
    assert s.layers["dec_self"] == pytest.approx([0.7, 0.4]) and s.layers["dec_patch"] == pytest.approx([0.1, 0.2])
    assert s.layers["dec_ratio"] == pytest.approx([7.0, 2.0])
    assert s.sink_view == "decoder" and s.sink_score == pytest.approx(4.5)


def test_corners_are_the_top_left_16_by_16_mean_over_images_and_heads():
    torch.manual_seed(0)
    big = torch.rand(3, 2, 20, 20).softmax(-1)
    small = torch.rand(3, 2, 10, 10).softmax(-1)
    s = summary_of([big, small])
    assert s.corners.shape == (2, 16, 16)
    np.testing.assert_allclose(s.corners[0], big[:, :, :16, :16].mean(dim=(0, 1)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(s.corners[1, :10, :10], small.mean(dim=(0, 1)).numpy(), rtol=1e-6)
    assert np.isnan(s.corners[1, 10:]).all() and np.isnan(s.corners[1, :, 10:]).all()


def test_the_corner_figure_shows_those_values():
    from editrepro.analysis.plots import corner_figure

    torch.manual_seed(0)
    s = summary_of([torch.rand(2, 3, 20, 20).softmax(-1) for _ in range(7)])
    fig = corner_figure(s, "hand-made")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 7
    for layer, image in enumerate(shown):
        np.testing.assert_array_equal(np.asarray(image), s.corners[layer])
    norms = {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in fig.axes if ax.images}
    assert norms == {(float(np.nanmin(s.corners)), float(np.nanmax(s.corners)))}      # one colour scale


@pytest.mark.parametrize("ratios,verdict,above", [([11, 12, 30], "every layer", 3), ([11, 12, 3], "most layers", 2),
                                                  ([11, 2, 3, 4], "some layers", 1), ([1, 2], "no layer", 0),
                                                  ([10.0, 10.0], "no layer", 0), ([None], "not measured", 0)])
def test_the_claim_verdict(ratios, verdict, above):
    c = claim_verdict(ratios)
    assert (c["verdict"], c["above"]) == (verdict, above)


def _hand_received(model, images):
    """Each layer's mean received attention, from q and k computed here off each block's input (softmax(q k^T))."""
    inputs = []
    hooks = [blk.attn.register_forward_pre_hook(lambda m, a: inputs.append((m, a[0]))) for blk in model.blocks]
    with torch.no_grad():
        model(images)
    for h in hooks:
        h.remove()
    out = []
    for attn, x in inputs:
        x = x.detach()
        B, T, C = x.shape
        with torch.no_grad():
            qkv = attn.qkv(x)
        q, k, _ = qkv.reshape(B, T, 3, attn.num_heads, C // attn.num_heads).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (C // attn.num_heads) ** -0.5).softmax(-1)
        out.append(a.mean(dim=(0, 1, 2)))
    return out


def test_a_vit_with_registers_counts_them_as_prefix_tokens():
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", reg_tokens=4, img_size=64, depth=3).eval()
    assert model.num_prefix_tokens == 5
    images = torch.randn(2, 3, 64, 64)
    s = attention_summary(model, images)
    assert s.prefix_tokens == 5 and s.has_cls and s.depth == 3
    for layer, received in enumerate(_hand_received(model, images)):
        r = received.numpy()
        assert s.layers["prefix_share"][layer] == pytest.approx(r[:5].sum(), rel=1e-5)
        assert s.layers["to_cls"][layer] == pytest.approx(r[0], rel=1e-5)
        assert s.layers["to_other"][layer] == pytest.approx(r[1:].mean(), rel=1e-5)     # registers and patches
        assert s.layers["to_patch"][layer] == pytest.approx(r[5:].mean(), rel=1e-5)     # the 16 patches only


def test_edit_is_read_through_its_decoder():
    torch.manual_seed(0)
    model = timm.create_model("edit_tiny_patch16_224", img_size=48, depth=3).eval()
    with torch.no_grad():
        model.cls_token.normal_()
    images = torch.randn(2, 3, 48, 48)
    seen = []
    hook = model.decoder.register_forward_pre_hook(lambda m, a: seen.append(a))
    s = attention_summary(model, images)
    hook.remove()
    assert s.prefix_tokens == 0 and not s.has_cls and s.sink_view == "decoder" and s.depth == 3
    expected = []
    for x, c in ((x.detach(), c.detach()) for x, c in seen):   # by hand: [CLS]'s query over [patches, itself]
        states = torch.cat([x, c], dim=1)
        k = model.decoder.kv(states)[..., :model.embed_dim]
        a = ((c @ k.transpose(-2, -1)) * model.embed_dim ** -0.5).softmax(-1)[:, 0]        # (B, N + 1)
        expected.append((a[:, -1].mean().item(), a[:, :-1].mean().item()))
    assert s.layers["dec_self"] == pytest.approx([e[0] for e in expected], rel=1e-5)
    assert s.layers["dec_patch"] == pytest.approx([e[1] for e in expected], rel=1e-5)
    assert s.sink_score == pytest.approx(np.mean([a / b for a, b in expected]), rel=1e-5)
    assert s.layers["top_share"].shape == (3,)        # the encoder's view: patches only
    assert all(len(r) == 9 for r in s.received)


@pytest.mark.parametrize("name", ["eva02_tiny_patch14_224", "resnet18"])
def test_a_model_whose_attention_is_not_read_gets_a_clear_error(name):
    model = timm.create_model(name, img_size=28) if name.startswith("eva") else timm.create_model(name)
    size = 28 if name.startswith("eva") else 32
    with pytest.raises(ValueError, match=rf"model '{name}': .*no attention module this package reads maps from.*"
                                         r"timm ViT-family models built on timm.layers.Attention"):
        attention_summary(model.eval(), torch.randn(1, 3, size, size), name=name)
