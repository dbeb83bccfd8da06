"""``editrepro clean-in21k``: ImageNet-21K-P manifests from an ImageNet-21k tree or a file listing of it.

Applies the reference cleaning (Alibaba-MIIL's, which the EDIT paper's counts come from) without
copying or moving an image: classes with <= 500 images are dropped, the first 50 images of each
kept class (byte-wise sorted names) are the validation set. Writes OUT/train.parquet and
OUT/val.parquet (path, label, synset), OUT/classes.tsv, OUT/dropped_classes.tsv,
OUT/rejected.tsv and OUT/stats.json (schema: the editrepro.data.imagenet21k docstring).

examples:
  editrepro clean-in21k --root /data/winter21_whole --out data/in21k
  (cd /data/winter21_whole && find . -type f) > in21k_files.txt
  editrepro clean-in21k --listing in21k_files.txt --root /data/winter21_whole --out data/in21k
  editrepro clean-in21k --root /data/winter21_whole --out data/in21k --verify \\
      --symlink-tree data/in21k/tree --resize data/in21k/224 --resize-mode squish
"""
import argparse
from pathlib import Path

from .resize_in21k import add_resize_options

HELP = "ImageNet-21K-P manifests (the reference cleaning) from an ImageNet-21k tree or file listing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    src = parser.add_argument_group("input: --root, --listing, or both")
    src.add_argument("--root", type=Path,
                     help="the extracted ImageNet-21k (one folder per synset). Scanned unless --listing is given; "
                          "recorded in stats.json for the readers; needed by --verify, --symlink-tree, --resize")
    src.add_argument("--listing", type=Path,
                     help="a file listing to use instead of scanning: text with one path per line relative to the "
                          "root (`cd ROOT && find . -type f`; ./ prefixes and absolute paths under --root are fine), "
                          "or Parquet with a 'path' column")
    parser.add_argument("--out", type=Path, required=True, help="folder for the manifests, class tables and stats")

    rules = parser.add_argument_group("rules (defaults: the reference's)")
    rules.add_argument("--min-images", type=int, default=500, metavar="N", help="class-size threshold (default: 500)")
    rules.add_argument("--drop-rule", choices=["le", "lt"], default="le",
                       help="le: drop classes with <= min-images images (the reference script: exactly 500 is "
                            "dropped); lt: drop < min-images (the paper's 'fewer than 500'). stats.json reports how "
                            "many classes the two differ by (default: le)")
    rules.add_argument("--val-per-class", type=int, default=50, metavar="N",
                       help="validation images per class (default: 50)")
    rules.add_argument("--val-selection", choices=["first", "random"], default="first",
                       help="first: the first in byte-wise sorted file-name order (the reference); random: drawn "
                            "per class with --seed (default: first)")
    rules.add_argument("--seed", type=int, default=0, help="seed of --val-selection random (default: 0)")

    work = parser.add_argument_group("checks and materialisation (optional; the symlink tree and resize resume)")
    work.add_argument("--verify", action="store_true",
                      help="decode every kept image; corrupt or unreadable ones are left out, listed in "
                           "OUT/corrupt.tsv and counted in stats.json, and the classes counted again")
    work.add_argument("--symlink-tree", type=Path, metavar="DIR",
                      help="make DIR/{train,val}/<synset>/<file> symlinks to the images (an ImageFolder per split)")
    work.add_argument("--resize", type=Path, metavar="DIR",
                      help="write resized copies as DIR/{train,val}/<synset>/<file>, as the reference's resize.py "
                           "(`editrepro resize-in21k` also writes their manifests: what the workflow's rule "
                           "resize_in21k runs)")
    add_resize_options(work, prefix="resize-")
    work.add_argument("--workers", type=int, default=None,
                      help="processes for --verify and --resize (default: all cores)")
    work.add_argument("--scan-threads", type=int, default=16, help="threads scanning --root's folders (default: 16)")
    work.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..data import imagenet21k as in21k

    if args.root is None and args.listing is None:
        raise ValueError("give --root (the ImageNet-21k folder, scanned) or --listing (a file listing of it)")
    if (args.verify or args.symlink_tree or args.resize) and args.root is None:
        raise ValueError("--verify, --symlink-tree and --resize read the images: give --root too")
    if args.root is not None and args.listing is not None and not args.root.is_dir() \
            and (args.verify or args.symlink_tree or args.resize):
        raise FileNotFoundError(f"ImageNet-21k root {args.root} is not a folder; the images are read from there")
    rules = in21k.CleanRules(min_images=args.min_images, drop_rule=args.drop_rule, val_per_class=args.val_per_class,
                             val_selection=args.val_selection, seed=args.seed)
    progress = not args.no_progress
    if args.listing is not None:
        listing = in21k.read_listing(args.listing, root=args.root)
    else:
        listing = in21k.list_tree(args.root, threads=args.scan_threads, progress=progress)
    result = in21k.prepare(listing, rules, args.out, verify=args.verify, workers=args.workers, progress=progress)
    s = result.stats
    print(f"{s['classes']['kept']:,} of {s['classes']['seen']:,} classes kept ({rules.describe()}): "
          f"{s['images']['train']:,} train + {s['images']['val']:,} val images; "
          f"{s['threshold']['classes_at_threshold']:,} classes have exactly {rules.min_images} images; "
          f"manifests in {args.out}")
    if args.symlink_tree:
        in21k.materialise_symlinks(result.splits, args.root, args.symlink_tree, progress=progress)
        print(f"symlink tree in {args.symlink_tree}")
    if args.resize:
        done = in21k.resize_tree(result.splits, args.root, args.resize, mode=args.resize_mode, size=args.resize_size,
                                 quality=args.resize_quality, resample=args.resize_filter, workers=args.workers,
                                 progress=progress)
        if done["failed"]:
            in21k.write_failed(args.out / "resize_failed.tsv", done["failed"])
        print(f"resized images in {args.resize} ({done['written']:,} written, {done['skipped_existing']:,} already "
              f"there, {len(done['failed']):,} failed)")
    return 0
