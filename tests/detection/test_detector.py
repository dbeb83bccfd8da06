"""RetinaNet over the pipeline's pyramid backbones: the adapter's declared pyramid, the counts against
PVTv2's published detectors, and the detector's losses and predictions on COCO-format data."""
import pytest
import torch

from editrepro.detection import BackboneFPN, create_detector, detector_complexity
from editrepro.models.pyramid import PyramidFeatures

SMALL = {"depths": [1, 1, 2, 2]}


@pytest.mark.parametrize("arch", ["lavit_tiny_224", "pvt_v2_b1"])
def test_adapter_gives_the_fpn_the_strides_and_channels_it_declares(arch):
    body = PyramidFeatures(arch, img_size=64, levels=(1, 2, 3), model_kwargs=SMALL)
    assert body.strides == [8, 16, 32] and body.channels == [128, 320, 512]
    x = torch.randn(2, 3, 96, 160)                         # not square, not the size LaViT was built for
    feats = body(x)
    for f, stride, channels in zip(feats, body.strides, body.channels):
        assert f.shape == (2, channels, 96 // stride, 160 // stride)
    fpn = BackboneFPN(body, out_channels=32)
    out = fpn(x)
    assert list(out) == ["p3", "p4", "p5", "p6", "p7"] and fpn.strides == [8, 16, 32, 64, 128]
    for f, stride in zip(out.values(), fpn.strides):
        assert f.shape[:2] == (2, 32) and f.shape[-2:] == (-(-96 // stride), -(-160 // stride))


def test_a_vit_is_refused_as_a_dense_backbone():
    with pytest.raises(ValueError, match="pyramid backbone"):
        PyramidFeatures("deit3_ref_small_patch16_224")


@pytest.mark.parametrize("arch, published", [("pvt_v2_b1", 23.8), ("pvt_v2_b2", 35.1)])
def test_whole_detector_matches_pvtv2s_published_retinanet(arch, published):
    """PVTv2's paper prints RetinaNet's parameters with its backbones (b1 23.8M, b2 35.1M): the adapter,
    torchvision's FPN with P6/P7 on C5 and its heads with 80 classes land on them."""
    counts = detector_complexity(arch)
    assert counts["params_m"] == pytest.approx(published, rel=0.005)
    assert counts["gmacs"] > 150                           # a whole detector at 1280 x 800, not a backbone


def test_losses_and_predictions_on_the_demo_coco_set(demo):
    from editrepro.data import build_dataset
    from editrepro.data.det_transforms import build_det_train_transform, detection_collate

    data = build_dataset("coco", demo["coco"], "train", transform=build_det_train_transform())
    images, targets = detection_collate([data[i] for i in range(3)])
    det = create_detector("pvt_v2_b1", data.num_classes, min_size=96, max_size=160, fpn_channels=32,
                          backbone_kwargs=SMALL)
    det.train()
    losses = det(images, targets)
    assert set(losses) == {"classification", "bbox_regression"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    body = det.backbone.body.model
    assert body.patch_embed.proj.weight.grad is not None and det.head.classification_head.cls_logits.weight.grad.abs().sum() > 0
    det.eval()
    det.score_thresh = 0.0                                  # every candidate: their boxes are in the original pixels
    with torch.no_grad():
        out = det(images)
    for o, image in zip(out, images):
        H, W = image.shape[-2:]
        assert len(o["boxes"]) > 0 and o["boxes"][:, [0, 2]].max() <= W + 1e-3 and o["boxes"][:, [1, 3]].max() <= H + 1e-3
        assert int(o["labels"].max()) < data.num_classes
