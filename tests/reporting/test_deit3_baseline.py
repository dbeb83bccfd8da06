"""DeiT III's own numbers as a second baseline of Table 3: the cited published rows, the claims against them, and
the official-recipe rows paired seed by seed with EDIT. Expected values are computed here from the numbers of
facebookresearch/deit README_revenge.md (Model Zoo) and the EDIT paper's Table 3, transcribed independently."""
import json

import pytest

from editrepro.tables import TABLES
from editrepro.baselines import arch_size, official_chain, official_row
from editrepro.reporting.comparisons import comparison_lines, paired_comparisons, published_summary
from editrepro.reporting.paper import load_paper_tables
from editrepro.reporting.results import collect_table3, summarize_cells
from editrepro.reporting.tables import render_page

PAPER = load_paper_tables()
# README_revenge.md, acc@1 (INet-1k): (half, size, resolution) -> top-1
README = {("a", "S", 224): 81.4, ("a", "S", 384): 83.4, ("a", "B", 224): 83.8, ("a", "B", 384): 85.0,
          ("b", "S", 224): 83.1, ("b", "S", 384): 84.8, ("b", "B", 224): 85.7, ("b", "B", 384): 86.7}
# the EDIT paper's Table 3: EDIT's printed top-1 and its own DeiT3 runs
EDIT = {("a", "S", 224): 81.8, ("a", "B", 224): 83.7, ("b", "S", 224): 83.5, ("b", "S", 384): 84.8,
        ("b", "B", 224): 85.4, ("b", "B", 384): 86.3}
TIMM = {("a", "S", 224): "deit3_small_patch16_224.fb_in1k", ("b", "B", 384): "deit3_base_patch16_384.fb_in22k_ft_in1k"}


def evals(tmp_path, values, half="a", res="224"):
    """Evaluation JSONs as the workflow writes them: {(row label, arch, seed): top1}."""
    paths = []
    for i, ((row, arch, seed), top1) in enumerate(values.items()):
        p = tmp_path / f"e{half}{res}_{i}.json"
        p.write_text(json.dumps({"model": arch, "run_id": f"run-{i}", "top1": top1,
                                 "tags": {"half": half, "row": row, "resolution": res, "seed": str(seed)}}))
        paths.append(p)
    return paths


def test_arch_size_agrees_with_the_model_families():
    from editrepro.families import model_size

    for arch in ("deit3_ref_tiny_patch16_224", "deit3_ref_small_patch16_224", "deit3_ref_base_patch16_224",
                 "deit3_base_patch16_384.fb_in1k", "edit_small_patch16_224", "deit3_large_patch16_224", "vit_x"):
        assert arch_size(arch) == model_size(arch), arch


def test_the_published_rows_are_cited_beside_the_papers_own():
    cells = collect_table3([], PAPER, "paper", comparable=True)
    for (half, size, res), top1 in README.items():
        row = cells[(cells.row == f"DeiT III-{size} (published)") & (cells.half == half) & (cells.resolution == res)]
        assert len(row) == 1 and row.iloc[0].paper_value == top1 and row.iloc[0].status == "cited"
    rows = {(r["half"], r["model"][9], r["img_size"]): r for r in PAPER["table3"]["rows"]
            if r.get("baseline") == "published"}
    assert len(rows) == 8 and all(r["source"] for r in rows.values())
    for key, name in TIMM.items():
        assert rows[key]["timm"] == name
    # the EDIT paper's own DeiT3 rows are untouched
    deit3_b = cells[(cells.row == "DeiT3-B") & (cells.half == "a") & (cells.resolution == 224)].iloc[0]
    assert deit3_b.paper_value == 83.6 and deit3_b.status == "pending"


def test_every_claim_is_stated_against_deit3s_own_numbers():
    comps = paired_comparisons(collect_table3([], PAPER, "paper", comparable=True))
    pub = comps[comps.baseline == "published"]
    assert len(pub) == len(EDIT)
    lines = "\n".join(comparison_lines(pub))
    for (half, size, res), edit in EDIT.items():
        readme = README[(half, size, res)]
        c = pub[(pub.half == half) & (pub.resolution == res) & (pub.a_row == f"EDIT-{size}")].iloc[0]
        assert c.claimed == pytest.approx(edit - readme) and c.b_row == f"DeiT III-{size} (published)"
        verdict = "a gain" if round(edit - readme, 6) > 0 else "no gain"
        assert (f"the paper's EDIT-{size} {edit:.1f} against DeiT III's own {readme:.1f}: {verdict} "
                f"({edit - readme:+.1f})") in lines
    assert "EDIT-B 83.7 against DeiT III's own 83.8: no gain (-0.1)" in lines
    # the pairs against the paper's own DeiT3 rows are still there, unchanged
    paper_pair = comps[(comps.baseline == "paper") & (comps.a_row == "EDIT-B") & (comps.half == "a")].iloc[0]
    assert paper_pair.b_row == "DeiT3-B" and paper_pair.claimed == pytest.approx(83.7 - 83.6)
    ahead = sum(round(EDIT[k] - README[k], 6) > 0 for k in EDIT)
    assert f"the paper's EDIT is ahead in {ahead} of {len(EDIT)} claims" in published_summary(comps)


