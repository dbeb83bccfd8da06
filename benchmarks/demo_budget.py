"""How long the demo takes: `snakemake --cores all <target>` from nothing, timed.

Copies the workflow into a fresh folder (no demo data, no results, a new tracking store),
runs one target of the default config, and prints the wall time against its budget (every
`reproduce_*` target 10 minutes, `all` 20), with the slowest jobs from Snakemake's benchmark files.

    python benchmarks/demo_budget.py [--target reproduce_table3|reproduce_lavit|all] [--cores all]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BUDGETS_S = {"all": 1200}   # every other target: 600


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="reproduce_table3")
    p.add_argument("--cores", default="all")
    p.add_argument("--keep", action="store_true", help="keep the run folder")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="editrepro-demo-"))
    shutil.copy(REPO / "Snakefile", work)
    shutil.copytree(REPO / "workflow", work / "workflow")
    shutil.copytree(REPO / "config", work / "config")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "snakemake", args.target, "--cores", args.cores], cwd=work, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        raise SystemExit(f"the demo failed after {wall:.0f} s (folder kept: {work})")
    jobs = []
    for tsv in (work / "logs").rglob("*.tsv"):
        jobs.append((str(tsv.relative_to(work / "logs")), float(pd.read_csv(tsv, sep="\t")["s"].iloc[-1])))
    jobs.sort(key=lambda j: -j[1])
    budget = BUDGETS_S.get(args.target, 600)
    print(f"{args.target} with --cores {args.cores} on {os.cpu_count()} cores: {wall:.0f} s "
          f"({wall / budget:.2f} of the {budget // 60}-minute budget), {len(jobs)} jobs")
    print(f"job time summed: {sum(s for _, s in jobs):.0f} s; slowest:")
    for name, s in jobs[:8]:
        print(f"  {s:6.0f} s  {name}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
