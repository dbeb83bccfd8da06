"""Attention maps: shapes, normalisation, and that they are the weights the fused path applied."""
import pytest
import timm
import torch

from editrepro.models import capture_attention

SMALL = dict(img_size=48, num_classes=5)  # 3 x 3 = 9 patches


@pytest.mark.parametrize("name,tokens", [("edit_small_patch16_224", 9), ("deit3_ref_small_patch16_224", 10)])
def test_encoder_maps_shape_and_rows_sum_to_one(name, tokens):
    model = timm.create_model(name, **SMALL).eval()
    with capture_attention(model) as maps:
        model(torch.randn(2, 3, 48, 48))
    assert len(maps.encoder) == 12
    for a in maps.encoder:
        assert a.shape == (2, 6, tokens, tokens)
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 6, tokens))
        assert (a >= 0).all()


def test_decoder_maps_shape_rows_and_patch_images():
    model = timm.create_model("edit_small_patch16_224", **SMALL).eval()
    with torch.no_grad():
        model.cls_token.normal_()
    with capture_attention(model) as maps:
        model(torch.randn(2, 3, 48, 48))
    assert len(maps.decoder) == 12
    for a in maps.decoder:
        assert a.shape == (2, 1, 9 + 1)                # over the 9 patches and the previous [CLS] state
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 1))
    images = maps.decoder_patch_maps(model.patch_embed.grid_size)
    assert images.shape == (12, 2, 3, 3)
    torch.testing.assert_close(images[4, 1].flatten(), maps.decoder[4][1, 0, :9])


@pytest.mark.parametrize("name", ["edit_small_patch16_224", "deit3_ref_small_patch16_224"])
def test_maps_are_the_weights_the_fused_kernel_applied(name):
    """maps @ v must equal what the fused scaled_dot_product_attention produced inside the model."""
    model = timm.create_model(name, **SMALL).eval()
    attn = model.blocks[5].attn
    assert attn.fused_attn  # the ordinary path is the fused one
    seen = {}
    h1 = attn.qkv.register_forward_hook(lambda m, i, o: seen.__setitem__("qkv", o))
    h2 = attn.proj.register_forward_pre_hook(lambda m, i: seen.__setitem__("ctx", i[0]))
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad(), capture_attention(model) as maps:
        out = model(x)
    h1.remove(), h2.remove()
    B, T, _ = seen["qkv"].shape
    v = seen["qkv"].reshape(B, T, 3, attn.num_heads, attn.head_dim)[:, :, 2].transpose(1, 2)
    ctx = (maps.encoder[5] @ v).transpose(1, 2).reshape(B, T, -1)
    torch.testing.assert_close(ctx, seen["ctx"], rtol=1e-5, atol=1e-5)
    # and the manual (non-fused) path computes the same model
    for block in model.blocks:
        block.attn.fused_attn = False
    with torch.no_grad():
        torch.testing.assert_close(model(x), out, rtol=1e-5, atol=1e-5)


def test_no_hook_survives_the_capture():
    model = timm.create_model("edit_tiny_patch16_224", **SMALL).eval()
    with capture_attention(model) as maps:
        model(torch.randn(1, 3, 48, 48))
    model(torch.randn(1, 3, 48, 48))
    assert len(maps.encoder) == 12 and len(maps.decoder) == 12
    assert all(not m._forward_hooks for m in model.modules())


def test_a_model_without_attention_is_refused():
    with pytest.raises(ValueError, match="no attention module this package reads maps from"):
        with capture_attention(torch.nn.Linear(2, 2)):
            pass


def test_layer_similarity_against_hand_computed_values():
    from editrepro.models import layer_similarity

    a = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])                  # (B=1, heads=1, 2, 2)
    b = torch.tensor([[[[0.5, 0.5], [0.5, 0.5]]]])
    c = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    # cos(a, b) = 1 / (sqrt(2) * 1) ; cos(b, c) = 1 / (1 * sqrt(2)); two heads averaged, a pyramid's boundary: NaN
    sims = layer_similarity([a, b, c, torch.ones(1, 1, 4, 2)])
    assert sims[:2] == pytest.approx([2 ** -0.5, 2 ** -0.5]) and sims[2] != sims[2]
    two_heads = layer_similarity([torch.cat([a, a], 1), torch.cat([a, b], 1)])
    assert two_heads == pytest.approx([(1 + 2 ** -0.5) / 2])
    two_images = layer_similarity([torch.cat([a, c]), torch.cat([a, a])])     # cos(c, a) = 1 / 2
    assert two_images == pytest.approx([(1 + 0.5) / 2])
