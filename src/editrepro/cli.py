"""The package's command line: ``editrepro <command>`` (or ``python -m editrepro``).

Each command is a thin call into the library, so every step the workflow runs can also
be run (and debugged) by hand.
"""
import argparse
import logging
import sys
from typing import List, Optional

__all__ = ["main"]


def _table1(args: argparse.Namespace) -> int:
    from .reporting import table1

    df = table1.write(args.results, args.report, args.paper_tables)
    print(f"wrote {args.results} and {args.report}\n{table1.summary(df)}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .models import list_models
    from .models.complexity import count_complexity

    for name in list_models():
        c = count_complexity(name)
        print(f"{name:32s} {c.params:>12,d} params {c.gmacs:8.2f} GFLOPs ({c.gmacs_no_attn:.2f} w/o attention)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="editrepro", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("table1", help="count params and FLOPs: Table 1 and Table 3's columns")
    p.add_argument("--results", default="results/table1.parquet", help="tidy results (parquet)")
    p.add_argument("--report", default="reports/table1.md", help="markdown report")
    p.add_argument("--paper-tables", default=None, help="paper values (default: config/paper_tables.yaml)")
    p.set_defaults(func=_table1)

    p = sub.add_parser("models", help="list the registered models with their params and FLOPs")
    p.set_defaults(func=_models)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"editrepro {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
