"""``editrepro table1``: Table 1 and Table 3's Params/FLOPs, counted and compared with the paper."""
import argparse

HELP = "count params and FLOPs: Table 1 and Table 3's columns"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results/table1.parquet", help="tidy results (parquet)")
    parser.add_argument("--report", default="reports/table1.md", help="markdown report")
    parser.add_argument("--paper-tables", default=None, help="paper values (default: config/paper_tables.yaml)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..models.complexity import count_complexity
    from ..reporting import table1
    from ..reporting.paper import load_paper_tables

    tables = load_paper_tables(args.paper_tables)
    counts = {arch: count_complexity(arch) for arch in tqdm(table1.architectures(tables), desc="Table 1 and 3 models",
                                                            leave=False)}
    reassociated = [(arch, count_complexity(arch, decoder_reassociate=True).gmacs,
                     (counts.get(arch) or count_complexity(arch)).gmacs) for arch in table1.REASSOCIATED]
    df = table1.write(args.results, args.report, counts, tables, reassociated)
    print(f"wrote {args.results} and {args.report}\n{table1.summary(df)}")
    return 0
