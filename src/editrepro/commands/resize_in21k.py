"""``editrepro resize-in21k``: the reference's resize of a cleaned ImageNet-21k, with its own manifests.

Reads the manifests `editrepro clean-in21k` wrote into --manifests (and the image root its
stats.json records), resizes every listed image as Alibaba-MIIL's dataset_preprocessing/resize.py
does (squish: 224 x 224, the reference's default; short-side: short side 256, its variant; an
image whose longer side is under the size is copied as it is) into OUT/{train,val}/<synset>/<file>,
and writes OUT/train.parquet, OUT/val.parquet, OUT/classes.tsv and OUT/stats.json: the same rows,
now pointing at the resized copy. Resumable: images already in OUT are kept. An image that cannot
be resized is left out and listed in OUT/resize_failed.tsv.

examples:
  editrepro resize-in21k --manifests data/in21k --out data/in21k_squish224
  editrepro resize-in21k --manifests data/in21k --out data/in21k_short256 --mode short-side
"""
import argparse
from pathlib import Path

HELP = "resize a cleaned ImageNet-21k as the reference does (squish 224 / short side 256), with its manifests"


def add_resize_options(group, prefix: str = "") -> None:
    """The reference resize's options (``--{prefix}mode``, ``size``, ``filter``, ``quality``), shared with
    ``clean-in21k --resize``."""
    group.add_argument(f"--{prefix}mode", choices=["squish", "short-side"], default="squish",
                       help="squish: size x size, aspect not kept (the reference's default); short-side: short "
                            "side = size (default: squish)")
    group.add_argument(f"--{prefix}size", type=int, default=None, help="default: 224 (squish) or 256 (short-side)")
    group.add_argument(f"--{prefix}filter", choices=["reference", "bicubic"], default="reference",
                       help="reference: bilinear without antialiasing, as the reference's cv2.resize; bicubic: "
                            "PIL's antialiased bicubic (default: reference)")
    group.add_argument(f"--{prefix}quality", type=int, default=95, help="JPEG quality (default: 95, cv2's)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--manifests", type=Path, required=True,
                        help="the folder editrepro clean-in21k wrote (train.parquet, val.parquet, stats.json)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the resized images and their manifests")
    add_resize_options(parser)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..data import imagenet21k as in21k

    if args.size is not None and args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels, got {args.size}")
    s = in21k.resize_manifests(args.manifests, args.out, mode=args.mode, size=args.size, quality=args.quality,
                               resample=args.filter, workers=args.workers, progress=not args.no_progress)
    print(f"{s['resize']['mode']} {s['resize']['size']}: {s['images']['train']:,} train + {s['images']['val']:,} val "
          f"images in {args.out} ({s['resize']['failed']:,} failed)")
    return 0
