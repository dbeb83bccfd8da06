"""Seed statistics against values computed by hand: mean, sample std, Student-t interval, paired differences,
and the interval status at its edges."""
import math

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
