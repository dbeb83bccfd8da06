"""``editrepro evaluate``: top-1 / top-5 of trained weights on a dataset, at a resolution.

Reads ``model.pth`` (or ``checkpoint.pth``) of a training job, rebuilds the model from the
config stored with it (resampling position embeddings if ``--img-size`` differs), and
writes a metrics JSON like the one training writes.
"""
import argparse
import json

HELP = "evaluate trained weights (top-1/top-5) and write a metrics JSON"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="model.pth or checkpoint.pth of a training job")
    p.add_argument("--dataset", help="dataset name (default: the one the model was trained on)")
    p.add_argument("--data-root", help="dataset root (default: the training job's)")
    p.add_argument("--split", default="val")
    p.add_argument("--img-size", type=int, help="default: the training resolution")
    p.add_argument("--crop-ratio", type=float, default=None, help="default: the recipe's eval crop ratio")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                   help="stored in the JSON and logged with the training's MLflow run (repeatable)")
    p.add_argument("--max-bad-samples", type=int, metavar="N",
                   help="unreadable samples tolerated (replaced) before stopping (default: 0.1%% of the set)")
    p.add_argument("--out", help="metrics JSON to write")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..data.bad_samples import TooManyBadSamples
    from ..training.config import parse_overrides
    from ..training.evaluation import evaluate_weights

    try:
        metrics = evaluate_weights(args.weights, dataset=args.dataset, data_root=args.data_root, split=args.split,
                                   img_size=args.img_size, crop_ratio=args.crop_ratio, batch_size=args.batch_size,
                                   workers=args.workers, out=args.out, max_bad_samples=args.max_bad_samples,
                                   tags={k: str(v) for k, v in parse_overrides(args.tag).items()})
    except TooManyBadSamples as e:
        print(f"editrepro evaluate: error: {e}", file=sys.stderr)
        return 4
    print(json.dumps(metrics))
    return 0
