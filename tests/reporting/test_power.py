"""The power of each claimed gain in the reports: the sd used (the prior until two seeds ran, then the measured
one), the power, whether the seeds resolve the claim, and the seeds that would."""
import math

import pandas as pd
import pytest

from editrepro.tables import TABLES
from editrepro.reporting.comparisons import paired_comparisons
from editrepro.reporting.power import claim_power, power_counts, power_frame, power_lines, seed_sd
from editrepro.reporting.tables import comparison_section

STATS = {"seed_sd": 0.2}


def per_seed(edit: dict, deit: dict, paper=(81.8, 81.3)) -> pd.DataFrame:
    """Per-seed rows of Table 3a's EDIT-S and DeiT3-S at 224 ({seed: top-1})."""
    rows = []
    for label, arch, values, pv in (("EDIT-S", "edit_small_patch16_224", edit, paper[0]),
                                    ("DeiT3-S", "deit3_ref_small_patch16_224", deit, paper[1])):
        for seed, value in (values or {None: None}).items():
            rows.append(dict(table="table3", half="a", row=label, column="top1", metric="top1", convention="",
                             model=arch, resolution=224, seed=seed, reproduced_value=value, paper_value=pv,
                             status="off" if value is not None else "pending"))
    return pd.DataFrame(rows)


def test_one_seed_uses_the_prior_two_use_the_measured_spread():
    one = paired_comparisons(per_seed({0: 81.9}, {0: 81.2}))
    p = power_frame(one, STATS).iloc[0]
    assert p.sd_source == "prior" and p.sd_d == pytest.approx(math.sqrt(2) * 0.2) and p.n == 1
    assert pd.isna(p.power) and not p.resolvable                      # one seed: no test, nothing resolved
    text = "\n".join(comparison_section(one, STATS))
    assert "0.28 (prior)" in text and "no test (one seed)" in text

    # three seeds: differences 0.6, 0.4, 0.5 -> sd 0.1, measured
    three = paired_comparisons(per_seed({0: 81.9, 1: 81.8, 2: 81.8}, {0: 81.3, 1: 81.4, 2: 81.3}))
    p = power_frame(three, STATS).iloc[0]
    assert p.sd_source == "measured" and p.sd_d == pytest.approx(0.1) and p.n == 3
    from test_stats import power_by_integration

    assert p.power == pytest.approx(power_by_integration(0.5, 0.1, 3), abs=1e-6)
    assert p.resolvable == (p.power >= 0.8)
    text = "\n".join(comparison_section(three, STATS))
    assert "0.10 (measured)" in text and "(prior)" not in text and f"{p.power:.0%}" in text


def test_resolvable_claims_are_counted():
    # +0.5 claimed, measured sd 0.1 over 3 seeds: power about 0.99; a +0.1 claim with the same spread is not resolved
    big = paired_comparisons(per_seed({0: 81.9, 1: 81.8, 2: 81.8}, {0: 81.3, 1: 81.4, 2: 81.3}))
    small = paired_comparisons(per_seed({0: 81.9, 1: 81.8, 2: 81.8}, {0: 81.3, 1: 81.4, 2: 81.3}, paper=(81.4, 81.3)))
    both = pd.concat([big, small.assign(column="top1_other")], ignore_index=True)
    frame = power_frame(both, STATS)
    assert list(frame["resolvable"]) == [True, False]
    assert power_counts(both, STATS) == {"resolvable": 1, "not resolvable": 1}
    lines = "\n".join(power_lines(both, STATS))
    assert "1 of 2 claimed gains can be resolved" in lines


def test_claim_power_by_hand():
    c = claim_power(0.5, 0, None, STATS)                # not run: the prior, no power, the seeds it needs
    assert c["sd_source"] == "prior" and c["power"] is None
    from test_stats import power_by_integration

    n = c["seeds_needed"]
    assert power_by_integration(0.5, math.sqrt(2) * 0.2, n) >= 0.8 > power_by_integration(0.5, math.sqrt(2) * 0.2, n - 1)
    assert claim_power(0.0, 3, 0.2, STATS)["seeds_needed"] is None       # a zero claim: no number of seeds
    assert claim_power(-0.5, 3, 0.2, STATS)["power"] == claim_power(0.5, 3, 0.2, STATS)["power"]
    # a per-table override
    assert claim_power(0.5, 0, None, {"seed_sd": 0.2, "seed_sd_by_table": {"table5": 0.5}}, "table5")["sd_d"] == \
        pytest.approx(math.sqrt(2) * 0.5)


def test_bad_seed_sd_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="stats.seed_sd: expected a positive number"):
        seed_sd({"seed_sd": -0.1})
    with pytest.raises(ValueError, match="stats.seed_sd_by_table.table4"):
        seed_sd({"seed_sd": 0.2, "seed_sd_by_table": {"table4": "x"}}, "table4")
    assert seed_sd(None) == 0.2 and seed_sd({"seed_sd": 0.3}, "table3") == 0.3


def test_no_claim_no_section():
    unclaimed = paired_comparisons(per_seed({0: 81.9}, {0: 81.2}, paper=(None, 81.3)))
    assert power_lines(unclaimed, STATS) == []


def test_the_report_counts_resolvable_claims_and_shows_the_power():
    from editrepro.reporting.report import render_report
    from editrepro.reporting.results import CELL_COLUMNS

    one = per_seed({0: 81.9}, {0: 81.2}).reindex(columns=CELL_COLUMNS).assign(tolerance=0.5)
    text = render_report(one, {"name": "t", "comparable_to_paper": True, "stats": STATS}, "# Table 1\n", {}, tables=list(TABLES.values()))
    assert "0 resolvable, 1 not resolvable" in text and "0.28 (prior)" in text
    three = per_seed({0: 81.9, 1: 81.8, 2: 81.8}, {0: 81.3, 1: 81.4, 2: 81.3})
    text = render_report(three.reindex(columns=CELL_COLUMNS).assign(tolerance=0.5),
                         {"name": "t", "comparable_to_paper": True, "stats": STATS}, "# Table 1\n", {}, tables=list(TABLES.values()))
    assert "1 resolvable, 0 not resolvable" in text and "0.10 (measured)" in text
