"""Experiment tracking. Only this package imports mlflow."""
from .mlflow_tracker import (StoreError, Tracker, default_tracking_uri, ensure_store, experiment_ids,
                             metric_histories, runs_url)

__all__ = ["Tracker", "StoreError", "default_tracking_uri", "ensure_store", "experiment_ids", "metric_histories",
           "runs_url"]
