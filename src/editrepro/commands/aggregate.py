"""``editrepro aggregate``: gather a table's evaluation JSONs and job benchmarks into tidy parquet."""
import argparse

HELP = "gather a table's evaluations and job benchmarks into results parquet"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..tables import TABLES   # the registered tables (no torch)

    p.add_argument("--table", required=True, choices=[*TABLES, "all"],
                   help="one table's cells from its evaluations, or 'all': the tables' cells combined")
    p.add_argument("--parts", nargs="*", default=[], help="with --table all: the tables' cells parquets")
    p.add_argument("--table1", help="with --table all: results/table1.parquet")
    p.add_argument("--config", required=True,
                   help="the workflow config: JSON text (name, comparable_to_paper), or a YAML / JSON config file")
    p.add_argument("--evals", nargs="*", default=[], help="evaluation JSONs (editrepro evaluate --tag ...)")
    p.add_argument("--benchmarks", nargs="*", default=[], help="Snakemake benchmark files of the table's jobs")
    p.add_argument("--runs-root", help="folder of the training runs (for device counts)")
    p.add_argument("--paper-tables", default=None)
    p.add_argument("--out", required=True, help="cells parquet")
    p.add_argument("--jobs-out", help="jobs parquet")
    p.add_argument("--no-tracking", action="store_true",
                   help="do not create the cells' parent runs in MLflow (the seeds' runs nested under them)")


def run(args: argparse.Namespace) -> int:
    from ..fileio import atomic_path
    from ..reporting.paper import load_paper_tables
    from ..reporting.results import collect_jobs, summarize_cells
    from ..tables import TABLES
    from ..schema import config_arg

    config = config_arg(args.config)
    if args.table == "all":
        import pandas as pd

        from ..reporting.results import combine, table1_cells

        parts = [table1_cells(pd.read_parquet(args.table1), config["name"])] if args.table1 else []
        results = combine(parts + [pd.read_parquet(p) for p in args.parts])
        with atomic_path(args.out) as tmp:
            results.to_parquet(tmp, index=False)
        print(f"wrote {args.out} ({len(results)} cells)")
        return 0
    if not args.jobs_out:
        raise ValueError(f"--table {args.table} writes the table's jobs too: give --jobs-out")
    cells = TABLES[args.table].collect(args.evals, load_paper_tables(args.paper_tables), config["name"],
                                   bool(config.get("comparable_to_paper", False)))
    jobs = collect_jobs(args.benchmarks, args.runs_root)
    for frame, path in ((cells, args.out), (jobs, args.jobs_out)):
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
    summary = summarize_cells(cells)
    print(f"wrote {args.out} ({len(summary)} cells, {len(cells)} rows: one per seed) and {args.jobs_out} "
          f"({len(jobs)} jobs)")
    if not args.no_tracking:
        from ..tracking.cell_runs import nest_seed_runs

        parents = nest_seed_runs(summary)
        if parents:
            print(f"MLflow: {len(parents)} cell runs with their seeds' runs nested under them")
    return 0
