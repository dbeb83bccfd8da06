"""Seed statistics of the reproduction matrix: a cell's mean, spread and Student-t interval, a
status that accounts for the interval, and paired differences between two models over shared seeds.

A cell trained with seeds ``s_1..s_n`` has values ``x_1..x_n``. Its summary is the mean, the sample
standard deviation (``ddof=1``) and, for ``n >= 2``, the two-sided 95% interval
``mean +- t_{0.975, n-1} * std / sqrt(n)``. A paired comparison of models A and B takes the seeds both
ran and summarises ``d_s = a_s - b_s`` the same way: training seed ``s`` fixes the data order and
initialisation of both, so pairing removes what the two runs share.

How many seeds a claimed gain needs: the power of that paired comparison, a two-sided paired t-test at
significance ``alpha`` of the per-seed differences. With a true mean difference ``delta``, differences of
standard deviation ``sd_d`` and ``n`` pairs, the statistic ``mean / (std / sqrt(n))`` follows a noncentral
t with ``df = n - 1`` and noncentrality ``delta / (sd_d / sqrt(n))``; the test rejects when it leaves
``+-t_{1 - alpha/2, n-1}``, so ``power = P(T > t_crit) + P(T < -t_crit)`` (R's
``power.t.test(type = "paired", strict = TRUE)``). ``seeds_for_power`` is the smallest ``n >= 2`` whose
power reaches the target (80% at 5% by default), or None when none up to ``max_n`` does.
"""
import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

__all__ = ["CONFIDENCE", "Summary", "summarize", "interval_status", "paired", "Paired", "t_quantile",
           "ALPHA", "TARGET_POWER", "MAX_SEEDS", "t_test_power", "paired_power", "seeds_for_power"]

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE      # the paired comparison's significance: its interval is the 95% one
TARGET_POWER = 0.8
MAX_SEEDS = 1000            # the seeds-for-power search stops here: beyond it a claim is "more than 1000 seeds"


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


def t_test_power(ncp: float, df: float, alpha: float = ALPHA) -> float:
    """Power of a two-sided t-test with ``df`` degrees of freedom whose statistic has noncentrality ``ncp``:
    ``P(T > t_crit) + P(T < -t_crit)``, ``T`` noncentral t, ``t_crit = t_{1 - alpha/2, df}``."""
    from scipy.stats import nct, t

    if not df > 0:
        raise ValueError(f"a t-test needs df > 0 (got {df}): at least two seeds")
    crit = float(t.ppf(1 - alpha / 2, df))
    if math.isinf(ncp):
        return 1.0
    if ncp == 0:
        return alpha
    # P(T < -t_crit) = P(T' > t_crit) with T' of noncentrality -ncp: scipy's nct.cdf returns NaN far in the
    # lower tail (ncp ~ 10, df 500), its sf does not
    power = float(nct.sf(crit, df, ncp) + nct.sf(crit, df, -ncp))
    if not 0 <= power <= 1 + 1e-12:
        raise ArithmeticError(f"noncentral t power not computable (ncp={ncp}, df={df}): {power}")
    return min(power, 1.0)


def _check(delta: float, sd_d: float, alpha: float) -> None:
    if math.isnan(delta) or math.isnan(sd_d):
        raise ValueError(f"power needs numbers: delta={delta}, sd_d={sd_d}")
    if sd_d < 0:
        raise ValueError(f"the standard deviation of the differences must be >= 0, got {sd_d}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def paired_power(delta: float, sd_d: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test over ``n`` pairs at significance ``alpha`` when the differences
    have true mean ``delta`` and standard deviation ``sd_d`` (the sign of ``delta`` does not matter).

    ``sd_d = 0``: differences without noise; any ``delta != 0`` is found (power 1), ``delta = 0`` never
    more often than ``alpha``. Fewer than two pairs: no test, ValueError."""
    _check(delta, sd_d, alpha)
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs (seeds), got {n}")
    if sd_d == 0:
        return 1.0 if delta != 0 else alpha
    return t_test_power(abs(delta) / (sd_d / math.sqrt(n)), n - 1, alpha)


def seeds_for_power(delta: float, sd_d: float, power: float = TARGET_POWER, alpha: float = ALPHA,
                    max_n: int = MAX_SEEDS) -> Optional[int]:
    """The smallest number of seeds ``n >= 2`` at which the paired t-test reaches ``power`` (``power(n - 1) <
    target <= power(n)``), or None when even ``max_n`` does not: a zero gain (no ``n`` suffices) or one too
    small for its noise. The power grows with ``n``, so a bisection finds it."""
    _check(delta, sd_d, alpha)
    if not 0 < power < 1:
        raise ValueError(f"the target power must lie in (0, 1), got {power}")
    if delta == 0:
        return None if power > alpha else 2
    if paired_power(delta, sd_d, 2, alpha) >= power:
        return 2
    if paired_power(delta, sd_d, max_n, alpha) < power:
        return None
    low, high = 2, max_n            # power(low) < target <= power(high)
    while high - low > 1:
        mid = (low + high) // 2
        if paired_power(delta, sd_d, mid, alpha) >= power:
            high = mid
        else:
            low = mid
    return high
