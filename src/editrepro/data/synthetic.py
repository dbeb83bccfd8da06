"""Synthetic images whose classes differ in shape, texture and colour: the demo data's pixels.

Class k of n is a (shape, stripe texture, hue) combination: shape k mod 6 (disk, square,
triangle, ring, cross, diamond), stripes k mod 8 (two frequencies x four orientations) and hue
k/n of the circle, so two classes differ in shape and texture or, when both repeat
(k = k' mod 24), in hue by 24/n of the circle or more. Each image draws the object's position,
size, rotation, aspect and stripe phase, a near-grey background with a gradient and a faint
distractor texture, and Gaussian noise. Segmentation scenes have two textured "stuff" regions,
one to three "thing" shapes and sometimes an unlabelled (0) blob; the mask is exactly what was
painted. Detection images (``render_objects``) have one large shape per object, and each object's
visible pixels (what the objects painted after it left) come back with the image.

Everything is vectorised NumPy in float32 over affine coordinate maps (about half a millisecond
for a 64 x 64 image), and every random draw comes from the ``Generator`` passed in.
"""
from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassStyle", "class_style", "render_image", "render_scene", "render_objects", "SHAPES",
           "STRIPES"]

SHAPES = ("disk", "square", "triangle", "ring", "cross", "diamond")
STRIPES = tuple((f, a) for f in (1.2, 2.6) for a in (0.0, 0.25 * np.pi, 0.5 * np.pi, 0.75 * np.pi))


@dataclass(frozen=True)
class ClassStyle:
    shape: str
    frequency: float  # stripe cycles per object radius
    angle: float  # stripe orientation, radians
    hue: float  # 0..1


def class_style(k: int, n: int) -> ClassStyle:
    """The look of class k of n (see the module docstring)."""
    f, a = STRIPES[k % len(STRIPES)]
    return ClassStyle(SHAPES[k % len(SHAPES)], f, a, (k / n) % 1.0)


def _colour(hue: float, saturation: float) -> np.ndarray:
    """RGB of (hue, saturation) at value 1. With hue and saturation constant over a region, HSV to
    RGB is linear in the value, so a region is ``_colour(h, s)[:, None, None] * value``."""
    return np.asarray(colorsys.hsv_to_rgb(hue % 1.0, saturation, 1.0), np.float32)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if shape == "disk":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.85
    if shape == "triangle":
        return (v <= 0.6) & (v >= -1.0 + 1.8 * np.abs(u))
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.3)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.32) & (av <= 1.0)) | ((av <= 0.32) & (au <= 1.0))
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    raise ValueError(f"unknown shape {shape!r}")


def _axes(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as a (H, 1) column of y and a (1, W) row of x: they broadcast."""
    y = np.arange(h, dtype=np.float32)[:, None] + np.float32(0.5)
    x = np.arange(w, dtype=np.float32)[None, :] + np.float32(0.5)
    return y, x


def _affine(h: int, w: int, coef: tuple[float, float, float]) -> np.ndarray:
    """``coef[0] * x + coef[1] * y + coef[2]`` over the pixel centres, (H, W) float32. Every
    coordinate map here is affine, so each costs one full-size operation."""
    y, x = _axes(h, w)
    return x * np.float32(coef[0]) + (y * np.float32(coef[1]) + np.float32(coef[2]))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Near-grey (3, H, W): a random tint, a linear gradient and a faint distractor texture."""
    a, amp, base = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.7)
    ca, sa = np.cos(a) * amp, np.sin(a) * amp
    # base + amp * (cos a (x / w - 1/2) + sin a (y / h - 1/2)): a gradient through the centre
    value = _affine(h, w, (ca / w, sa / h, base - 0.5 * (ca + sa)))
    b, k = rng.uniform(0, 2 * np.pi), 2 * np.pi * rng.uniform(0.03, 0.15)
    distract = np.sin(_affine(h, w, (k * np.cos(b), k * np.sin(b), 0.0)))
    distract *= np.float32(0.05)
    value += distract
    np.clip(value, 0, 1, out=value)
    return _colour(rng.uniform(), rng.uniform(0.0, 0.15))[:, None, None] * value


