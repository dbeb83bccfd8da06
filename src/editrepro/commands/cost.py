"""``editrepro cost``: GPU-hours of a workflow configuration's training jobs, before they run."""
import argparse

HELP = "estimate the GPU-hours of the configured training jobs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", required=True, help="the training jobs as JSON (the workflow's training_plan())")
    p.add_argument("--config", required=True, help="JSON: name, gpu, peak_tflops, mfu, generate_demo")
    p.add_argument("--runs-root", help="folder of finished runs (measured device-hours)")
    p.add_argument("--throughput", nargs="*", default=None,
                   help="train_throughput JSON files (default: benchmarks/results/train_throughput_*.json)")
    p.add_argument("--loader", default=None,
                   help="dataloader_throughput JSON (default: benchmarks/results/dataloader_throughput.json if present)")
    p.add_argument("--cells", default=None,
                   help="JSON: the cells the configured tables fill (the workflow's cost_cells()): prices the seeds "
                        "each claimed gain needs")
    p.add_argument("--stats", default="{}", help="JSON: the config's stats (seed_sd, seed_sd_by_table)")
    p.add_argument("--paper-tables", default=None, help="paper values (default: config/paper_tables.yaml)")
    p.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    import glob
    import json

    from ..analysis.counting import job_counts
    from ..fileio import atomic_write_text
    from ..provenance import git_commit, project_root
    from ..reporting.cost import estimate, render_cost

    config = json.loads(args.config)
    files = args.throughput if args.throughput is not None else sorted(
        glob.glob(str(project_root() / "benchmarks" / "results" / "train_throughput_*.json")))
    runs_root = args.runs_root or f"results/{config['name']}/runs"
    from pathlib import Path

    loader_file = Path(args.loader) if args.loader else project_root() / "benchmarks/results/dataloader_throughput.json"
    loader = json.loads(loader_file.read_text()) if loader_file.is_file() else None
    config["loader"] = loader
    plan = json.loads(args.plan)
    # each job's forward GMACs (models built on the meta device) and training-set size: reporting builds no models
    df = estimate(plan, config, runs_root, files, loader, **job_counts(plan, bool(config.get("generate_demo"))))
    claims = None
    if args.cells is not None:
        from ..reporting.paper import load_paper_tables
        from ..reporting.power import claim_costs

        config["stats"] = json.loads(args.stats)
        claims = claim_costs(json.loads(args.cells), load_paper_tables(args.paper_tables), df, config["stats"])
    atomic_write_text(args.out, render_cost(df, config, git_commit(), claims=claims))
    print(f"wrote {args.out}: {df['estimate_gpu_hours'].sum():,.0f} GPU-hours estimated for {len(df)} jobs "
          "(a rule on several nodes: `nodes` and the total `gpu` in the Slurm profile's set-resources, docs/slurm.md)")
    return 0
