"""Semantic FPN and UperNet heads: shapes, hand-counted parameters, gradients, and learning on the demo ADE20K."""
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from editrepro.data import build_dataset, build_seg_eval_transform, build_seg_train_transform
from editrepro.segmentation import ConfusionMatrix, sliding_window_logits
from editrepro.segmentation.heads import (
    HEADS,
    DenseSegmenter,
    FCNAuxHead,
    SemanticFPNHead,
    UperNetHead,
    build_head,
)

PAPER_CHANNELS = [64, 128, 320, 512]                                          # PVTv2-b2 / LaViT
SMALL = {"semantic_fpn": {"fpn_channels": 32, "head_channels": 32},
         "upernet": {"channels": 32, "aux_channels": 16}}


class TimmPyramid(nn.Module):
    """A timm ``features_only`` model with the backbone interface the heads take."""

    def __init__(self, name: str = "pvt_v2_b0", **kwargs):
        super().__init__()
        self.body = timm.create_model(name, features_only=True, out_indices=(0, 1, 2, 3), **kwargs)
        self.channels = self.body.feature_info.channels()
        self.strides = self.body.feature_info.reduction()

    def forward(self, x):
        return self.body(x)


def small_model(kind: str, num_classes: int = 150, **options) -> DenseSegmenter:
    backbone = TimmPyramid(depths=[1, 1, 1, 1])
    head, aux = build_head(kind, backbone.channels, num_classes, **{**SMALL[kind], **options})
    return DenseSegmenter(backbone, head, aux)


# --- shapes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", HEADS)
def test_logits_at_the_input_size(kind):
    model = small_model(kind, num_classes=7)
    images = torch.randn(2, 3, 64, 96)                                         # non-square, sides / 32
    model.train()
    out = model(images)
    if kind == "upernet":
        logits, extra = out
        assert set(extra) == {"aux"} and extra["aux"].shape == (2, 7, 64, 96)
    else:
        logits = out                                                           # no aux head: plain logits
    assert logits.shape == (2, 7, 64, 96)
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 7, 64, 96)