# an object's frame: u and v (in object radii) as affine maps of the pixel coordinates (x, y)
Frame = tuple[tuple[float, float, float], tuple[float, float, float]]


def _paint(rng: np.random.Generator, img: np.ndarray, region: np.ndarray, style: ClassStyle,
           frame: Frame) -> None:
    """Fill ``region`` of ``img`` with the class's colour, striped along the frame's coordinates."""
    (ux, uy, uc), (vx, vy, vc) = frame
    k = 2 * np.pi * style.frequency
    ca, sa = k * np.cos(style.angle), k * np.sin(style.angle)
    phase0 = rng.uniform(0, 2 * np.pi)
    # the stripes' phase k (u cos a + v sin a) + phase0, as an affine map of (x, y)
    coef = (ux * ca + vx * sa, uy * ca + vy * sa, uc * ca + vc * sa + phase0)
    phase = _affine(*region.shape, coef)
    value = np.sin(phase, out=phase)
    value *= np.float32(0.25)
    value += np.float32(0.7)  # 0.45..0.95
    colour = _colour(style.hue + rng.uniform(-0.025, 0.025), rng.uniform(0.6, 0.95))
    np.copyto(img, colour[:, None, None] * value, where=region)


def _object_frame(rng: np.random.Generator, h: int, w: int, radius=(0.2, 0.34),
                  center=(0.3, 0.7)) -> Frame:
    """A random object's frame: centre, radius, rotation (+-20 degrees) and stretch."""
    cy, cx = rng.uniform(*center) * h, rng.uniform(*center) * w
    r = rng.uniform(*radius) * min(h, w)
    return _frame_at(rng, cx, cy, r)


def _frame_at(rng: np.random.Generator, cx: float, cy: float, r: float) -> Frame:
    """The frame of an object of radius ``r`` pixels centred at (cx, cy), with a random rotation
    (+-20 degrees) and stretch."""
    t = rng.uniform(-np.pi / 9, np.pi / 9)
    stretch = rng.uniform(0.85, 1.15)
    c, s = np.cos(t) / r, np.sin(t) / r
    # u = (c dx + s dy) * stretch, v = (-s dx + c dy) / stretch, with dx = x - cx, dy = y - cy
    return ((c * stretch, s * stretch, -(c * cx + s * cy) * stretch),
            (-s / stretch, c / stretch, (s * cx - c * cy) / stretch))


