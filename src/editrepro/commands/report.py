"""``editrepro report``: render a table's results as markdown in the paper's layout."""
import argparse

HELP = "render a table's results as markdown"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..tables import TABLES   # the registered tables (no torch)

    p.add_argument("--table", required=True, choices=[*TABLES, "all"],
                   help="one table's page, or 'all': reports/report.md from the combined results")
    p.add_argument("--config", required=True,
                   help="the workflow config: JSON text, or a YAML / JSON config file (config/config.yaml)")
    p.add_argument("--results", required=True, help="cells parquet from editrepro aggregate")
    p.add_argument("--jobs", nargs="*", default=[], help="jobs parquets from editrepro aggregate")
    p.add_argument("--table1", help="results/table1.parquet (measured params and FLOPs)")
    p.add_argument("--table1-report", help="with --table all: reports/table1.md, embedded as a section")
    p.add_argument("--figures", nargs="*", default=[], help="PNGs to show (paths as given, linked relative to --out)")
    p.add_argument("--pages", nargs="*", default=[],
                   help="with --table all: other generated pages (reports/attention_sink.md, ...), embedded as sections")
    p.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..fileio import atomic_write_text
    from ..provenance import git_commit
    from ..reporting.tables import render_page
    from ..schema import config_arg
    from ..tables import TABLES

    config = config_arg(args.config)

    cells = pd.read_parquet(args.results)   # one row per seed: the renderers summarise it
    jobs = None
    if args.jobs:    # the tables share jobs (Tables 4 and 5 start from Table 3's pretraining): each once
        jobs = pd.concat([pd.read_parquet(j) for j in args.jobs], ignore_index=True)
        jobs = jobs.drop_duplicates("benchmark", ignore_index=True)
    import os
    from pathlib import Path

    figures = {Path(f).name: os.path.relpath(f, Path(args.out).parent) for f in args.figures}
    if args.table == "all":
        from ..reporting.report import render_report

        text = render_report(cells, config, Path(args.table1_report).read_text(), figures,
                             jobs=jobs, commit=git_commit(), pages=[Path(p).read_text() for p in args.pages],
                             tables=list(TABLES.values()))
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
        return 0
    text = render_page(TABLES[args.table], cells, config,
                       table1=pd.read_parquet(args.table1) if args.table1 else None,
                       jobs=jobs, commit=git_commit(), figures=figures)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0
