"""Seed statistics against values computed by hand: mean, sample std, Student-t interval, paired differences,
and the interval status at its edges."""
import math

import numpy as np
import pytest

from editrepro.reporting.stats import Summary, interval_status, paired, summarize, t_quantile


def test_t_quantiles_are_students():
    # two-sided 95%: the printed table values
    assert t_quantile(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(2) == pytest.approx(4.3027, abs=1e-4)
    assert t_quantile(4) == pytest.approx(2.7764, abs=1e-4)


def test_summary_of_three_seeds_by_hand():
    s = summarize([81.0, 81.4, 81.2])
    assert s.n == 3 and s.mean == pytest.approx(81.2)
    # deviations -0.2, 0.2, 0: sum of squares 0.08, / (n - 1) = 0.04
    assert s.std == pytest.approx(0.2)
    half = 4.302652729911275 * 0.2 / math.sqrt(3)
    assert (s.low, s.high) == (pytest.approx(81.2 - half), pytest.approx(81.2 + half))
    assert s.half_width == pytest.approx(half)


def test_one_value_has_no_spread_and_none_are_skipped():
    assert summarize([83.6]) == Summary(1, 83.6)
    assert summarize([]) == Summary(0, None)
    assert summarize([None, float("nan"), 2.0, 4.0]).mean == pytest.approx(3.0)


def test_status_at_the_edges_of_the_widened_interval():
    s = summarize([81.0, 81.4, 81.2])   # interval 81.2 +- 0.4968
    tol = 0.5
    edge_high, edge_low = s.high + tol, s.low - tol
    assert interval_status(edge_high, s, tol) == "reproduced"
    assert interval_status(edge_high + 1e-6, s, tol) == "off"
    assert interval_status(edge_low, s, tol) == "reproduced"
    assert interval_status(edge_low - 1e-6, s, tol) == "off"
    one = summarize([81.2])              # one run: |value - paper| <= tolerance, as before seeds
    assert interval_status(81.7, one, tol) == "reproduced" and interval_status(81.71, one, tol) == "off"


def test_paired_difference_over_shared_seeds():
    edit = {0: 81.8, 1: 82.0, 2: 81.9, 3: 82.4}
    deit = {0: 81.3, 1: 81.6, 2: 81.3}                 # seed 3 not run for DeiT: left out
    p = paired(edit, deit)
    assert list(p.seeds) == [0, 1, 2]
    # differences 0.5, 0.4, 0.6: mean 0.5, std 0.1
    assert p.diff.mean == pytest.approx(0.5) and p.diff.std == pytest.approx(0.1)
    assert p.diff.low == pytest.approx(0.5 - 4.302652729911275 * 0.1 / math.sqrt(3))
    assert p.verdict == "A > B"
    noisy = paired({0: 81.8, 1: 81.2}, {0: 81.3, 1: 81.6})   # differences +0.5, -0.4
    assert noisy.verdict == "no difference"
    assert paired({0: 80.0, 1: 80.1}, {0: 81.0, 1: 81.0}).verdict == "A < B"
    assert paired({0: 1.0}, {0: 0.5}).verdict == "one seed"
    assert paired({0: 1.0}, {1: 0.5}).verdict == "not run"


# -- power of the paired t-test -------------------------------------------------------------------------------

def power_by_integration(delta, sd_d, n, alpha=0.05):
    """The paired t-test's power without the noncentral t: T = (Z + ncp) / sqrt(V / df), V ~ chi2(df), so
    power = E_V[P(Z + ncp > c sqrt(V/df)) + P(Z + ncp < -c sqrt(V/df))], integrated over V's density."""
    from scipy import integrate
    from scipy.stats import chi2, norm, t

    df, ncp = n - 1, abs(delta) / (sd_d / math.sqrt(n))
    c = t.ppf(1 - alpha / 2, df)

    def f(v):
        s = c * math.sqrt(v / df)
        return (norm.sf(s - ncp) + norm.cdf(-s - ncp)) * chi2.pdf(v, df)

    value, err = integrate.quad(f, 0, math.inf, limit=200)
    assert err < 1e-7
    return value


def test_t_test_power_matches_r_power_t_test():
    from editrepro.reporting.stats import t_test_power

    # R: power.t.test(n = 20, delta = 1) -> power = 0.8689528 (two samples of 20, sd 1: df = 38, ncp = sqrt(20 / 2));
    # R's default strict = FALSE leaves out the lower tail, here below 1e-6
    assert t_test_power(math.sqrt(10), 38) == pytest.approx(0.8689528, abs=1e-6)
    # R: power.t.test(power = .90, delta = 1) -> n = 22.02110 per group
    assert t_test_power(math.sqrt(22.02110 / 2), 2 * (22.02110 - 1)) == pytest.approx(0.90, abs=1e-5)
    # no effect: the test rejects at its significance level, exactly
    assert t_test_power(0.0, 4) == pytest.approx(0.05, abs=1e-12)


def test_paired_power_agrees_with_numerical_integration():
    from editrepro.reporting.stats import paired_power

    for delta, sd_d, n in [(0.3, 0.2828, 5), (0.1, 0.2828, 65), (1.9, 0.2828, 2), (-0.5, 0.4, 4), (0.2, 0.28, 30)]:
        assert paired_power(delta, sd_d, n) == pytest.approx(power_by_integration(delta, sd_d, n), abs=1e-6)


def test_paired_power_agrees_with_a_simulation():
    from scipy.stats import t

    from editrepro.reporting.stats import paired_power

    rng = np.random.default_rng(2024)
    trials, n, delta, sd_d = 200_000, 5, 0.3, 0.2828
    d = rng.normal(delta, sd_d, size=(trials, n))
    stat = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    rejected = float(np.mean(np.abs(stat) > t.ppf(0.975, n - 1)))
    p = paired_power(delta, sd_d, n)
    assert abs(rejected - p) < 4 * math.sqrt(p * (1 - p) / trials)      # 4 standard errors of the simulation


def test_power_edge_cases():
    from editrepro.reporting.stats import paired_power

    assert paired_power(0.0, 0.3, 10) == pytest.approx(0.05)            # no gain: only false positives
    assert paired_power(-0.2, 0.3, 7) == paired_power(0.2, 0.3, 7)        # a loss is found as often as a gain
    assert paired_power(0.1, 0.0, 2) == 1.0                             # noiseless differences
    assert paired_power(0.0, 0.0, 2) == pytest.approx(0.05)
    # a large n: the normal approximation, Phi(ncp - z) + Phi(-ncp - z), within the t's small excess
    from scipy.stats import norm

    ncp = 0.05 / (0.3 / math.sqrt(1000))
    assert paired_power(0.05, 0.3, 1000) == pytest.approx(norm.cdf(ncp - 1.96) + norm.cdf(-ncp - 1.96), abs=2e-3)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_power(0.5, 0.3, 1)
    with pytest.raises(ValueError, match=">= 0"):
        paired_power(0.5, -0.3, 5)


def test_seeds_for_power_is_the_smallest_n_reaching_it():
    from editrepro.reporting.stats import paired_power, seeds_for_power

    for delta, sd_d in [(0.1, 0.2828), (0.2, 0.2828), (0.5, 0.2828), (1.0, 0.5), (0.3, 1.0), (-0.1, 0.2828)]:
        n = seeds_for_power(delta, sd_d)
        assert power_by_integration(delta, sd_d, n) >= 0.8
        if n > 2:
            assert power_by_integration(delta, sd_d, n - 1) < 0.8
        # a plain scan from 2 finds the same n
        assert n == next(k for k in range(2, 2000) if paired_power(delta, sd_d, k) >= 0.8)
    # the normal approximation's n = ((z_.975 + z_.8) sd / delta)^2 = 62.8 for +0.1 at sd 0.28: the t-test needs more
    assert seeds_for_power(0.1, 0.2828) >= 63
    assert seeds_for_power(-0.1, 0.2828) == seeds_for_power(0.1, 0.2828)


def test_seeds_for_power_edge_cases():
    from editrepro.reporting.stats import seeds_for_power

    assert seeds_for_power(0.0, 0.3) is None                         # no gain: no number of seeds finds it
    assert seeds_for_power(0.001, 0.3) is None                       # more than the 1000 seeds searched
    assert seeds_for_power(0.001, 0.3, max_n=10**6) is not None      # ... though some number would
    assert seeds_for_power(0.5, 0.0) == 2                            # noiseless: the fewest a test takes
    assert seeds_for_power(5.0, 0.2) == 2
    assert seeds_for_power(0.2, 0.2828, power=0.9) > seeds_for_power(0.2, 0.2828)
