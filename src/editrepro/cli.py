"""The package's command line: ``editrepro <command>`` (or ``python -m editrepro``).

Each command lives in ``editrepro.commands.<name>`` and is a thin call into the library,
so every step the workflow runs can also be run (and debugged) by hand.
"""
import argparse
import importlib
import logging
import sys
from typing import List, Optional

from .fileio import StorageError

__all__ = ["main", "COMMANDS"]

# command name -> module under editrepro.commands (imported only when its command runs)
COMMANDS = {
    "demo-data": "demo_data",
    "models": "models",
    "table1": "table1",
    "train": "train",
    "evaluate": "evaluate",
    "clean-in21k": "clean_in21k",
    "in21k-p": "in21k_p",
    "resize-in21k": "resize_in21k",
    "check-data": "check_data",
    "aggregate": "aggregate",
    "report": "report",
    "figures": "figures",
    "ablation-figure": "ablation_figure",
    "attention-saturation": "attention_saturation",
    "attention-sink": "attention_sink",
    "attention-report": "attention_report",
    "timm-weights": "timm_weights",
    "tracking-init": "tracking_init",
    "cost": "cost",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="editrepro", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"editrepro.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, StorageError) as e:     # StorageError: no space left, unwritable folder
        print(f"editrepro {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
