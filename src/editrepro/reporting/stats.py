"""Seed statistics of the reproduction matrix: a cell's mean, spread and Student-t interval, a
status that accounts for the interval, and paired differences between two models over shared seeds.

A cell trained with seeds ``s_1..s_n`` has values ``x_1..x_n``. Its summary is the mean, the sample
standard deviation (``ddof=1``) and, for ``n >= 2``, the two-sided 95% interval
``mean +- t_{0.975, n-1} * std / sqrt(n)``. A paired comparison of models A and B takes the seeds both
ran and summarises ``d_s = a_s - b_s`` the same way: training seed ``s`` fixes the data order and
initialisation of both, so pairing removes what the two runs share.
"""
import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

__all__ = ["CONFIDENCE", "Summary", "summarize", "interval_status", "paired", "Paired", "t_quantile"]

CONFIDENCE = 0.95


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """Student t's two-sided ``confidence`` quantile with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, df))


@dataclass(frozen=True)
class Summary:
    """``n`` values: their mean, sample standard deviation and 95% t-interval (``None`` below two values)."""
    n: int
    mean: Optional[float]
    std: Optional[float] = None
    low: Optional[float] = None
    high: Optional[float] = None

    @property
    def half_width(self) -> Optional[float]:
        return None if self.low is None else (self.high - self.low) / 2


def summarize(values: Iterable[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, sample std and the Student-t interval of ``values`` (NaN and None left out)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return Summary(0, None)
    mean = statistics.fmean(xs)
    if n == 1:
        return Summary(1, mean)
    std = statistics.stdev(xs)   # ddof = 1
    half = t_quantile(n - 1, confidence) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


def interval_status(paper: float, s: Summary, tolerance: float) -> str:
    """``reproduced`` when the paper's value lies in the interval widened by ``tolerance`` on each side,
    ``off`` when not. With one value the interval is the value itself: the single-run tolerance rule."""
    low, high = (s.low, s.high) if s.n >= 2 else (s.mean, s.mean)
    return "reproduced" if low - tolerance - 1e-9 <= paper <= high + tolerance + 1e-9 else "off"


@dataclass(frozen=True)
class Paired:
    """The difference A - B over the seeds both ran."""
    seeds: Sequence[int]
    diff: Summary

    @property
    def verdict(self) -> str:
        """``A > B``, ``A < B`` (the interval excludes 0), ``no difference`` (it holds 0) or ``one seed``."""
        d = self.diff
        if d.n == 0:
            return "not run"
        if d.n == 1:
            return "one seed"
        if d.low > 0:
            return "A > B"
        if d.high < 0:
            return "A < B"
        return "no difference"


def paired(a: Mapping[int, float], b: Mapping[int, float], confidence: float = CONFIDENCE) -> Paired:
    """Paired difference of two models' per-seed values (``{seed: value}``), over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return Paired(seeds, summarize([a[s] - b[s] for s in seeds], confidence))
