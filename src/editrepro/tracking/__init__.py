"""Experiment tracking. Only this package imports mlflow."""
from .mlflow_tracker import Tracker, default_tracking_uri, ensure_store, metric_histories

__all__ = ["Tracker", "default_tracking_uri", "ensure_store", "metric_histories"]
