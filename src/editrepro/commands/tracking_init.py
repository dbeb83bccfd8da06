"""``editrepro tracking-init``: create the MLflow store's schema once, before parallel jobs use it.

The workflow runs it before any job starts. It checks that a SQLite store can be used: a store that is
damaged (not an SQLite file, truncated, malformed) or read-only stops it with exit code 2 and a message
naming the file, the cause and what to do (a damaged one: move it aside, ``mv mlflow.db mlflow.db.damaged``,
and rerun; its runs are then gone from MLflow, each job's metrics.json and log.jsonl keep their values).
It then prints the link that opens each experiment on its runs table: MLflow 3.17's UI otherwise opens on
its GenAI pages (docs/tracking.md).
"""
import argparse
import sys

HELP = "create the tracking store (SQLite schema) before jobs run in parallel"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uri", help="tracking URI (default: MLFLOW_TRACKING_URI or the project's mlflow.db)")


def run(args: argparse.Namespace) -> int:
    from ..tracking import StoreError, default_tracking_uri, ensure_store, experiment_ids, runs_url

    uri = args.uri or default_tracking_uri()
    try:
        ensure_store(uri)
        experiments = experiment_ids(uri)
    except StoreError as e:
        print(f"editrepro tracking-init: error: {e}", file=sys.stderr)
        return 2
    print(f"tracking store ready: {uri}")
    if uri.startswith("sqlite:///"):
        print(f"browse it: mlflow ui --backend-store-uri {uri}, then http://127.0.0.1:5000 and choose 'Model "
              "training' at the top of the sidebar (MLflow 3.17 opens on GenAI pages otherwise)"
              + ("; each experiment's runs table:" if experiments else ""))
    for name, experiment_id in experiments.items():
        print(f"  {name}: {runs_url(experiment_id)}")
    return 0
