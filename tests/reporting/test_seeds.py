"""Cells over seeds: per-seed rows kept, aggregates computed from them (mean, std, t-interval, status at the
interval's edges), one seed rendering today's tables exactly, paired comparisons, and the cells' MLflow parents."""
import json
import math

import pandas as pd
import pytest

from editrepro.tables import TABLES
from editrepro.reporting.comparisons import paired_comparisons
from editrepro.reporting.paper import load_paper_tables
from editrepro.reporting.results import collect_table3, summarize_cells
from editrepro.reporting.tables import render_page

PAPER = load_paper_tables()
T2 = 12.706204736174698   # Student t, 97.5%, 1 degree of freedom


def evals(tmp_path, values, half="a", res="224"):
    """Evaluation JSONs ``{(row, seed): top1}`` as the workflow writes them (tags carry the seed)."""
    paths = []
    for (row, seed), top1 in values.items():
        p = tmp_path / f"{row}_{half}_{res}_{seed}.json"
        p.write_text(json.dumps({"model": {"EDIT-S": "edit_small_patch16_224", "DeiT3-S": "deit3_ref_small_patch16_224",
                                           "EDIT-B": "edit_base_patch16_224", "DeiT3-B": "deit3_ref_base_patch16_224"}[row],
                                 "run_id": f"run-{row}-{seed}", "top1": top1,
                                 "tags": {"half": half, "row": row, "resolution": res, "seed": str(seed)}}))
        paths.append(p)
    return paths


def one(df, **where):
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_per_seed_rows_and_their_aggregate(tmp_path):
    # EDIT-S (paper 81.8): seeds 81.5, 81.9; DeiT3-S (paper 81.3): 80.0, 80.2
    per_seed = collect_table3(evals(tmp_path, {("EDIT-S", 0): 81.5, ("EDIT-S", 1): 81.9, ("DeiT3-S", 1): 80.2,
                                               ("DeiT3-S", 0): 80.0}), PAPER, "paper", comparable=True)
    rows = per_seed[(per_seed.row == "EDIT-S") & (per_seed.half == "a") & (per_seed.resolution == 224)]
    assert sorted(rows.seed.tolist()) == [0, 1] and sorted(rows.reproduced_value) == [81.5, 81.9]   # kept, not replaced
    cells = summarize_cells(per_seed)
    edit = one(cells, row="EDIT-S", half="a", resolution=224)
    std = math.sqrt(((81.5 - 81.7) ** 2 + (81.9 - 81.7) ** 2) / 1)
    assert (edit.n, edit.reproduced_value, edit.stdev) == (2, pytest.approx(81.7), pytest.approx(std))
    assert edit.ci_low == pytest.approx(81.7 - T2 * std / math.sqrt(2))
    assert edit.delta == pytest.approx(81.7 - 81.8) and edit.seeds == "0,1" and edit.status == "reproduced"
    assert edit.run_ids == "run-EDIT-S-0,run-EDIT-S-1"
    deit = one(cells, row="DeiT3-S", half="a", resolution=224)   # [80.1 -+ 1.27]: 81.3 inside once widened by 0.5
    assert deit.status == "reproduced" and deit.ci_high + 0.5 >= 81.3
    pending = one(cells, row="EDIT-B", half="a", resolution=224)
    assert pending.status == "pending" and pd.isna(pending.n)


def test_status_at_the_edge_of_the_interval(tmp_path):
    # two seeds d apart: the interval is 81.7 +- T2 * d / 2; paper 81.8 sits exactly at its upper edge + 0.5
    half = (81.8 - 0.5 - 81.0)                       # the interval's half width that reaches the paper's value
    d = 2 * half / T2
    values = {("EDIT-S", 0): 81.0 - d / 2, ("EDIT-S", 1): 81.0 + d / 2}
    at_edge = summarize_cells(collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True))
    assert one(at_edge, row="EDIT-S", half="a", resolution=224).status == "reproduced"
    values = {("EDIT-S", 0): 81.0 - d / 2 * 0.999, ("EDIT-S", 1): 81.0 + d / 2 * 0.999}
    inside = summarize_cells(collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True))
    assert one(inside, row="EDIT-S", half="a", resolution=224).status == "off"


