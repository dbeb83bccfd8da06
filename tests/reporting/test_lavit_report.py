"""LaViT's table: counted cells, top-1 statuses, the claims per size, the page and its place in report.md."""
import json

import pandas as pd
import pytest

from editrepro.analysis import counting
from editrepro.lavit_design import DESIGN_CHOICES
from editrepro.tables import TABLES
from editrepro.reporting.paper import load_paper_tables
from editrepro.reporting.report import render_report, reproduction_matrix
from editrepro.reporting.results import collect_lavit, combine
from editrepro.reporting.tables import lavit_claims, render_page

PAPER = load_paper_tables()


def evaluation(tmp_path, row, arch, top1):
    path = tmp_path / f"{row}.json"
    path.write_text(json.dumps({"model": arch, "top1": top1, "run_id": "0123456789abcdef", "tags": {"row": row}}))
    return path


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lavit")
    evals = [evaluation(tmp, "LaViT-S", "lavit_small_224", 82.4),      # Δ -0.2: reproduced
             evaluation(tmp, "PVTv2-b2", "pvt_v2_b2", 81.0)]          # Δ -1.0: off
    return collect_lavit(evals, PAPER, "paper", comparable=True, counter=counting)


def one(df, **where):
    where.setdefault("half", "")          # the ImageNet-1k cells (dense runs: tests/reporting/test_lavit_dense_report.py)
    for k, v in where.items():
        df = df[df[k] == v]
    assert len(df) == 1, df
    return df.iloc[0]


def test_top1_statuses(cells):
    assert one(cells, row="LaViT-S", column="top1").status == "reproduced"
    off = one(cells, row="PVTv2-b2", column="top1")
    assert off.status == "off" and off.delta == pytest.approx(-1.0)
    assert one(cells, row="LaViT-B", column="top1").status == "pending"


def test_counts_are_comparable_with_relative_tolerances(cells):
    p = one(cells, row="LaViT-S", column="params_m")
    assert p.status == "reproduced" and p.tolerance == pytest.approx(0.03 * 22.4)
    assert p.reproduced_value == pytest.approx(22.47, abs=0.01)
    t = one(cells, row="LaViT-T", column="params_m")
    assert t.status == "off" and t.delta / t.paper_value == pytest.approx(0.153, abs=0.005)
    f = one(cells, row="LaViT-B", column="gmacs", convention="all")
    assert f.status == "reproduced" and f.tolerance == pytest.approx(0.05 * 6.1)
    assert one(cells, row="PVTv2-b3", column="gmacs", convention="all").reproduced_value == pytest.approx(6.92, abs=0.01)


def test_demo_top1_is_not_comparable_but_counts_are(tmp_path):
    df = collect_lavit([evaluation(tmp_path, "LaViT-T", "lavit_tiny_224", 17.0)], PAPER, "demo", comparable=False,
                       counter=counting)
    assert one(df, row="LaViT-T", column="top1").status == "not comparable"
    assert one(df, row="LaViT-S", column="params_m").status == "reproduced"


def test_claims_per_size(cells, tmp_path):
    lines = lavit_claims(cells)
    assert len(lines) == 3
    small = next(line for line in lines if "LaViT-S vs PVTv2-b2" in line)
    assert "claims +0.6 top-1 at 0.82x the FLOPs" in small and "fewer FLOPs: holds" in small
    assert "reproduced Δ +1.40 (holds)" in small
    assert "reproduced Δ pending" in next(line for line in lines if "LaViT-T" in line)
    worse = collect_lavit([evaluation(tmp_path, "LaViT-S", "lavit_small_224", 80.0),
                           evaluation(tmp_path, "PVTv2-b2", "pvt_v2_b2", 81.0)], PAPER, "paper", comparable=True,
                          counter=counting)
    assert "reproduced Δ -1.00 (does not hold)" in " ".join(lavit_claims(worse))


def test_page_lists_every_reconstructed_choice(cells):
    text = render_page(TABLES["lavit"], cells, {"name": "paper", "comparable_to_paper": True}, commit="abc",
                       figures={"lavit_attention_saturation.png": "figures/lavit_attention_saturation.png"})
    assert text.startswith("# LaViT against the PVTv2 it modifies: ImageNet-1k, COCO and ADE20K")
    assert "| LaViT-S  | `lavit_small_224` | 22.4" in text
    assert "Counts: 5 of 6 parameter counts within 3% of the printed value, 6 of 6 FLOP figures within 5%" in text
    for c in DESIGN_CHOICES:
        assert c.default in text and c.evidence in text
    assert "![Attention saturation" in text and "snakemake reproduce_lavit" in text


def test_report_md_counts_lavit_cells(cells):
    results = combine([cells[cells.half == ""]])          # the ImageNet-1k part; the dense part is counted apart
    m = reproduction_matrix(results)
    # one top-1 reproduced, one off, four pending; 5 + 6 counted cells reproduced, one off (LaViT-T params)
    assert m.loc["lavit", "reproduced"] == 1 + 5 + 6 and m.loc["lavit", "off"] == 1 + 1
    assert m.loc["lavit", "pending"] == 4
    text = render_report(results, {"name": "paper", "comparable_to_paper": True}, "# T1\n", {}, commit="abc", tables=list(TABLES.values()))
    assert "## LaViT against the PVTv2 it modifies: ImageNet-1k, COCO and ADE20K" in text
    assert "### The paper's claims" in text and "### Reconstructed design choices" in text
    assert isinstance(results, pd.DataFrame) and set(results.table) == {"lavit"}
