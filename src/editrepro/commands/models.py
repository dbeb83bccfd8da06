"""``editrepro models``: the registered models with their parameter and FLOP counts."""
import argparse

HELP = "list the registered models with their params and FLOPs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from ..models import list_models
    from ..models.complexity import count_complexity

    for name in list_models():
        c = count_complexity(name)
        print(f"{name:32s} {c.params:>12,d} params {c.gmacs:8.2f} GFLOPs ({c.gmacs_no_attn:.2f} w/o attention)")
    return 0
