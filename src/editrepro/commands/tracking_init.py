"""``editrepro tracking-init``: create the MLflow store's schema once, before parallel jobs use it."""
import argparse

HELP = "create the tracking store (SQLite schema) before jobs run in parallel"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uri", help="tracking URI (default: MLFLOW_TRACKING_URI or the project's mlflow.db)")


def run(args: argparse.Namespace) -> int:
    from ..tracking import default_tracking_uri, ensure_store

    uri = args.uri or default_tracking_uri()
    ensure_store(uri)
    print(f"tracking store ready: {uri}")
    return 0