def test_the_reproduced_edit_against_the_published_value(tmp_path):
    values = {("EDIT-B", "edit_base_patch16_224", 0): 83.5, ("EDIT-B", "edit_base_patch16_224", 1): 83.9}
    comps = paired_comparisons(collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True))
    c = comps[(comps.baseline == "published") & (comps.a_row == "EDIT-B") & (comps.half == "a")
              & (comps.resolution == 224)].iloc[0]
    mean = (83.5 + 83.9) / 2
    assert c.n == 2 and c.gain == pytest.approx(mean - 83.8) and c.seeds == "0,1"
    t = 12.706204736174698     # Student t, 97.5%, 1 degree of freedom
    std = ((83.5 - mean) ** 2 + (83.9 - mean) ** 2) ** 0.5
    assert c.ci_low == pytest.approx(mean - t * std / 2 ** 0.5 - 83.8) and c.verdict == "no difference"
    assert f"reproduced EDIT-B {mean:.2f} ± {std:.2f} over seeds 0,1 (n=2): {mean - 83.8:+.2f} against it" in \
        "\n".join(comparison_lines(comps))


def test_the_official_recipe_row_is_paired_seed_by_seed(tmp_path):
    official = official_row("DeiT3-S")
    values = {("EDIT-S", "edit_small_patch16_224", 0): 81.9, ("EDIT-S", "edit_small_patch16_224", 1): 82.1,
              ("DeiT3-S", "deit3_ref_small_patch16_224", 0): 81.2, ("DeiT3-S", "deit3_ref_small_patch16_224", 1): 81.5,
              (official, "deit3_ref_small_patch16_224", 0): 81.6, (official, "deit3_ref_small_patch16_224", 1): 81.7}
    per_seed = collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True)
    cells = summarize_cells(per_seed)
    row = cells[(cells.row == official) & (cells.half == "a") & (cells.resolution == 224)].iloc[0]
    # its paper value is DeiT III's own published 81.4; mean 81.65 within 0.5 of it
    assert row.paper_value == 81.4 and row.reproduced_value == pytest.approx(81.65) and row.n == 2
    assert row.status == "reproduced"
    comps = paired_comparisons(per_seed)
    c = comps[(comps.baseline == "deit3_official") & (comps.half == "a")].iloc[0]
    assert c.a_row == "EDIT-S" and c.b_row == official and c.n == 2
    assert c.gain == pytest.approx(((81.9 - 81.6) + (82.1 - 81.7)) / 2)
    assert c.claimed == pytest.approx(81.8 - 81.4)
    paper = comps[(comps.baseline == "paper") & (comps.half == "a") & (comps.a_row == "EDIT-S")].iloc[0]
    assert paper.b_row == "DeiT3-S" and paper.gain == pytest.approx(((81.9 - 81.2) + (82.1 - 81.5)) / 2)
    page = render_page(TABLES["table3"], per_seed, {"name": "paper", "comparable_to_paper": True})
    assert f"**EDIT-S vs {official}** (Table 3a, 224², top1): the paper's EDIT-S 81.8 against DeiT III's own 81.4" \
        in page
    assert "| DeiT III-S (published) |" in page and "(official recipe)* are DeiT3 trained here" in page


def test_a_tiny_official_row_has_no_published_value(tmp_path):
    official = official_row("DeiT3-T")
    values = {(official, "deit3_ref_tiny_patch16_224", 0): 60.0, ("EDIT-T", "edit_tiny_patch16_224", 0): 61.0}
    per_seed = collect_table3(evals(tmp_path, values), PAPER, "demo", comparable=False)
    row = per_seed[per_seed.row == official].iloc[0]
    assert row.paper_value is None or row.paper_value != row.paper_value      # DeiT III publishes no ViT-Ti
    assert row.status == "not comparable"
    c = paired_comparisons(per_seed)
    c = c[c.baseline == "deit3_official"].iloc[0]
    assert c.gain == pytest.approx(1.0) and "no published DeiT III value here" in "\n".join(comparison_lines(
        c.to_frame().T))


def test_the_official_chains():
    assert official_chain("in1k_official_224", "small") == dict(stage="official_in1k_small", res="224", init=None)
    assert official_chain("in1k_official_224", "base") == dict(stage="official_in1k_base_ft224", res="224",
                                                               init="in1k_official_192")
    assert official_chain("in1k_official_192", "small") is None
    assert official_chain("in21k_official_384", "tiny")["init"] == "in21k_official_pretrain"
    assert official_chain("in1k_official_224", "large") is None


def test_the_report_counts_the_claims_against_deit3s_own_numbers():
    from editrepro.reporting.report import render_report

    cells = collect_table3([], PAPER, "paper", comparable=True)
    text = render_report(cells, {"name": "paper", "comparable_to_paper": True}, "# Table 1\n", {}, tables=list(TABLES.values()))
    ahead = sum(round(EDIT[k] - README[k], 6) > 0 for k in EDIT)
    assert (f"**Against DeiT III's own published numbers** (README_revenge.md, not the EDIT paper's DeiT3 runs), the "
            f"paper's EDIT is ahead in {ahead} of {len(EDIT)} claims") in text
    assert "EDIT-B 83.7 vs 83.8 (-0.1, Table 3a, 224²)" in text
