"""EDIT against the paper's equations, and the timm interface a user relies on."""
import math

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.optim import param_groups_weight_decay

from editrepro.models import EDIT, DeiT3, create_model, list_models

SMALL = dict(img_size=32, num_classes=7)  # 2 x 2 patches: every variant runs in milliseconds


def paper_forward(model: EDIT, x: torch.Tensor) -> torch.Tensor:
    """EDIT written from the paper's equations with the model's weights, independently of its code."""
    D = model.embed_dim
    w_k, w_v = model.decoder.kv.weight[:D], model.decoder.kv.weight[D:]
    X = model.patch_embed(x) + model.pos_embed                       # patches only, no [CLS]
    c = model.cls_token.expand(x.shape[0], 1, D)                    # c_0
    for block in model.blocks:
        X = block(X)                                                 # X_i
        S = torch.cat([X, c], dim=1)                                 # S_i = concat(X_i, c_{i-1})
        a = torch.softmax(c @ (S @ w_k.T).transpose(1, 2) / math.sqrt(D), dim=-1)
        c = c + F.layer_norm(a @ (S @ w_v.T), (D,), eps=1e-6)        # c_i = c_{i-1} + LN(a_i S_i W_v)
    return model.head(model.norm(c)[:, 0])


@pytest.mark.parametrize("name", [n for n in list_models() if not n.startswith("lavit_")])   # LaViT: test_lavit.py
def test_forward_backward_every_variant(name):
    model = timm.create_model(name, drop_path_rate=0.1, **SMALL)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 7)
    out.logsumexp(-1).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


@pytest.mark.parametrize("name", ["edit_tiny_patch16_224", "edit_small_patch16_224"])
def test_matches_the_papers_equations(name):
    model = timm.create_model(name, **SMALL).eval()
    with torch.no_grad():
        model.cls_token.normal_()  # a non-trivial c_0 so the first step's attention is not uniform
        x = torch.randn(3, 3, 32, 32)
        torch.testing.assert_close(model(x), paper_forward(model, x), rtol=1e-5, atol=1e-5)


def test_reassociated_decoder_computes_the_same_function():
    model = timm.create_model("edit_small_patch16_224", **SMALL).eval()
    fast = timm.create_model("edit_small_patch16_224", decoder_reassociate=True, **SMALL).eval()
    fast.load_state_dict(model.state_dict())
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        model.cls_token.normal_()
        fast.cls_token.copy_(model.cls_token)
        torch.testing.assert_close(fast(x), model(x), rtol=1e-5, atol=1e-5)
    out = fast(x).sum()
    out.backward()
    assert fast.decoder.kv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("heads,qo", [(2, False), (1, True), (3, True)])
def test_decoder_variants_reassociate_too(heads, qo):
    kw = dict(decoder_heads=heads, decoder_qo_proj=qo, decoder_norm_affine=True, **SMALL)
    model = timm.create_model("edit_small_patch16_224", **kw).eval()
    fast = timm.create_model("edit_small_patch16_224", decoder_reassociate=True, **kw).eval()
    fast.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-5, atol=1e-5)


def test_features_head_and_classifier_reset():
    model = timm.create_model("edit_small_patch16_224", **SMALL).eval()
    x = torch.randn(2, 3, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (2, 1 + 4, 384)                      # [CLS] state first, then the 2 x 2 patches
    assert model.num_prefix_tokens == 1
    assert model.forward_head(feats, pre_logits=True).shape == (2, 384)
    torch.testing.assert_close(model.forward_head(feats), model.head(feats[:, 0]))
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)
    model.reset_classifier(0)
    assert model(x).shape == (2, 384)


def test_forward_intermediates_carry_the_cls_state_as_prefix():
    model = timm.create_model("edit_tiny_patch16_224", **SMALL).eval()
    x = torch.randn(2, 3, 32, 32)
    final, inter = model.forward_intermediates(x, indices=[3, 11], return_prefix_tokens=True, norm=True)
    torch.testing.assert_close(final, model.forward_features(x))
    (patches, prefix) = inter[-1]
    assert patches.shape == (2, 192, 2, 2) and prefix.shape == (2, 1, 192)
    torch.testing.assert_close(prefix[:, 0], final[:, 0])