def test_one_seed_renders_the_tables_as_before(tmp_path):
    values = {("EDIT-S", 0): 81.6, ("DeiT3-S", 0): 80.1}
    per_seed = collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True)
    # before seeds, a table's renderer took the collector's rows directly (one per cell)
    before = TABLES["table3"].sections(per_seed.drop(columns=["seed"]))
    assert TABLES["table3"].sections(summarize_cells(per_seed)) == before
    assert "| 81.60        | -0.20 | ✓ " in before and "] (n=" not in before


def test_several_seeds_show_the_interval_and_the_paired_comparison(tmp_path):
    values = {("EDIT-S", 0): 81.9, ("EDIT-S", 1): 82.0, ("EDIT-S", 2): 81.8,
              ("DeiT3-S", 0): 81.4, ("DeiT3-S", 1): 81.6, ("DeiT3-S", 2): 81.3}
    per_seed = collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True)
    pairs = paired_comparisons(per_seed)
    pair = one(pairs, a_row="EDIT-S", half="a", resolution=224, baseline="paper")   # (and DeiT III's published)
    # differences 0.5, 0.4, 0.5: mean 0.4667, std 0.0577
    assert pair.b_row == "DeiT3-S" and pair.n == 3 and pair.gain == pytest.approx(1.4 / 3)
    assert pair.gain_stdev == pytest.approx(math.sqrt(((0.5 - 1.4 / 3) ** 2 * 2 + (0.4 - 1.4 / 3) ** 2) / 2))
    assert pair.claimed == pytest.approx(0.5) and pair.verdict == "A > B" and pair.ci_low > 0
    page = render_page(TABLES["table3"], per_seed, {"name": "paper", "comparable_to_paper": True})
    assert "81.90 ± 0.10 [" in page and "(n=3)" in page
    assert "**EDIT-S vs DeiT3-S** (Table 3a, 224², top1): the paper claims +0.5; reproduced +0.47 ± 0.06" in page
    assert "gain distinguishable from zero" in page


def test_a_seed_evaluated_twice_is_an_error(tmp_path):
    paths = evals(tmp_path, {("EDIT-S", 0): 81.6})
    twin = tmp_path / "twin.json"
    twin.write_text(paths[0].read_text())
    with pytest.raises(ValueError, match="same seed"):
        collect_table3(paths + [twin], PAPER, "paper", comparable=True)


def test_cells_get_a_parent_mlflow_run_with_their_seeds_nested(tmp_path):
    from mlflow.tracking import MlflowClient

    from editrepro.tracking.cell_runs import CELL_TAG, nest_seed_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from editrepro.tracking import ensure_store

    ensure_store(uri)
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("table3")
    ids = {}
    for seed, top1 in ((0, 81.5), (1, 81.9)):
        run = client.create_run(exp, run_name=f"paper/in1k_224/EDIT-S/seed{seed}")
        client.set_terminated(run.info.run_id)
        ids[seed] = run.info.run_id
    values = {("EDIT-S", 0): 81.5, ("EDIT-S", 1): 81.9}
    per_seed = collect_table3(evals(tmp_path, values), PAPER, "paper", comparable=True)
    per_seed.loc[per_seed.seed == 0, "run_id"] = ids[0]
    per_seed.loc[per_seed.seed == 1, "run_id"] = ids[1]
    cells = summarize_cells(per_seed)
    parents = nest_seed_runs(cells, uri=uri)
    assert list(parents) == ["paper/table3/a/EDIT-S@224"]
    parent = client.get_run(parents["paper/table3/a/EDIT-S@224"])
    assert parent.info.status == "FINISHED" and parent.data.tags["seeds"] == "0,1"
    assert parent.data.metrics["top1/mean"] == pytest.approx(81.7) and parent.data.metrics["top1/n"] == 2
    assert parent.data.metrics["top1/ci_low"] == pytest.approx(one(cells, row="EDIT-S", half="a",
                                                                   resolution=224).ci_low)
    for seed in (0, 1):
        assert client.get_run(ids[seed]).data.tags["mlflow.parentRunId"] == parent.info.run_id
    again = nest_seed_runs(cells, uri=uri)   # re-aggregating updates the same parent
    assert again == parents
    assert len(client.search_runs([exp], filter_string=f"tags.`{CELL_TAG}` LIKE '%'")) == 1


