"""``editrepro report``: render a table's results as markdown in the paper's layout."""
import argparse

HELP = "render a table's results as markdown"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", required=True, choices=["table3"])
    p.add_argument("--config", required=True, help="the workflow config as JSON")
    p.add_argument("--results", required=True, help="cells parquet from editrepro aggregate")
    p.add_argument("--jobs", help="jobs parquet from editrepro aggregate")
    p.add_argument("--table1", help="results/table1.parquet (measured params and FLOPs)")
    p.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from ..fileio import atomic_write_text
    from ..provenance import git_commit
    from ..reporting.table3 import render_table3

    cells = pd.read_parquet(args.results)
    text = render_table3(cells, json.loads(args.config),
                         table1=pd.read_parquet(args.table1) if args.table1 else None,
                         jobs=pd.read_parquet(args.jobs) if args.jobs else None, commit=git_commit())
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0
