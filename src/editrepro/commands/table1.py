"""``editrepro table1``: Table 1 and Table 3's Params/FLOPs, counted and compared with the paper."""
import argparse

HELP = "count params and FLOPs: Table 1 and Table 3's columns"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results/table1.parquet", help="tidy results (parquet)")
    parser.add_argument("--report", default="reports/table1.md", help="markdown report")
    parser.add_argument("--paper-tables", default=None, help="paper values (default: config/paper_tables.yaml)")


def run(args: argparse.Namespace) -> int:
    from ..reporting import table1

    df = table1.write(args.results, args.report, args.paper_tables)
    print(f"wrote {args.results} and {args.report}\n{table1.summary(df)}")
    return 0
