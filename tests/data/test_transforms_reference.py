"""The library-built transforms against the hand-built ones they replaced, seed for seed.

``fixtures/transforms_reference.npz`` holds the old implementation's outputs (how it was made, and
the cases: ``fixtures/make_transforms_reference.py``). Every classification output (train, each
recipe combination, and eval) and every segmentation eval output must be bit-identical; so must
segmentation training without flips. With flips, v2's ``RandomHorizontalFlip`` decides by
``torch.rand(1) < 0.5`` where the old code took ``torch.randint(2, ())``: the same single 32-bit
draw, so every other draw (resize ratio, crop box, photometric values) stays in step, and each
output is bit-identical either to the old one or to the old one with its crop (the unpadded
part) mirrored, image and mask together.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from editrepro.data import seg_transforms, transforms

FIXTURES = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_transforms_reference",
                                               FIXTURES / "make_transforms_reference.py")
ref_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref_cases)


@pytest.fixture(scope="module")
def reference():
    with np.load(ref_cases.REFERENCE) as f:
        ref = {k: f[k] for k in f.files}
    meta = {k[5:]: str(ref.pop(k)) for k in list(ref) if k.startswith("meta/")}
    return ref, meta


@pytest.fixture(scope="module")
def new():
    return ref_cases.outputs(transforms, seg_transforms)


def _versions_note(meta):
    now = ref_cases.versions()
    diff = {k: (meta.get(k), v) for k, v in now.items() if meta.get(k) != v}
    return f" (library versions differ from the reference's: {diff})" if diff else ""


def test_the_reference_covers_every_case(reference, new):
    ref, _ = reference
    assert set(ref) == set(new)
    kinds = {k.split("/")[1] for k in ref}
    assert set(ref_cases.CLS_TRAIN) | set(ref_cases.CLS_EVAL) | set(ref_cases.SEG_TRAIN) \
        | set(ref_cases.SEG_EVAL) == kinds


def test_classification_is_bit_identical(reference, new):
    ref, meta = reference
    for key in sorted(k for k in ref if k.startswith("cls/")):
        assert new[key].dtype == ref[key].dtype and np.array_equal(new[key], ref[key]), \
            key + _versions_note(meta)


def test_segmentation_eval_and_unflipped_training_are_bit_identical(reference, new):
    ref, meta = reference
    keys = [k for k in ref if k.startswith(("seg/seg_eval", "seg/seg_train_noflip/"))]
    assert keys
    for key in sorted(keys):
        expected = ref[key].astype(np.int64) if key.endswith("/mask") else ref[key]
        assert new[key].dtype == expected.dtype and np.array_equal(new[key], expected), \
            key + _versions_note(meta)


def _unpadded(image, mask):
    """(h, w) of the crop before padding: trailing rows / columns that are exactly the padding
    (image 0 in every channel, mask 255)."""
    pad_cols = (image == 0).all(axis=(0, 1)) & (mask == 255).all(axis=0)
    pad_rows = (image == 0).all(axis=(0, 2)) & (mask == 255).all(axis=1)
    w = len(pad_cols) - int(np.cumprod(pad_cols[::-1]).sum())
    h = len(pad_rows) - int(np.cumprod(pad_rows[::-1]).sum())
    return h, w


def test_segmentation_training_equals_the_old_one_up_to_the_flip_decision(reference, new):
    ref, meta = reference
    same = mirrored = padded = 0
    flipping = [n for n, (_, kw) in ref_cases.SEG_TRAIN.items() if kw.get("hflip", True)]
    for name in flipping:
        for s in ref_cases.SEEDS:
            key = f"seg/{name}/{s}"
            old_x, old_y = ref[key + "/image"], ref[key + "/mask"].astype(np.int64)
            x, y = new[key + "/image"], new[key + "/mask"]
            assert x.dtype == old_x.dtype and y.dtype == old_y.dtype and x.shape == old_x.shape
            h, w = _unpadded(old_x, old_y)
            padded += (h, w) != old_y.shape
            # the padding (bottom and right) is the same either way
            assert np.array_equal(x[:, h:], old_x[:, h:])
            assert np.array_equal(x[:, :, w:], old_x[:, :, w:])
            assert np.array_equal(y[h:], old_y[h:]) and np.array_equal(y[:, w:], old_y[:, w:])
            crop_x, crop_y = x[:, :h, :w], y[:h, :w]
            old_cx, old_cy = old_x[:, :h, :w], old_y[:h, :w]
            if np.array_equal(crop_x, old_cx) and np.array_equal(crop_y, old_cy):
                same += 1
            else:   # the other flip decision: image and mask both mirrored, nothing else moved
                assert np.array_equal(crop_x, old_cx[..., ::-1]), key + _versions_note(meta)
                assert np.array_equal(crop_y, old_cy[:, ::-1]), key + _versions_note(meta)
                mirrored += 1
    # the cases exercise both outcomes, and padding
    assert same and mirrored and padded, (same, mirrored, padded)


def test_photometric_transform_draws_as_the_function():
    """``PhotoMetricDistortion`` (params drawn up front, v2-style) = ``photometric_distortion``."""
    import torch
    from torchvision import tv_tensors

    img = torch.rand(3, 9, 11) * 255
    op = seg_transforms.PhotoMetricDistortion()
    for s in range(30):
        torch.manual_seed(s)
        a = seg_transforms.photometric_distortion(img.clone())
        torch.manual_seed(s)
        b = op(tv_tensors.Image(img.clone()))
        assert isinstance(b, tv_tensors.Image) and torch.equal(a, b.as_subclass(torch.Tensor))
