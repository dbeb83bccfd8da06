"""Input-pipeline throughput of every classification recipe: images/s per CPU core, no model.

Each recipe's training transform (the DeiT III 3-Augment or RandAugment pipelines, LaViT's with
random erasing) runs on ImageNet-like JPEGs (500 x 375, quality 90, smooth content with texture:
about the size and entropy of an ImageNet image) in this one process: decode, augment, to tensor.
That rate is what one data-loading worker gives; `editrepro cost` divides a GPU's training rate by
it to say how many CPU cores per GPU keep it fed. The figures go to
`benchmarks/results/dataloader_throughput.json`, which `editrepro cost` reads.

ImageNet-21K-P is pretrained on from its resized copy (the processed release, or
`in21k_cleaning.resize: squish`): the same images squish-resized to 224 x 224 as the reference's
resize.py does (JPEG quality 95), decoded and augmented by the ImageNet-21k pretraining recipe at
224 px. That figure (`images_per_sec_per_core_resized`) is what `editrepro cost` uses for the
21k pretraining jobs reading resized images; decode alone is timed for both sizes too.

    python benchmarks/dataloader_throughput.py [--images 64] [--rounds 3]
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from editrepro.data import build_train_transform
from editrepro.data.datasets._common import load_rgb
from editrepro.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = ["in1k_pretrain", "finetune_384", "in21k_pretrain", "finetune_in1k_from_in21k", "transfer", "lavit_in1k"]
SIZES = (224, 384)
RESIZED_RECIPES = ["in21k_pretrain"]   # the recipes that read ImageNet-21K-P, resized to 224 x 224


def imagenet_like_jpegs(folder: Path, count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        low = rng.random((12, 16, 3))                                           # smooth structure...
        img = np.asarray(Image.fromarray((low * 255).astype(np.uint8)).resize((500, 375), Image.BICUBIC), np.float32)
        img += rng.normal(0, 12, img.shape)                                     # ...and texture
        path = folder / f"img_{i}.jpg"
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def squished(paths: list, folder: Path, size: int = 224) -> list:
    """The reference's resize of each image (longer side >= size: squished to size x size), JPEG quality 95."""
    from editrepro.data.imagenet21k.materialise import _resize_bilinear

    out = []
    for path in paths:
        with Image.open(path) as im:
            small = Image.fromarray(_resize_bilinear(np.asarray(im.convert("RGB")), size, size))
        out.append(folder / f"{Path(path).stem}_{size}.jpg")
        small.save(out[-1], quality=95)
    return out


def timed(fn, paths: list, rounds: int) -> float:
    """Images/s of ``fn`` over ``paths``: the median of ``rounds`` passes."""
    timings = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for path in paths:
            fn(path)
        timings.append(len(paths) / (time.perf_counter() - t0))
    return statistics.median(timings)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "dataloader_throughput.json"))
    args = p.parse_args()
    import tempfile

    import torch

    torch.set_num_threads(1)        # one data-loading worker: one core

    with tempfile.TemporaryDirectory() as tmp:
        paths = imagenet_like_jpegs(Path(tmp), args.images)
        small = squished(paths, Path(tmp))
        kb = statistics.mean(os.path.getsize(p) for p in paths) / 1024
        small_kb = statistics.mean(os.path.getsize(p) for p in small) / 1024
        rates, resized = {}, {}
        for name in RECIPES:
            r = load_recipe(REPO / "config" / "recipes" / f"{name}.yaml")
            rates[name] = {}
            for size in SIZES:
                tf = build_train_transform(size, crop=r.crop, hflip=r.hflip, three_augment=r.three_augment,
                                           color_jitter=r.color_jitter, rand_augment=r.rand_augment,
                                           re_prob=r.random_erasing)
                rates[name][str(size)] = timed(lambda path: tf(load_rgb(path)), paths, args.rounds)
                if name in RESIZED_RECIPES and size == 224:
                    resized[name] = {"224": timed(lambda path: tf(load_rgb(path)), small, args.rounds)}
        decode = {"full": timed(load_rgb, paths, args.rounds), "resized": timed(load_rgb, small, args.rounds)}
    cpu = platform.processor() or platform.machine()
    result = {"cpu": cpu, "cores": os.cpu_count(), "jpeg_kb": kb, "images_per_sec_per_core": rates,
              "resized_jpeg_kb": small_kb, "images_per_sec_per_core_resized": resized,
              "decode_images_per_sec_per_core": decode}
    print(f"{cpu}, {os.cpu_count()} cores; JPEGs 500 x 375, {kb:.0f} KB; images/s per core (decode + augment)\n")
    print("| recipe | 224 px | 384 px |\n| --- | --- | --- |")
    for name, r in rates.items():
        print(f"| {name} | {r['224']:.0f} | {r['384']:.0f} |")
    print(f"\nImageNet-21K-P resized (224 x 224 squish, {small_kb:.0f} KB) next to full size (500 x 375, {kb:.0f} KB), "
          "images/s per core\n")
    print("| pipeline | full size | resized | ratio |\n| --- | --- | --- | --- |")
    print(f"| decode only | {decode['full']:.0f} | {decode['resized']:.0f} | {decode['resized'] / decode['full']:.2f} |")
    for name, r in resized.items():
        print(f"| {name}, 224 px | {rates[name]['224']:.0f} | {r['224']:.0f} | {r['224'] / rates[name]['224']:.2f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