def test_grad_checkpointing_gives_the_same_gradients():
    model = timm.create_model("edit_tiny_patch16_224", **SMALL)
    x = torch.randn(2, 3, 32, 32)
    model(x).sum().backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[n], rtol=1e-5, atol=1e-6, msg=n)


def test_no_weight_decay_covers_embeddings_norms_layerscale_and_biases():
    model = timm.create_model("edit_small_patch16_224", **SMALL)
    assert {"pos_embed", "cls_token"} <= model.no_weight_decay()
    groups = param_groups_weight_decay(model, weight_decay=0.05, no_weight_decay_list=model.no_weight_decay())
    decayed = {id(p) for p in groups[1]["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in decayed}
    assert "decoder.kv.weight" in names and "blocks.0.attn.qkv.weight" in names
    assert not any(k in n for n in names for k in ("gamma", "norm", "bias", "pos_embed", "cls_token"))


def test_drop_path_is_constant_like_the_reference_or_linear_on_request():
    model = timm.create_model("edit_small_patch16_224", drop_path_rate=0.1, **SMALL)
    assert [b.drop_path1.drop_prob for b in model.blocks] == [0.1] * 12
    linear = timm.create_model("deit3_ref_small_patch16_224", drop_path_rate=0.1, drop_path_schedule="linear", **SMALL)
    rates = [getattr(b.drop_path1, "drop_prob", 0.0) for b in linear.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1) and rates == sorted(rates)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    assert not torch.equal(model(x), model(x))  # stochastic depth acts in training
    model.eval()
    assert torch.equal(model(x), model(x))


def test_official_deit3_settings_and_edit_differ_only_in_the_decoder():
    base = timm.create_model("deit3_ref_small_patch16_224", **SMALL)
    edit = timm.create_model("edit_small_patch16_224", **SMALL)
    assert isinstance(edit, DeiT3)
    assert base.blocks[0].ls1.gamma.detach().eq(1e-4).all()
    base_shapes = {n: p.shape for n, p in base.named_parameters()}
    edit_shapes = {n: p.shape for n, p in edit.named_parameters() if not n.startswith("decoder.")}
    assert edit_shapes == base_shapes
    assert {n for n, _ in edit.named_parameters() if n.startswith("decoder.")} == {"decoder.kv.weight"}


@pytest.mark.parametrize("name,resolution", [("edit_small_patch16_224", 224), ("edit_base_patch16_384", 384),
                                             ("deit3_ref_tiny_patch16_384", 384)])
def test_pretrained_cfg(name, resolution):
    with torch.device("meta"):
        model = timm.create_model(name)
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, resolution, resolution)
    assert cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bicubic"
    assert cfg["mean"] == timm.data.IMAGENET_DEFAULT_MEAN and cfg["std"] == timm.data.IMAGENET_DEFAULT_STD
    assert tuple(model.patch_embed.img_size) == (resolution, resolution)


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown model 'edit_smal_patch16_224'.*edit_small_patch16_224"):
        create_model("edit_smal_patch16_224")
    with pytest.raises(RuntimeError, match="edit_gigantic"):
        timm.create_model("edit_gigantic_patch16_224")


def test_image_size_not_a_multiple_of_the_patch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"not a multiple of patch_size 16: use 192 or 208 instead of 200"):
        timm.create_model("edit_small_patch16_224", img_size=200)
    with pytest.raises(ValueError, match=r"not a multiple of patch_size 16"):
        timm.create_model("deit3_ref_small_patch16_224", img_size=(224, 100))
    model = timm.create_model("edit_tiny_patch16_224", **SMALL)
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, 32, 32\), got \(1, 3, 48, 48\)"):
        model(torch.randn(1, 3, 48, 48))


def test_unsupported_options_are_refused():
    with pytest.raises(ValueError, match="global_pool"):
        timm.create_model("edit_tiny_patch16_224", global_pool="avg")
    with pytest.raises(ValueError, match="reg_tokens"):
        timm.create_model("edit_tiny_patch16_224", reg_tokens=4)
    with pytest.raises(ValueError, match="decoder_heads=5"):
        timm.create_model("edit_tiny_patch16_224", decoder_heads=5)
