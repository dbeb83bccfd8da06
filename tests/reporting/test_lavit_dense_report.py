"""LaViT's COCO and ADE20K tables: cells from dense evaluations, counted sizes, the flag, the claims."""
import json

import pytest

from editrepro.analysis import counting
from editrepro.tables import TABLES
from editrepro.reporting.paper import load_paper_tables
from editrepro.reporting.report import reproduction_matrix
from editrepro.reporting.results import collect_lavit, combine
from editrepro.reporting.tables import dense_claims, render_page

PAPER = load_paper_tables()


def dense_eval(tmp_path, run, row, arch, **metrics):
    path = tmp_path / f"{run}-{row}.json"
    path.write_text(json.dumps({"model": arch, "run_id": "fedcba9876543210", "tags": {"row": row, "half": run},
                                **metrics}))
    return path


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dense")
    det = dict(AP50=60.0, AP75=45.0, APs=25.0, APm=45.0, APl=55.0)
    evals = [
        dense_eval(tmp, "coco_1x", "LaViT-T", "lavit_tiny_224", AP=46.0, **det,                  # Δ -0.2: reproduced
                   params_paper_arch=22_306_811, gmacs_paper_arch=225.55),
        dense_eval(tmp, "coco_1x", "PVTv2-b1", "pvt_v2_b1", AP=41.0, **det,
                   params_paper_arch=23_745_972, gmacs_paper_arch=224.97),
        dense_eval(tmp, "ade20k_semantic_fpn", "LaViT-S", "lavit_small_224", miou_ss=42.0, miou_ms=43.5,  # Δ -2.1
                   params_paper_arch=26_219_263, gmacs_paper_arch=42.94),
    ]
    return collect_lavit(evals, PAPER, "paper", comparable=True, counter=counting)


def one(df, **where):
    for k, v in where.items():
        df = df[df[k] == v]
    assert len(df) == 1, df
    return df.iloc[0]


def test_dense_cells_and_statuses(cells):
    assert one(cells, half="coco_1x", row="LaViT-T", column="AP").status == "reproduced"
    off = one(cells, half="ade20k_semantic_fpn", row="LaViT-S", column="miou_ss")
    assert off.status == "off" and off.delta == pytest.approx(-2.1)
    assert one(cells, half="coco_3x", row="LaViT-S", column="AP").status == "pending"
    # a row the config adds has no paper value; its counts come from its evaluation
    pvt = one(cells, half="coco_1x", row="PVTv2-b1", column="AP")
    assert pvt.status == "no paper value" and pvt.reproduced_value == 41.0
    assert one(cells, half="coco_1x", row="PVTv2-b1", column="params_m").reproduced_value == pytest.approx(23.75, abs=0.01)
    # the classification part is untouched by the dense rows of the same labels
    assert one(cells, half="", row="LaViT-T", column="top1").status == "pending"


def test_counted_gflops_against_the_printed_ones(cells):
    t = one(cells, half="coco_1x", row="LaViT-T", column="gmacs")
    assert t.paper_value == 202 and t.status == "off"          # 225.6 counted: +12%
    # a paper row nobody ran is counted on the meta device: LaViT-S's RetinaNet at 1280 x 800
    s = one(cells, half="coco_3x", row="LaViT-S", column="gmacs")
    assert s.reproduced_value == pytest.approx(300.2, abs=0.5) and s.status == "reproduced"   # 290 printed, +3.5%


def test_page_has_both_dense_tables_the_flag_and_the_claims(cells):
    text = render_page(TABLES["lavit"], cells, {"name": "paper", "comparable_to_paper": True}, commit="abc")
    assert "## COCO detection: RetinaNet on each backbone" in text
    assert "## ADE20K segmentation: Semantic FPN and UperNet on each backbone" in text
    assert "unusually high for backbones of this size" in text
    assert "| LaViT-T    | 1x         | `lavit_tiny_224`" in text
    claims = dense_claims(cells[cells.half != ""])
    assert claims == ["- **RetinaNet 1x, LaViT-T vs PVTv2-b1**: counted GFLOPs 1.00x (not fewer: does not hold); "
                      "reproduced Δ +5.00 AP (holds)."]


def test_matrix_counts_the_dense_cells(cells):
    m = reproduction_matrix(combine([cells]))
    dense = cells[cells.half != ""]
    # every cell counts once; each ImageNet FLOP figure's second convention is folded into its first
    assert m.loc["lavit"].sum() == len(cells) - (cells.convention == "no_attn").sum()
    assert len(dense) == 5 * (6 + 2) + 2 * (2 + 2)       # 4 printed + 1 run COCO rows, 2 printed ADE20K rows
    assert (dense.status == "pending").sum() > 0 and m.loc["lavit", "pending"] >= (dense.status == "pending").sum()


def test_demo_rows_without_a_paper_value_are_not_comparable(tmp_path):
    """A demo's dense rows the paper does not print (LaViT-T with Semantic FPN) are stand-in data, and a claim
    on them says so instead of "holds"."""
    evals = [dense_eval(tmp_path, "ade20k_semantic_fpn", "LaViT-T", "lavit_tiny_224", miou_ss=11.0, miou_ms=12.0),
             dense_eval(tmp_path, "ade20k_semantic_fpn", "PVTv2-b1", "pvt_v2_b1", miou_ss=6.0, miou_ms=6.5)]
    df = collect_lavit(evals, PAPER, "demo", comparable=False, counter=counting)
    assert one(df, half="ade20k_semantic_fpn", row="LaViT-T", column="miou_ss").status == "not comparable"
    claims = dense_claims(df[df.half != ""])
    assert claims and "reproduced Δ +5.00 mIoU (not comparable: demo data)" in claims[0]
