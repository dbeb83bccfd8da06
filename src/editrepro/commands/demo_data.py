"""``editrepro demo-data``: write small demo datasets, in the real on-disk layouts, in seconds."""
import argparse
import time

HELP = "write small learnable demo datasets in the real on-disk layouts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/demo", help="output directory (default: data/demo)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the pixels (names and counts are fixed)")
    parser.add_argument("--force", action="store_true",
                        help="rewrite even if the same demo data is complete")


def run(args: argparse.Namespace) -> int:
    from ..data.demo import generate_demo_data

    t0 = time.perf_counter()
    roots = generate_demo_data(args.out, seed=args.seed, force=args.force)
    print(f"demo data in {args.out} ({time.perf_counter() - t0:.1f} s); build_dataset roots:")
    for name, root in roots.items():
        print(f"  {name:12s} {root}")
    return 0