def test_a_seed_run_missing_from_the_store_is_a_warning_not_a_failure(tmp_path, caplog):
    from editrepro.tracking.cell_runs import nest_seed_runs

    per_seed = collect_table3(evals(tmp_path, {("EDIT-S", 0): 81.5}), PAPER, "paper", comparable=True)
    assert nest_seed_runs(summarize_cells(per_seed), uri=f"sqlite:///{tmp_path / 'none.db'}") == {}
    assert "MLflow" in caplog.text


def test_imagenet_v2_and_real_columns_and_their_paired_gain(tmp_path):
    paths = []
    for row, model, v2 in (("EDIT-S", "edit_small_patch16_224", (70.1, 70.5)),
                           ("DeiT3-S", "deit3_ref_small_patch16_224", (69.9, 70.0))):
        for seed in (0, 1):
            p = tmp_path / f"{row}{seed}.json"
            p.write_text(json.dumps({"model": model, "top1": 81.0 + seed, "top1_v2": v2[seed], "top1_real": 86.0,
                                     "tags": {"half": "a", "row": row, "resolution": "224", "seed": str(seed)}}))
            paths.append(p)
    per_seed = collect_table3(paths, PAPER, "paper", comparable=True)
    v2 = one(summarize_cells(per_seed), row="EDIT-S", column="top1_v2")
    assert (v2.n, v2.reproduced_value, v2.status, v2.dataset) == (2, pytest.approx(70.3), "no paper value",
                                                                  "imagenet_v2")
    pair = one(paired_comparisons(per_seed), a_row="EDIT-S", column="top1_v2")
    assert pair.gain == pytest.approx((0.2 + 0.5) / 2) and pd.isna(pair.claimed)   # the paper prints no V2
    page = render_page(TABLES["table3"], per_seed, {"name": "paper", "comparable_to_paper": True})
    assert "| ImageNet-V2 " in page and "| ReaL " in page and "70.30 ± 0.28 [" in page


def test_a_timm_model_the_config_adds_is_paired_with_the_edit_of_its_size(tmp_path):
    """A row of no pair's family (a plain timm ViT, issue 25) is EDIT's baseline too, seed by seed; the ViT and
    DeiT rows the paper cites (no seeds) are not."""
    values = {("EDIT-S", 0): 81.9, ("EDIT-S", 1): 82.0, ("ViTReg-S", 0): 81.0, ("ViTReg-S", 1): 81.4}
    paths = []
    for (row, seed), top1 in values.items():
        p = tmp_path / f"{row}_{seed}.json"
        arch = "vit_small_patch16_224" if row == "ViTReg-S" else "edit_small_patch16_224"
        p.write_text(json.dumps({"model": arch, "run_id": f"run-{row}-{seed}", "top1": top1,
                                 "tags": {"half": "a", "row": row, "resolution": "224", "seed": str(seed)}}))
        paths.append(p)
    pairs = paired_comparisons(collect_table3(paths, PAPER, "paper", comparable=True))
    pair = one(pairs, a_row="EDIT-S", b_row="ViTReg-S")
    assert pair.baseline == "paper" and pair.n == 2 and pair.seeds == "0,1" and pd.isna(pair.claimed)
    assert pair.gain == pytest.approx(((81.9 - 81.0) + (82.0 - 81.4)) / 2)
    assert not pairs["b_row"].isin(["ViT-B/16", "ViT-L/16", "DeiT-S"]).any()
