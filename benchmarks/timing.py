"""Timing shared by the benchmarks: candidates measured in interleaved rounds, so that drifts of the
machine (clocks, other load) hit every candidate alike; each reports its median over rounds."""
import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List

import torch

__all__ = ["interleaved", "median_seconds", "add_run_arguments", "run_of", "Run"]


@dataclass(frozen=True)
class Run:
    """Where and how a throughput benchmark runs, resolved from its flags and the machine."""
    device: torch.device
    batch: int
    steps: int
    amp: bool

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)


def add_run_arguments(p: argparse.ArgumentParser, gpu_batch: int, cpu_batch: int) -> None:
    """The flags every throughput benchmark takes (image size, batch, steps, rounds, amp, JSON out)."""
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch", type=int, default=None, help=f"default: {gpu_batch} on GPU, {cpu_batch} on CPU")
    p.add_argument("--steps", type=int, default=None, help="timed steps per round (default: 20 GPU, 2 CPU)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--amp", choices=["auto", "bf16", "off"], default="auto", help="auto: bf16 on GPU, fp32 on CPU")
    p.add_argument("--out", help="write the figures as JSON here")
    p.set_defaults(gpu_batch=gpu_batch, cpu_batch=cpu_batch)


def run_of(args: argparse.Namespace) -> Run:
    cuda = torch.cuda.is_available()
    return Run(device=torch.device("cuda" if cuda else "cpu"), batch=args.batch or (args.gpu_batch if cuda else args.cpu_batch),
               steps=args.steps or (20 if cuda else 2), amp=(args.amp == "bf16") or (args.amp == "auto" and cuda))


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