@pytest.mark.parametrize("kind", HEADS)
def test_heads_work_at_stride_4(kind):
    head, aux = build_head(kind, PAPER_CHANNELS[:2] + [40, 48], 5, **SMALL[kind])
    feats = [torch.randn(2, c, 80 // s, 48 // s) for c, s in zip(PAPER_CHANNELS[:2] + [40, 48], (4, 8, 16, 32))]
    assert head.eval()(feats).shape == (2, 5, 20, 12)
    if aux is not None:
        assert aux.eval()(feats).shape == (2, 5, 5, 3)                         # the stride-16 level
    # sides that strides do not divide (rounded up by the backbone) still come out at level 0's size
    odd = [torch.randn(1, c, -(-70 // s), -(-100 // s)) for c, s in zip(PAPER_CHANNELS[:2] + [40, 48], (4, 8, 16, 32))]
    assert head(odd).shape == (1, 5, 18, 25)


def test_semantic_fpn_neck_is_torchvisions_fpn():
    head = SemanticFPNHead([8, 16, 24, 32], 3, fpn_channels=16, channels=8)
    assert head.neck.extra_blocks is None and len(head.neck.inner_blocks) == 4
    assert all(block[0].bias is not None and len(block) == 1 for block in head.neck.inner_blocks)  # no norm
    # scale heads: max(1, i) conv blocks, each followed by a x2 upsample except at level 0
    convs = [sum(isinstance(m, nn.Conv2d) for m in h.modules()) for h in head.scale_heads]
    ups = [sum(isinstance(m, nn.Upsample) for m in h.modules()) for h in head.scale_heads]
    assert convs == [1, 1, 2, 3] and ups == [0, 1, 2, 3]


def test_builder_defaults_and_refusals():
    with torch.device("meta"):
        fpn, none = build_head("semantic_fpn", PAPER_CHANNELS, 150)
        uper, aux = build_head("upernet", PAPER_CHANNELS, 150)
        _, no_aux = build_head("upernet", PAPER_CHANNELS, 150, aux=False)
    assert isinstance(fpn, SemanticFPNHead) and isinstance(uper, UperNetHead) and isinstance(aux, FCNAuxHead)
    assert none is None and no_aux is None
    assert fpn.neck.inner_blocks[0][0].out_channels == 256 and fpn.conv_seg.in_channels == 128
    assert uper.conv_seg.in_channels == 512 and [m[0].output_size for m in uper.psp_modules] == [1, 2, 3, 6]
    assert aux.in_index == 2 and aux.in_channels == 320 and aux.conv_seg.in_channels == 256
    assert isinstance(fpn.dropout, nn.Dropout2d) and fpn.dropout.p == 0.1
    with pytest.raises(ValueError, match="unknown head"):
        build_head("segformer", PAPER_CHANNELS, 150)
    with pytest.raises(TypeError, match="fpn_channels"):
        build_head("upernet", PAPER_CHANNELS, 150, fpn_channels=64)
    with pytest.raises(TypeError, match="head_channels"):                      # UperNet's width is `channels`
        build_head("upernet", PAPER_CHANNELS, 150, head_channels=64)
    with torch.device("meta"):
        assert build_head("upernet", PAPER_CHANNELS, 150, channels=96)[0].conv_seg.in_channels == 96


def test_segmenter_checks_the_backbone_and_passes_no_weight_decay_on():
    backbone = TimmPyramid(depths=[1, 1, 1, 1])
    head, _ = build_head("semantic_fpn", PAPER_CHANNELS, 5, **SMALL["semantic_fpn"])
    with pytest.raises(ValueError, match="channels"):
        DenseSegmenter(backbone, head)
    head, aux = build_head("upernet", backbone.channels, 5, **SMALL["upernet"])
    model = DenseSegmenter(backbone, head, aux)
    assert model.num_classes == 5 and model.no_weight_decay() == set()
    backbone.no_weight_decay = lambda: {"body.pos_embed"}
    assert model.no_weight_decay() == {"backbone.body.pos_embed"}


def test_initialisation_as_mmseg():
    torch.manual_seed(0)
    head, aux = build_head("upernet", PAPER_CHANNELS, 150)
    for classifier in (head.conv_seg, aux.conv_seg):
        assert classifier.weight.std().item() == pytest.approx(0.01, rel=0.05) and not classifier.bias.any()
    conv = head.fpn_bottleneck[0]                                              # kaiming normal, fan_out, ReLU
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert conv.bias is None and conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.02)
    bn = head.fpn_bottleneck[1]
    assert isinstance(bn, nn.BatchNorm2d) and bool((bn.weight == 1).all()) and not bn.bias.any()
    fpn, _ = build_head("semantic_fpn", PAPER_CHANNELS, 150)
    lateral = fpn.neck.inner_blocks[3][0].weight                               # Xavier uniform, zero bias
    bound = (6 / (512 + 256)) ** 0.5
    assert lateral.abs().max().item() <= bound and lateral.abs().max().item() > 0.95 * bound
    assert not fpn.neck.inner_blocks[3][0].bias.any()


def test_norm_layer_option():
    head, aux = build_head("upernet", [8, 16, 24, 32], 3, channels=16, aux_channels=8,
                           norm_layer=lambda c: nn.GroupNorm(4, c))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in head.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in head.modules()) == 4 + 1 + 3 + 3 + 1
    plain, _ = build_head("semantic_fpn", [8, 16, 24, 32], 3, fpn_channels=8, head_channels=8, norm_layer=None)
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Conv2d))   # bias="auto"


# --- parameters, counted by hand from the layer definitions ----------------------------------------

def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def conv_bn(cin, cout, k):                                                    # conv without bias, BN affine
    return conv(cin, cout, k, bias=False) + 2 * cout


def semantic_fpn_count(channels, classes, fpn=256, width=128):
    neck = sum(conv(c, fpn, 1) + conv(fpn, fpn, 3) for c in channels)
    scale_heads = sum(conv_bn(fpn, width, 3) + (max(1, i) - 1) * conv_bn(width, width, 3) for i in range(4))
    return neck + scale_heads + conv(width, classes, 1)


def upernet_count(channels, classes, width=512, scales=4):
    ppm = scales * conv_bn(channels[-1], width, 1) + conv_bn(channels[-1] + scales * width, width, 3)
    fpn = sum(conv_bn(c, width, 1) + conv_bn(width, width, 3) for c in channels[:-1])
    return ppm + fpn + conv_bn(4 * width, width, 3) + conv(width, classes, 1)


def fcn_aux_count(cin, classes, width=256):
    return conv_bn(cin, width, 3) + conv(width, classes, 1)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_parameters_at_the_papers_widths():
    with torch.device("meta"):
        fpn, _ = build_head("semantic_fpn", PAPER_CHANNELS, 150)
        uper, aux = build_head("upernet", PAPER_CHANNELS, 150)
        b2 = timm.create_model("pvt_v2_b2", features_only=True, out_indices=(0, 1, 2, 3))
    assert n_params(fpn) == semantic_fpn_count(PAPER_CHANNELS, 150) == 4_266_646
    assert n_params(uper) == upernet_count(PAPER_CHANNELS, 150) == 29_711_510
    assert n_params(aux) == fcn_aux_count(320, 150) == 776_342
    # PVTv2's paper: Semantic FPN on PVTv2-B2 for ADE20K has 29.1M parameters
    assert (n_params(b2) + n_params(fpn)) / 1e6 == pytest.approx(29.1, abs=0.05)
    # and the counts follow other widths (the demo's)
    small = [32, 64, 160, 256]
    with torch.device("meta"):
        fpn, _ = build_head("semantic_fpn", small, 12, fpn_channels=48, head_channels=24)
        uper, aux = build_head("upernet", small, 12, channels=40, aux_channels=16, pool_scales=(1, 3))
    assert n_params(fpn) == semantic_fpn_count(small, 12, fpn=48, width=24)
    assert n_params(uper) == upernet_count(small, 12, width=40, scales=2)
    assert n_params(aux) == fcn_aux_count(160, 12, width=16)


# --- gradients ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", HEADS)
def test_gradients_reach_every_parameter(kind):
    torch.manual_seed(0)
    model = small_model(kind, num_classes=6).train()
    images, target = torch.randn(2, 3, 64, 64), torch.randint(0, 6, (2, 64, 64))
    out = model(images)
    if isinstance(out, tuple):
        loss = F.cross_entropy(out[0], target) + 0.4 * F.cross_entropy(out[1]["aux"], target)
    else:
        loss = F.cross_entropy(out, target)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    assert any(n.startswith("aux_head.") for n, _ in model.named_parameters()) == (kind == "upernet")


# --- learning on the demo ADE20K -------------------------------------------------------------------

CROP = 64


@pytest.fixture(scope="module")
def ade(demo):
    root = demo["ade20k"]
    raw = build_dataset("ade20k", root, "train")
    counts = np.zeros(256, dtype=np.int64)
    for i in range(len(raw)):
        counts += np.bincount(np.asarray(raw.load_mask(i)).ravel(), minlength=256)
    counts[255] = 0                                                           # ignored pixels
    return {"root": root, "majority": int(counts.argmax()),
            "val": build_dataset("ade20k", root, "val", transform=build_seg_eval_transform(CROP))}


def evaluate(model, val, num_classes=150):
    cm = ConfusionMatrix(num_classes)
    model.eval()
    for i in range(len(val)):
        image, mask = val[i]                                                   # mask at its own resolution
        logits = sliding_window_logits(model, image, CROP, CROP, num_classes)
        logits = F.interpolate(logits[None], size=mask.shape, mode="bilinear", align_corners=False)[0]
        cm.update(logits.argmax(0), mask)
    return cm.compute()


def constant_prediction(val, label, num_classes=150):
    cm = ConfusionMatrix(num_classes)
    for i in range(len(val)):
        _, mask = val[i]
        cm.update(torch.full_like(mask, label), mask)
    return cm.compute()


@pytest.mark.parametrize("kind", HEADS)
def test_beats_predicting_the_most_frequent_class(kind, ade):
    torch.manual_seed(0)
    model = small_model(kind)                                                 # all 150 ADE20K classes
    train = build_dataset("ade20k", ade["root"], "train", transform=build_seg_train_transform(CROP))
    loader = torch.utils.data.DataLoader(train, batch_size=8, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    model.train()
    steps = 0
    while steps < 40:
        for images, masks in loader:
            out = model(images)
            if isinstance(out, tuple):                                        # UperNet: aux loss weighted 0.4
                loss = F.cross_entropy(out[0], masks, ignore_index=255) + 0.4 * F.cross_entropy(
                    out[1]["aux"], masks, ignore_index=255)
            else:
                loss = F.cross_entropy(out, masks, ignore_index=255)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == 40:
                break
    scores = evaluate(model, ade["val"])
    baseline = constant_prediction(ade["val"], ade["majority"])
    assert scores["pixel_acc"] > baseline["pixel_acc"], (scores["pixel_acc"], baseline["pixel_acc"])
    assert scores["miou"] > baseline["miou"], (scores["miou"], baseline["miou"])
