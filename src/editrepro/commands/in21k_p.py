"""``editrepro in21k-p``: the manifests of the processed ImageNet-21K-P release, read as it is distributed.

image-net.org distributes ImageNet-21K-P already cleaned and resized (Alibaba-MIIL's
processing_script.sh): a folder holding imagenet21k_train/ and imagenet21k_val/, each one folder
per synset. This scans it once and writes OUT/train.parquet and OUT/val.parquet (path relative to
the split's folder, label = index of the synset among the train split's synsets in byte-wise
sorted order, synset), OUT/classes.tsv, OUT/rejected.tsv and OUT/stats.json: the same manifests
`editrepro clean-in21k` writes for the raw release, so pretraining reads either. No image is
copied, moved or decoded.

The counts are checked against the published releases (winter21: 10,450 classes, 11,060,223
train, 522,500 val; fall11: 11,221 / 11,797,632 / 561,052) before anything is written;
--any-counts accepts a subset of your own.

examples:
  editrepro in21k-p --root /datasets/imagenet21k_resized --out data/in21k_p
  editrepro in21k-p --root my_subset --out data/subset --any-counts
"""
import argparse
from pathlib import Path

HELP = "manifests of the processed ImageNet-21K-P release (imagenet21k_train/, imagenet21k_val/), counts checked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--root", type=Path, required=True,
                        help="the folder holding imagenet21k_train/ and imagenet21k_val/")
    parser.add_argument("--out", type=Path, required=True, help="folder for the manifests, class table and stats")
    parser.add_argument("--any-counts", action="store_true",
                        help="accept counts of no published release (a subset of your own); default: the counts "
                             "must be winter21's or fall11's")
    parser.add_argument("--scan-threads", type=int, default=16, help="threads scanning the folders (default: 16)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..data import imagenet21k as in21k

    s = in21k.index_processed(args.root, args.out, counts="any" if args.any_counts else "published",
                              threads=args.scan_threads, progress=not args.no_progress)
    release = f"the published {s['matches_release']}" if s["matches_release"] else "no published release (--any-counts)"
    print(f"{s['classes']['kept']:,} classes, {s['images']['train']:,} train + {s['images']['val']:,} val images "
          f"({release}); manifests in {args.out}")
    return 0
