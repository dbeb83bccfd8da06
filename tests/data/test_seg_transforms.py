"""Segmenter's joint transforms: alignment, ignore padding, cat_max_ratio, evaluation sizes."""
import colorsys

import numpy as np
import pytest
import torch
from PIL import Image

from editrepro.data import build_dataset, build_seg_eval_transform, build_seg_train_transform
from editrepro.data.seg_transforms import (
    _hsv_to_rgb, _rgb_to_hsv, photometric_distortion, random_crop_box,
)

IDENTITY = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # output = pixels / 255
SQUARE, BACKGROUND = (250, 20, 20), (20, 20, 250)


def _scene(w=120, h=90, box=(10, 20, 50, 60)):
    """A red square (label 3) left of centre on blue (label 1): flips and crops show in both."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = BACKGROUND
    mask = np.ones((h, w), np.uint8)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = SQUARE
    mask[y0:y1, x0:x1] = 3
    return Image.fromarray(img), Image.fromarray(mask)


def _interior(mask, label):
    """Pixels of ``label`` whose 3x3 neighbourhood is all ``label`` (resizing blurs edges)."""
    m = torch.nn.functional.pad((mask == label).float()[None, None], (1, 1, 1, 1))
    return (-torch.nn.functional.max_pool2d(-m, 3, stride=1))[0, 0].bool()


def test_train_keeps_image_and_mask_aligned_through_resize_crop_and_flip():
    image, mask = _scene()
    tf = build_seg_train_transform(48, base_size=(160, 60), photometric=False, cat_max_ratio=1.0,
                                   **IDENTITY)
    square, background = torch.tensor(SQUARE) / 255, torch.tensor(BACKGROUND) / 255
    torch.manual_seed(0)
    flipped = 0
    for _ in range(40):
        x, y = tf(image, mask)
        assert x.shape == (3, 48, 48) and y.shape == (48, 48) and y.dtype == torch.int64
        assert set(y.unique().tolist()) <= {1, 3, 255}
        for label, colour in ((3, square), (1, background)):
            inside = _interior(y, label)
            if inside.any():
                expected = colour.view(3, 1).expand(3, int(inside.sum()))
                assert torch.allclose(x[:, inside], expected, atol=1e-3)
        cols = torch.nonzero(y == 3)[:, 1]
        if len(cols) and (y == 255).sum() == 0:
            flipped += cols.float().mean() > 24  # the square sits left; after a flip it sits right
    assert flipped > 0


def test_train_pads_with_zero_and_ignore():
    image, mask = _scene(w=30, h=20, box=(2, 2, 10, 10))
    tf = build_seg_train_transform(64, base_size=(30, 20), ratio_range=(1.0, 1.0),
                                   photometric=False, hflip=False)
    x, y = tf(image, mask)
    assert x.shape == (3, 64, 64) and y.shape == (64, 64)
    assert (y[20:, :] == 255).all() and (y[:, 30:] == 255).all() and (y[:20, :30] != 255).all()
    assert (x[:, 20:, :] == 0).all() and (x[:, :, 30:] == 0).all()


def test_photometric_distortion_changes_the_image_not_the_mask():
    image, mask = _scene()
    plain = build_seg_train_transform(48, base_size=(160, 60), photometric=False)
    distorted = build_seg_train_transform(48, base_size=(160, 60), photometric=True)
    changed = 0
    for s in range(10):
        torch.manual_seed(s)
        x0, y0 = plain(image, mask)
        torch.manual_seed(s)
        x1, y1 = distorted(image, mask)
        assert torch.equal(y0, y1)
        changed += not torch.allclose(x0, x1)
    assert changed >= 5
    torch.manual_seed(0)
    for _ in range(20):
        out = photometric_distortion(torch.rand(3, 8, 8) * 255)
        assert out.min() >= 0 and out.max() <= 255 + 1e-3


def test_hsv_round_trip_matches_colorsys():
    x = torch.rand(3, 5, 7)
    hsv = _rgb_to_hsv(x)
    ref = [colorsys.rgb_to_hsv(*x[:, i, j].tolist()) for i in range(5) for j in range(7)]
    assert torch.allclose(hsv.permute(1, 2, 0).reshape(-1, 3), torch.tensor(ref), atol=1e-5)
    assert torch.allclose(_hsv_to_rgb(hsv), x, atol=1e-5)


def test_cat_max_ratio_redraws_dominated_crops():
    mask = torch.zeros(100, 100, dtype=torch.long)
    mask[:, 50:] = 1  # a 50 x 50 crop is one class unless it straddles x = 50 by >= 13 px
    mask[:5, :] = 255  # ignore does not count

    def balanced(box):
        t, l, h, w = box
        crop = mask[t:t + h, l:l + w]
        _, counts = torch.unique(crop[crop != 255], return_counts=True)
        return len(counts) > 1 and counts.max() / counts.sum() < 0.75

    torch.manual_seed(0)
    with_rule = sum(balanced(random_crop_box(mask, (50, 50), 0.75)) for _ in range(200))
    without = sum(balanced(random_crop_box(mask, (50, 50), 1.0)) for _ in range(200))
    assert with_rule >= 190 and without < 120


def test_eval_resizes_the_short_side_and_keeps_the_mask():
    image, mask = _scene(w=120, h=90)
    x, y = build_seg_eval_transform(64)(image, mask)
    assert x.shape == (3, 64, 85) and y.shape == (90, 120)  # mask at the annotation's resolution
    assert torch.equal(y, torch.from_numpy(np.array(mask)).long())
    x2, y2 = build_seg_eval_transform(64, resize_mask=True)(image, mask)
    assert torch.equal(x, x2) and y2.shape == (64, 85) and set(y2.unique().tolist()) == {1, 3}
    tall, _ = build_seg_eval_transform(32)(image.transpose(Image.TRANSPOSE),
                                           mask.transpose(Image.TRANSPOSE))
    assert tall.shape == (3, 43, 32)


def test_ade20k_with_joint_transforms(demo):
    train = build_dataset("ade20k", demo["ade20k"], "train", build_seg_train_transform(64))
    val = build_dataset("ade20k", demo["ade20k"], "val", build_seg_eval_transform(64))
    torch.manual_seed(0)
    x, y = train[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert y.shape == (64, 64) and y.dtype == torch.int64
    assert y.max() == 255 or y.max() < 150  # ignore or a class
    x, y = val[0]
    assert min(x.shape[1:]) == 64 and y.shape == np.asarray(val.load_mask(0)).shape


def test_mismatched_sizes_are_refused():
    image, mask = _scene()
    with pytest.raises(ValueError, match="mask"):
        build_seg_eval_transform(32)(image, mask.resize((10, 10)))
