"""Timing shared by the benchmarks: candidates measured in interleaved rounds, so that drifts of the
machine (clocks, other load) hit every candidate alike; each reports its median over rounds."""
import statistics
import time
from typing import Callable, Dict, List

import torch

__all__ = ["interleaved", "median_seconds"]


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved(fns: Dict[str, Callable[[], None]], rounds: int, steps: int) -> Dict[str, List[float]]:
    """Seconds per call of each function in every round (``steps`` calls a round, GPU work included)."""
    seconds: Dict[str, List[float]] = {label: [] for label in fns}
    for _ in range(rounds):
        for label, fn in fns.items():
            _sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            _sync()
            seconds[label].append((time.perf_counter() - t0) / steps)
    return seconds


def median_seconds(fns: Dict[str, Callable[[], None]], rounds: int, steps: int) -> Dict[str, float]:
    """The median over rounds of each function's seconds per call."""
    return {label: statistics.median(s) for label, s in interleaved(fns, rounds, steps).items()}
