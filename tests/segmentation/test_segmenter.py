"""Segmenter: shapes, learning, sliding windows, multi-scale, and mIoU against hand counts and torchmetrics."""
import pytest
import torch
import torch.nn.functional as F

from editrepro.segmentation import (ConfusionMatrix, MaskTransformer, create_segmenter, mean_iou, multi_scale_logits,
                                    segmenter_params, sliding_window_logits)
from editrepro.segmentation.inference import window_starts


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    return create_segmenter("edit_tiny_patch16_224", num_classes=5, img_size=32, drop_path_rate=0.0,
                            backbone_kwargs={"depth": 2}).eval()


def test_mask_transformer_and_segmenter_shapes(segmenter):
    dec = MaskTransformer(d_encoder=192, n_cls=7)
    assert dec(torch.randn(2, 6, 192), (2, 3)).shape == (2, 7, 2, 3)
    assert len(dec.blocks) == 2 and dec.blocks[0].attn.num_heads == 3          # heads = width // 64
    assert segmenter(torch.randn(3, 3, 32, 32)).shape == (3, 5, 32, 32)


def test_deit3_and_vit_backbones_drop_their_class_token():
    for name in ("deit3_ref_tiny_patch16_224", "vit_tiny_patch16_224"):
        m = create_segmenter(name, num_classes=4, img_size=48, backbone_kwargs={"depth": 1})
        assert m(torch.randn(1, 3, 48, 48)).shape == (1, 4, 48, 48)


def test_parameters_at_the_papers_size():
    # DeiT3-S backbone at 512 plus the Mask Transformer for ADE20K's 150 classes: the paper's 26M
    assert segmenter_params("deit3_ref_small_patch16_224") == pytest.approx(26.04e6, rel=1e-3)
    # EDIT adds its 2 D^2 decoder matrices and nothing else
    assert segmenter_params("edit_small_patch16_224") - segmenter_params("deit3_ref_small_patch16_224") == 2 * 384**2


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = create_segmenter("edit_tiny_patch16_224", num_classes=3, img_size=32, backbone_kwargs={"depth": 2})
    images = torch.randn(4, 3, 32, 32)
    masks = torch.zeros(4, 32, 32, dtype=torch.long)
    masks[:, :, 16:] = 1
    masks[:, :4] = 255                                                         # ignored pixels
    masks[0, 20:, :8] = 2
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(images), masks, ignore_index=255)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_window_positions_end_at_the_edge():
    assert window_starts(32, 32, 32) == [0]
    assert window_starts(80, 32, 32) == [0, 32, 48]
    assert window_starts(20, 32, 32) == [0]


def test_sliding_window_equals_whole_image_when_one_window_covers_it(segmenter):
    image = torch.randn(3, 32, 32)
    torch.testing.assert_close(sliding_window_logits(segmenter, image, 32, 32, 5), segmenter(image[None])[0])


def test_overlapping_windows_average_their_logits(segmenter):
    image = torch.randn(3, 32, 48)                                             # windows at x = 0 and x = 16
    out = sliding_window_logits(segmenter, image, 32, 16, 5)
    left, right = segmenter(image[None, :, :, :32])[0], segmenter(image[None, :, :, 16:])[0]
    torch.testing.assert_close(out[:, :, :16], left[:, :, :16])
    torch.testing.assert_close(out[:, :, 16:32], (left[:, :, 16:] + right[:, :, :16]) / 2)
    torch.testing.assert_close(out[:, :, 32:], right[:, :, 16:])


def test_small_images_are_padded_not_stretched(segmenter):
    image = torch.randn(3, 20, 32)
    padded = F.pad(image, (0, 0, 0, 12))
    torch.testing.assert_close(sliding_window_logits(segmenter, image, 32, 32, 5), segmenter(padded[None])[0, :, :20])


def test_multi_scale_with_one_scale_is_single_scale(segmenter):
    image = torch.randn(3, 40, 56)
    single = sliding_window_logits(segmenter, image, 32, 16, 5).softmax(0)
    torch.testing.assert_close(multi_scale_logits(segmenter, image, 32, 16, 5, scales=(1.0,), flip=False), single)
    flipped = multi_scale_logits(segmenter, image, 32, 16, 5, scales=(1.0,), flip=True)
    mirror = sliding_window_logits(segmenter, image.flip(-1), 32, 16, 5).flip(-1).softmax(0)
    torch.testing.assert_close(flipped, (single + mirror) / 2)


def test_miou_by_hand():
    cm = ConfusionMatrix(num_classes=4)
    # image 1: class 0 fully right (4 px), class 1: 2 right + 2 predicted as 0
    cm.update(torch.tensor([0, 0, 0, 0, 1, 1, 0, 0]), torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))
    # image 2: class 2 right (2 px), an ignored pixel predicted anything; class 3 absent from both
    cm.update(torch.tensor([2, 2, 1]), torch.tensor([2, 2, 255]))
    r = cm.compute()
    # IoU0 = 4 / (6 + 4 - 4) = 4/6, IoU1 = 2 / (2 + 4 - 2) = 1/2, IoU2 = 1, class 3 left out
    assert r["miou"] == pytest.approx(100 * (4 / 6 + 1 / 2 + 1) / 3)
    assert r["classes_present"] == 3 and r["pixel_acc"] == pytest.approx(100 * 8 / 10)


def test_dataset_level_miou_is_not_the_mean_of_image_mious():
    a = (torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 0, 0]))      # class 1 only predicted here
    b = (torch.tensor([1, 1, 1, 1]), torch.tensor([1, 1, 1, 1]))
    cm = ConfusionMatrix(2)
    for p, t in (a, b):
        cm.update(p, t)
    per_image = [mean_iou(torch.bincount(t * 2 + p, minlength=4).reshape(2, 2))["miou"] for p, t in (a, b)]
    assert cm.compute()["miou"] == pytest.approx(100 * (3 / 4 + 4 / 5) / 2)
    assert cm.compute()["miou"] != pytest.approx(sum(per_image) / 2)


def test_miou_agrees_with_torchmetrics():
    torchmetrics = pytest.importorskip("torchmetrics", reason="pip install -e '.[test]' for the cross-check")
    jaccard = torchmetrics.classification.MulticlassJaccardIndex(num_classes=8, average="macro", ignore_index=255)
    cm = ConfusionMatrix(8)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        target = torch.randint(0, 6, (24, 24), generator=g)            # 6, 7 absent from the targets
        pred = torch.randint(0, 7, (24, 24), generator=g)              # 7 absent from both: left out
        target[:3] = 255
        jaccard.update(pred[None], target[None])
        cm.update(pred, target)
    assert cm.compute()["miou"] == pytest.approx(100 * jaccard.compute().item(), abs=1e-4)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="0..3 or 255"):
        ConfusionMatrix(4).update(torch.tensor([0]), torch.tensor([7]))
