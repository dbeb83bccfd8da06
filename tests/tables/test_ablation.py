"""An ablation table from evaluation JSONs: per-seed cells, the paired difference from the full model as its own
cells, and the page's mean, interval and verdict, against values computed here from the same numbers."""
import json
import statistics

import pandas as pd
import pytest
from scipy import stats

from editrepro.reporting.results import summarize_cells
from editrepro.tables import TABLES


def evaluation(tmp_path, run, row, seed, top1, **tags):
    path = tmp_path / f"{run}_{row}_{seed}.json"
    path.write_text(json.dumps({"top1": top1, "model": "edit_tiny_patch16_224", "run_id": f"r{row}{seed}",
                                "tags": {"row": row, "seed": str(seed), **tags}}))
    return path


@pytest.fixture
def evals(tmp_path):
    full = {0: 72.0, 1: 71.0, 2: 72.5}
    qo = {0: 72.6, 1: 71.9, 2: 73.0}          # better on every seed
    heads = {0: 71.0}                          # one seed only
    files = [evaluation(tmp_path, "in1k_224", "EDIT-T", s, v, table="table3", half="a") for s, v in full.items()]
    files += [evaluation(tmp_path, "edit_ablation", "qo_proj", s, v, table="edit_ablation", ablates="EDIT-T",
                         change="decoder_qo_proj=true") for s, v in qo.items()]
    files += [evaluation(tmp_path, "edit_ablation", "heads3", s, v, table="edit_ablation", ablates="EDIT-T",
                         change="decoder_heads=3") for s, v in heads.items()]
    return files, full, qo


def test_the_collector_pairs_each_variant_with_the_full_model_by_seed(evals):
    files, full, qo = evals
    cells = TABLES["edit_ablation"].collect(files, {}, "paper", comparable=True)
    top1 = cells[cells.metric == "top1"]
    assert sorted(top1["row"].unique()) == ["EDIT-T (full model)", "heads3 (decoder_heads=3)",
                                            "qo_proj (decoder_qo_proj=true)"]
    delta = cells[(cells.metric == "top1_delta") & (cells.row == "qo_proj (decoder_qo_proj=true)")]
    assert dict(zip(delta.seed.astype(int), delta.reproduced_value)) == pytest.approx(
        {s: qo[s] - full[s] for s in full})
    assert set(cells["status"]) == {"no paper value"} and cells["paper_value"].isna().all()
    summary = summarize_cells(cells)
    d = summary[(summary.metric == "top1_delta") & (summary.row.str.startswith("qo_proj"))].iloc[0]
    diffs = [qo[s] - full[s] for s in full]
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    assert (d.reproduced_value, d.ci_low, d.ci_high) == pytest.approx(
        (statistics.mean(diffs), statistics.mean(diffs) - half, statistics.mean(diffs) + half))


def test_the_page_gives_each_variants_paired_difference_and_verdict(evals):
    files, full, qo = evals
    page = TABLES["edit_ablation"].sections(TABLES["edit_ablation"].collect(files, {}, "paper", comparable=True))
    rows = {line.split("|")[1].strip(): [x.strip() for x in line.split("|")[2:-1]]
            for line in page.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["EDIT-T (full model)"][:2] == [f"{statistics.mean(full.values()):.2f}", "3"]
    mean_delta = statistics.mean(qo[s] - full[s] for s in full)
    assert rows["qo_proj (decoder_qo_proj=true)"][2] == f"{mean_delta:.2f}"
    # every seed's difference is positive and they agree closely: the interval excludes zero
    assert rows["qo_proj (decoder_qo_proj=true)"][4] == "better than the full model"
    assert rows["heads3 (decoder_heads=3)"][4] == "one seed: cannot tell from noise"


def test_a_page_without_the_full_models_evaluation_says_so():
    empty = pd.DataFrame(columns=["table", "row", "column", "metric", "convention", "resolution", "half", "seed",
                                  "reproduced_value", "paper_value", "status", "tolerance", "run_id"])
    assert "no evaluation" in TABLES["lavit_ablation"].sections(empty)
