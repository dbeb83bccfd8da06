"""``editrepro evaluate``: top-1 / top-5 of trained weights on a dataset, at a resolution.

Reads ``model.pth`` (or ``checkpoint.pth``) of a training job, rebuilds the model from the
construction record stored with it (resampling position embeddings if ``--img-size`` differs), and
writes a metrics JSON like the one training writes. For an ImageNet-1k classifier,
``--imagenet-v2 DIR`` and ``--real-labels real.json`` add ImageNet-V2 (``top1_v2``, ``top5_v2``) and
ImageNet-ReaL (``top1_real``, ``real_images``) at the same resolution and crop ratio.
On the training's dataset the split is read with the class list saved with the weights (a ``val/``-only
copy works); a dataset with other classes, or another class count than the head's, is an error naming
them (exit 2) before any image is scored.
"""
import argparse
import json

HELP = "evaluate trained weights (top-1/top-5) and write a metrics JSON"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..analysis.sources import add_timm_arguments

    p.add_argument("--weights", help="model.pth or checkpoint.pth of a training job (or a timm model: --model)")
    add_timm_arguments(p)
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
    p.add_argument("--imagenet-v2", metavar="DIR",
                   help="ImageNet-V2 (matched frequency) class folders 0..999: adds top1_v2 / top5_v2 "
                        "(an ImageNet-1k classifier only)")
    p.add_argument("--real-labels", metavar="FILE",
                   help="ImageNet-ReaL's real.json for the val set: adds top1_real and real_images "
                        "(an ImageNet-1k classifier on val only)")
    p.add_argument("--out", help="metrics JSON to write")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..data.bad_samples import TooManyBadSamples
    from ..recipes import parse_overrides
    from ..training.evaluation import evaluate_weights

    if args.model or args.pretrained or args.checkpoint or args.model_arg:
        return _run_timm(args)
    if not args.weights:
        raise ValueError("which model? give --weights FILE (a training job) or --model NAME with --pretrained "
                         "or --checkpoint FILE (a timm model)")
    try:
        metrics = evaluate_weights(args.weights, dataset=args.dataset, data_root=args.data_root, split=args.split,
                                   img_size=args.img_size, crop_ratio=args.crop_ratio, batch_size=args.batch_size,
                                   workers=args.workers, out=args.out, max_bad_samples=args.max_bad_samples,
                                   tags={k: str(v) for k, v in parse_overrides(args.tag).items()},
                                   imagenet_v2=args.imagenet_v2, real_labels=args.real_labels)
    except TooManyBadSamples as e:
        print(f"editrepro evaluate: error: {e}", file=sys.stderr)
        return 4
    print(json.dumps(metrics))
    return 0


def _run_timm(args: argparse.Namespace) -> int:
    """``--model NAME --pretrained | --checkpoint FILE``: a timm model at its own pretrained data config, through
    the pipeline's reader and evaluation loop (``analysis.calibration``), e.g. timm's DeiT III to calibrate."""
    import sys

    from ..analysis.calibration import evaluate_timm
    from ..analysis.sources import timm_source
    from ..data.bad_samples import TooManyBadSamples
    from ..recipes import parse_overrides

    source = timm_source(args)
    if args.weights:
        raise ValueError("give either --weights FILE (a training job) or --model NAME (a timm model), not both")
    unsupported = [flag for flag, value in (("--img-size", args.img_size), ("--crop-ratio", args.crop_ratio),
                                            ("--imagenet-v2", getattr(args, "imagenet_v2", None)),
                                            ("--real-labels", getattr(args, "real_labels", None))) if value]
    if unsupported:
        raise ValueError(f"--model evaluates at the model's own pretrained data config; {', '.join(unsupported)} "
                         "apply to --weights only")
    if not args.dataset or not args.data_root:
        raise ValueError(f"--model {args.model}: give --dataset and --data-root (a timm model has no training job "
                         "to take them from)")
    try:
        metrics = evaluate_timm(source, dataset=args.dataset, data_root=args.data_root, split=args.split,
                                batch_size=args.batch_size, workers=args.workers, out=args.out,
                                tags={k: str(v) for k, v in parse_overrides(args.tag).items()},
                                max_bad_samples=args.max_bad_samples)
    except TooManyBadSamples as e:
        print(f"editrepro evaluate: error: {e}", file=sys.stderr)
        return 4
    print(json.dumps(metrics))
    return 0