def _uv(h: int, w: int, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    return _affine(h, w, frame[0]), _affine(h, w, frame[1])


@functools.lru_cache(maxsize=1)
def _noise_pool() -> np.ndarray:
    """2**20 fixed standard normals; each image reads a window at a random offset (drawing fresh
    normals for every pixel would cost most of the generator's time)."""
    pool = np.random.default_rng(20250407).standard_normal(1 << 20, dtype=np.float32)
    pool.flags.writeable = False
    return pool


def _finish(rng: np.random.Generator, img: np.ndarray, noise: float = 0.05) -> np.ndarray:
    """(3, H, W) float in [0, 1] plus Gaussian noise -> (H, W, 3) uint8."""
    pool = _noise_pool()
    start = int(rng.integers(len(pool) - img.size))
    img *= np.float32(255.0)
    img += np.float32(255.0 * noise) * pool[start:start + img.size].reshape(img.shape)
    img += np.float32(0.5)  # round, not truncate
    np.clip(img, 0, 255, out=img)
    return np.ascontiguousarray(img.astype(np.uint8).transpose(1, 2, 0))


def render_image(rng: np.random.Generator, h: int, w: int, style: ClassStyle | None) -> np.ndarray:
    """An (H, W, 3) uint8 image: one object of ``style`` on a background (``None``: no object)."""
    img = _background(rng, h, w)
    if style is not None:
        frame = _object_frame(rng, h, w)
        _paint(rng, img, _shape_mask(style.shape, *_uv(h, w, frame)), style, frame)
    return _finish(rng, img)


def render_scene(rng: np.random.Generator, h: int, w: int,
                 ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """A segmentation image and its ADE-style mask (0 = other, else the class id).

    ``ids`` are the class ids in use; the first four are "stuff" (two fill the top and bottom,
    split by a wavy line), the rest "things" (one to three shapes on top).
    """
    stuff, things = ids[:4], ids[4:]
    yy, xx = _axes(h, w)
    img = _background(rng, h, w)
    mask = np.zeros((h, w), np.uint8)
    scale = 0.25 * min(h, w)
    top, bottom = rng.choice(len(stuff), 2, replace=False)
    horizon = rng.uniform(0.35, 0.65) * h + rng.uniform(0.03, 0.1) * h * np.sin(
        2 * np.pi * xx / w * rng.uniform(0.5, 2.0) + rng.uniform(0, 2 * np.pi))
    for sid, region in ((stuff[top], yy < horizon), (stuff[bottom], yy >= horizon)):
        _paint(rng, img, region, class_style(sid - 1, 150),
               ((1 / scale, 0.0, 0.0), (0.0, 1 / scale, 0.0)))
        mask[region] = sid
    if rng.uniform() < 0.7:  # an unlabelled blob: label 0, random grey texture
        u, v = _uv(h, w, _object_frame(rng, h, w, radius=(0.12, 0.22), center=(0.1, 0.9)))
        blob = u * u + v * v <= 1.0
        grey = 0.1 * rng.standard_normal((1, int(blob.sum())), dtype=np.float32)
        img[:, blob] = rng.uniform(0.2, 0.8) + grey
        mask[blob] = 0
    for _ in range(rng.integers(1, 4)):
        tid = things[rng.integers(len(things))]
        style = class_style(tid - 1, 150)
        frame = _object_frame(rng, h, w, radius=(0.14, 0.26), center=(0.2, 0.8))
        region = _shape_mask(style.shape, *_uv(h, w, frame))
        _paint(rng, img, region, style, frame)
        mask[region] = tid
    return _finish(rng, img), mask


def render_objects(rng: np.random.Generator, h: int, w: int, styles: list[ClassStyle],
                   crowd: ClassStyle | None = None, radius: tuple[float, float] = (0.125, 0.3),
                   ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
    """A detection image: one object per entry of ``styles``, painted in that order.

    Each object's radius is ``radius`` (fractions of the shorter side: extents of about 25% to
    60% of it by default); its centre is redrawn a few times to keep it apart from the earlier
    ones and lies at least 0.7 radii inside the image, so an object may be cut a little by the
    border. ``crowd`` adds, painted first, a cluster of six to nine small shapes of that style (a
    COCO "crowd" region). Returns the (H, W, 3) uint8 image, each object's visible pixels (what
    later objects left of it, (H, W) bool, in ``styles`` order) and the crowd cluster's visible
    pixels (None without ``crowd``).
    """
    side = min(h, w)
    img = _background(rng, h, w)
    regions: list[np.ndarray] = []
    crowd_region = None
    if crowd is not None:
        reach = rng.uniform(0.15, 0.22) * side
        ccx, ccy = rng.uniform(reach, w - reach), rng.uniform(reach, h - reach)
        crowd_region = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(6, 10))):
            a, d = rng.uniform(0, 2 * np.pi), reach * np.sqrt(rng.uniform())
            frame = _frame_at(rng, ccx + d * np.cos(a), ccy + d * np.sin(a),
                              rng.uniform(0.04, 0.06) * side)
            region = _shape_mask(crowd.shape, *_uv(h, w, frame))
            _paint(rng, img, region, crowd, frame)
            crowd_region |= region
    placed: list[tuple[float, float, float]] = []
    for style in styles:
        r = rng.uniform(*radius) * side
        for _ in range(8):  # keep apart from the earlier objects where it can
            cx, cy = rng.uniform(0.7 * r, w - 0.7 * r), rng.uniform(0.7 * r, h - 0.7 * r)
            if all(np.hypot(cx - x, cy - y) >= 0.75 * (r + q) for x, y, q in placed):
                break
        placed.append((cx, cy, r))
        frame = _frame_at(rng, cx, cy, r)
        region = _shape_mask(style.shape, *_uv(h, w, frame))
        _paint(rng, img, region, style, frame)
        regions.append(region)
    cover = np.zeros((h, w), bool)
    visible = []
    for region in reversed(regions):
        visible.append(region & ~cover)
        cover |= region
    visible.reverse()
    if crowd_region is not None:
        crowd_region &= ~cover
    return _finish(rng, img), visible, crowd_region
