"""``editrepro aggregate``: gather a table's evaluation JSONs and job benchmarks into tidy parquet."""
import argparse

HELP = "gather a table's evaluations and job benchmarks into results parquet"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", required=True, choices=["table3"])
    p.add_argument("--config", required=True, help="the workflow config as JSON (name, comparable_to_paper)")
    p.add_argument("--evals", nargs="*", default=[], help="evaluation JSONs (editrepro evaluate --tag ...)")
    p.add_argument("--benchmarks", nargs="*", default=[], help="Snakemake benchmark files of the table's jobs")
    p.add_argument("--runs-root", help="folder of the training runs (for device counts)")
    p.add_argument("--paper-tables", default=None)
    p.add_argument("--out", required=True, help="cells parquet")
    p.add_argument("--jobs-out", required=True, help="jobs parquet")


def run(args: argparse.Namespace) -> int:
    import json

    from ..fileio import atomic_path
    from ..reporting.paper import load_paper_tables
    from ..reporting.results import collect_jobs, collect_table3

    config = json.loads(args.config)
    cells = collect_table3(args.evals, load_paper_tables(args.paper_tables), config["name"],
                           bool(config.get("comparable_to_paper", False)))
    jobs = collect_jobs(args.benchmarks, args.runs_root)
    for frame, path in ((cells, args.out), (jobs, args.jobs_out)):
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
    print(f"wrote {args.out} ({len(cells)} cells) and {args.jobs_out} ({len(jobs)} jobs)")
    return 0
