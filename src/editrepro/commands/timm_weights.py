"""``editrepro timm-weights``: save a timm model's freshly initialised state dict to a file.

An offline stand-in for published weights: the demo lists ``deit3_small_patch16_224`` with such a file as its
``--checkpoint``, so the attention analyses and the calibration run through timm's file loading without
network. The weights are random (seeded): nothing they measure is the published model's.
"""
import argparse

HELP = "save a randomly initialised timm model's state dict (offline stand-in for published weights)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="NAME", help="timm model name")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra timm.create_model argument (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="FILE", help=".pth file to write")


def run(args: argparse.Namespace) -> int:
    import timm
    import torch

    from ..fileio import atomic_path
    from ..models import check_model_name
    from ..recipes import parse_overrides

    check_model_name(args.model)
    torch.manual_seed(args.seed)
    model = timm.create_model(args.model, pretrained=False, **parse_overrides(args.model_arg))
    with atomic_path(args.out) as tmp:
        torch.save(model.state_dict(), tmp)
    print(f"wrote {args.out}: random {args.model} (seed {args.seed}), "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    return 0
