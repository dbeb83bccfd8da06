"""Renderers and the reproduction matrix against hand-made results, and the collectors' statuses."""
import json

import pandas as pd
import pytest

from editrepro.analysis import counting
from editrepro.tables import TABLES
from editrepro.reporting.paper import load_paper_tables
from editrepro.reporting.report import render_report, reproduction_matrix
from editrepro.reporting.results import collect_table3, collect_table4, collect_table5, combine
from editrepro.reporting.tables import render_page, table4_sections, table5_sections

PAPER = load_paper_tables()


def write_eval(tmp_path, name, **fields):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"model": "m", "run_id": "abcdef1234567890", "git_commit": "c0ffee", **fields}))
    return path


@pytest.fixture
def table3_cells(tmp_path):
    evals = [
        write_eval(tmp_path, "a", top1=81.6, tags={"half": "a", "row": "EDIT-S", "resolution": "224"}),   # Δ -0.2
        write_eval(tmp_path, "b", top1=80.1, tags={"half": "a", "row": "DeiT3-S", "resolution": "224"}),  # Δ -1.2
        write_eval(tmp_path, "c", top1=42.0, tags={"half": "b", "row": "EDIT-T", "resolution": "224"}),   # not in paper
    ]
    return collect_table3(evals, PAPER, "paper", comparable=True)


def cell(df, **where):
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_table3_statuses_and_deltas(table3_cells):
    df = table3_cells
    assert cell(df, half="a", row="EDIT-S", resolution=224).status == "reproduced"
    off = cell(df, half="a", row="DeiT3-S", resolution=224)
    assert off.status == "off" and off.delta == pytest.approx(-1.2)
    assert cell(df, half="a", row="EDIT-B", resolution=224).status == "pending"
    assert cell(df, half="a", row="ViT-B/16", resolution=384).status == "cited"
    assert cell(df, half="b", row="EDIT-T", resolution=224).status == "no paper value"
    assert cell(df, half="a", row="EDIT-B", resolution=384).status == "no paper value"   # printed "-": never pending
    assert pd.isna(cell(df, half="a", row="EDIT-B", resolution=224).reproduced_value)   # never a made-up number


def test_demo_cells_are_not_comparable(tmp_path):
    e = write_eval(tmp_path, "a", top1=81.6, tags={"half": "a", "row": "EDIT-S", "resolution": "224"})
    df = collect_table3([e], PAPER, "demo", comparable=False)
    assert cell(df, half="a", row="EDIT-S", resolution=224).status == "not comparable"


def test_table3_page(table3_cells):
    text = render_page(TABLES["table3"], table3_cells, {"name": "paper", "comparable_to_paper": True}, commit="0123456789abcdef")
    assert text.startswith("# Table 3: ImageNet-1k top-1 of EDIT and DeiT III")
    assert "from commit `0123456789ab`" in text and "Not comparable" not in text
    # 10 + 8 rows not cited, 2 run, 4 printed "-" by the paper (in1k 384): 12 pending
    assert "Cells: 1 reproduced within tolerance, 1 off, 12 pending." in text
    half_a = text.split("## (a)")[1].split("## (b)")[0]
    rows = {}
    for line in half_a.splitlines():
        if line.startswith("| ") and not line.startswith("| Model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(cells[0], cells[1])] = cells
    assert rows[("EDIT-S", "224²")][4:9] == ["81.8", "81.60", "-0.20", "✓", "abcdef12"]
    assert rows[("DeiT3-S", "224²")][4:8] == ["81.3", "80.10", "-1.20", "✗ off"]
    assert rows[("EDIT-B", "224²")][4:8] == ["83.7", "–", "–", "pending"]
    demo = render_page(TABLES["table3"], table3_cells, {"name": "demo"})
    assert "**Not comparable to the paper.**" in demo


def test_table4_cells_and_layout(tmp_path):
    evals = [write_eval(tmp_path, "c10", top1=98.9, tags={"row": "EDIT-B", "column": "cifar10"}),
             write_eval(tmp_path, "dtd", top1=81.2, tags={"row": "DeiT3-B", "column": "dtd"})]
    df = collect_table4(evals, PAPER, "paper", comparable=True)
    assert cell(df, row="EDIT-B", column="cifar10").status == "reproduced"         # 99.3 - 0.4
    assert cell(df, row="DeiT3-B", column="dtd").delta == pytest.approx(-0.3)
    assert cell(df, row="ViT-B/16", column="cifar10").status == "cited"
    assert not len(df[(df.row == "ViT-B/16") & (df.column == "dtd")])              # the paper prints no value there
    text = table4_sections(df)
    line = next(li for li in text.splitlines() if li.startswith("| EDIT-B"))
    assert "99.3 / 98.9 (-0.4) ✓" in line and "93.0 / pending" in line
    assert "CIFAR-100 twice" in text


def test_table5_params_are_comparable_on_any_config(tmp_path):
    e = write_eval(tmp_path, "s", miou_ss=20.0, miou_ms=21.0, params_paper_arch=26_700_000, tags={"row": "EDIT-S"})
    df = collect_table5([e], PAPER, "demo", comparable=False, counter=counting)
    assert cell(df, row="EDIT-S", column="params_m").status == "reproduced"       # 26.7 vs the paper's 27
    assert cell(df, row="EDIT-S", column="miou_ss").status == "not comparable"
    assert cell(df, row="DeiT3-B", column="miou_ms").status == "pending"
    assert cell(df, row="ViT-T", column="miou_ss").status == "cited"
    line = next(li for li in table5_sections(df).splitlines() if li.startswith("| EDIT-S"))
    assert "27 / 26.7" in line and "47.2 / 20.0 (-27.2)" in line
    # rows not run (cited ones too) have their parameters counted on the meta device, like Table 1's
    deit3_b = cell(df, row="DeiT3-B", column="params_m")
    assert deit3_b.reproduced_value == pytest.approx(102.515244) and deit3_b.status == "reproduced"
    assert cell(df, row="ViT-T", column="params_m").status == "reproduced"            # 6.71 vs 7
    assert cell(df, row="ViT-S", column="params_m").reproduced_value == pytest.approx(26.033964)
    assert cell(df, row="DeiT-B", column="params_m").status == "off"                  # the paper prints 87
    text = table5_sections(df)
    assert "| DeiT-B     | 87 / 102.5 (+15.5) ✗ | 47.1 (cited)" in text
    assert "| EDIT-S     | 27 / 26.7 (-0.3) ✓" in text


def test_reproduction_matrix_counts_and_the_report(table3_cells, tmp_path):
    t4 = collect_table4([write_eval(tmp_path, "x", top1=92.0, tags={"row": "EDIT-B", "column": "cifar100"})],
                        PAPER, "paper", comparable=True)
    results = combine([table3_cells, t4])
    m = reproduction_matrix(results, ["table4", "table3"])
    assert list(m.index) == ["table4", "table3", "all"]     # the order given (the registry's), each table once
    m = reproduction_matrix(results)
    assert list(m.index) == ["table3", "table4", "all"]     # no order: as the results list them
    assert m.loc["table3", "reproduced"] == 1 and m.loc["table3", "off"] == 1 and m.loc["table3", "pending"] == 12
    assert m.loc["table4", "off"] == 1 and m.loc["table4", "pending"] == 9 and m.loc["table4", "cited"] == 6
    assert m.loc["all", "pending"] == 12 + 9
    text = render_report(results, {"name": "paper", "comparable_to_paper": True}, "# Table 1 x\n\n## Table 1: y\n",
                         {"fig4_top1_vs_flops.png": "figures/fig4_top1_vs_flops.png"}, commit="abc",
                         tables=list(TABLES.values()))
    assert text.startswith("# EDIT against DeiT III, LaViT against PVTv2: reproduction report")
    assert "## Reproduction matrix" in text and "### Table 1: y" in text and "## Table 4" in text
    assert "![Fig. 4: top-1 against FLOPs" in text and "(figures/fig4_top1_vs_flops.png)" in text
    assert "FLOPs** are multiply-accumulates" in text and "## Table 5" not in text
    page = "# Attention sinks of any timm ViT\n\nGenerated ...\n\n## Sink scores\n\n| model | sink score |\n"
    text = render_report(results, {"name": "paper", "comparable_to_paper": True}, "# Table 1 x\n", {}, pages=[page], tables=list(TABLES.values()))
    section = text.split("## Attention sinks of any timm ViT\n", 1)[1]
    assert section.lstrip().startswith("Generated ...") and "### Sink scores" in section
    assert text.index("## Attention sinks") < text.index("## Compute")


def test_aggregate_and_report_all_through_the_cli(table3_cells, tmp_path):
    """``results`` and ``report`` rules: Table 1's measured cells join the tables; Table 3 shows them as columns."""
    from editrepro.cli import main

    measured = [("table1", "EDIT-S", "params_m", "", 22.30, 22.296), ("table3", "EDIT-S", "params_m", "", 22.3, 22.296),
                ("table3", "EDIT-S", "gmacs", "all", 5.28, 5.282), ("table3", "EDIT-S", "gmacs", "no_attn", None, 4.987)]
    table1 = pd.DataFrame([dict(table=t, half="a", row=r, model="edit_small_patch16_224", resolution=224, column=c,
                                convention=v, paper_text=None if p is None else str(p), paper_value=p,
                                reproduced_value=x, delta=None if p is None else x - p, tolerance=0.5,
                                status="reproduced" if p is not None else "no paper value", git_commit="c0ffee")
                           for t, r, c, v, p, x in measured])
    table1.to_parquet(tmp_path / "table1.parquet")
    table3_cells.to_parquet(tmp_path / "t3.parquet")
    (tmp_path / "table1.md").write_text("# Table 1\n\nmeasured\n")
    config = json.dumps({"name": "paper", "comparable_to_paper": True})
    assert main(["aggregate", "--table", "all", "--config", config, "--table1", str(tmp_path / "table1.parquet"),
                 "--parts", str(tmp_path / "t3.parquet"), "--out", str(tmp_path / "results.parquet")]) == 0
    results = pd.read_parquet(tmp_path / "results.parquet")
    assert len(results) == len(table3_cells) + 4 and list(results.columns)[:4] == ["table", "half", "row", "column"]
    assert cell(results, table="table1", row="EDIT-S").metric == "params_m"
    assert (results.config_name == "paper").all()

    # Tables 3 and 4 share the pretraining job; the report's compute lists it once
    for table, jobs in (("t3", ["in1k_224/EDIT-S", "eval_in1k_224/EDIT-S"]), ("t4", ["in1k_224/EDIT-S"])):
        rows = [dict(job=j, kind="train", wall_s=3600.0, devices=8, device_type="cuda", device_hours=8.0,
                     benchmark=f"logs/benchmarks/runs/{j}.tsv") for j in jobs]
        pd.DataFrame(rows).to_parquet(tmp_path / f"{table}_jobs.parquet")
    assert main(["report", "--table", "all", "--config", config, "--results", str(tmp_path / "results.parquet"),
                 "--table1-report", str(tmp_path / "table1.md"), "--out", str(tmp_path / "report.md"),
                 "--jobs", str(tmp_path / "t3_jobs.parquet"), str(tmp_path / "t4_jobs.parquet")]) == 0
    text = (tmp_path / "report.md").read_text()
    edit_s = [li for li in text.split("### (a)")[1].split("### (b)")[0].splitlines()
              if li.startswith("| EDIT-S") and "224²" in li]
    assert len(edit_s) == 1                       # the measured Params/FLOPs are columns, not extra rows
    assert "| 22.3 " in edit_s[0] and "5.3 / 5.0" in edit_s[0] and "81.60" in edit_s[0]
    compute = text.split("## Compute")[1]
    assert compute.count("| in1k_224/EDIT-S ") == 1 and "GPU-hours: 16.00" in compute
    matrix = text.split("## Reproduction matrix")[1].split("*reproduced*")[0]
    assert "| table1  |" in matrix and "| table3  |" in matrix


def test_a_flop_figure_counts_once_reproduced_if_either_convention_matches():
    from editrepro.reporting.report import one_flop_cell_per_figure

    def flop(row, res, convention, status):
        return dict(table="table3", half="b", row=row, resolution=res, column="gmacs", convention=convention,
                    status=status)
    cells = pd.DataFrame([flop("EDIT-S", 384, "all", "off"), flop("EDIT-S", 384, "no_attn", "reproduced"),
                          flop("EDIT-S", 224, "all", "reproduced"), flop("EDIT-S", 224, "no_attn", "off"),
                          flop("ViT-B/16", 384, "all", "off"), flop("ViT-B/16", 384, "no_attn", "off"),
                          dict(table="table3", half="b", row="EDIT-S", resolution=224, column="params_m",
                               convention="", status="reproduced")])
    one = one_flop_cell_per_figure(cells)
    assert len(one) == 4
    assert one[one.column == "gmacs"].set_index(["row", "resolution"]).status.to_dict() == {
        ("EDIT-S", 384): "reproduced", ("EDIT-S", 224): "reproduced", ("ViT-B/16", 384): "off"}
    m = reproduction_matrix(cells)
    assert (m.loc["table3", "reproduced"], m.loc["table3", "off"]) == (3, 1)


def test_jobs_from_benchmark_files(tmp_path):
    from editrepro.reporting.results import collect_jobs

    bench = tmp_path / "logs" / "benchmarks"
    files = {"runs/in1k_224/EDIT-B.tsv": 7200.0, "eval/in1k_224/EDIT-B.tsv": 90.0, "data/demo_data.tsv": 18.0}
    for name, seconds in files.items():
        (bench / name).parent.mkdir(parents=True, exist_ok=True)
        (bench / name).write_text(f"s\th:m:s\n{seconds / 2}\t0\n{seconds}\t0\n")   # a retried job: the last attempt
    run = tmp_path / "runs" / "in1k_224" / "EDIT-B"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"devices": 8, "device_type": "cuda"}))
    paths = [bench / n for n in files] + [bench / "runs/in1k_224/EDIT-B.tsv", bench / "runs/gone/EDIT-B.tsv"]
    jobs = collect_jobs(paths, tmp_path / "runs").set_index(["kind", "job"])
    assert len(jobs) == 3                                      # a repeated path once, a missing file skipped
    train = jobs.loc[("train", "in1k_224/EDIT-B")]
    assert (train.devices, train.device_type, train.device_hours) == (8, "cuda", pytest.approx(16.0))
    evaluate = jobs.loc[("evaluate", "in1k_224/EDIT-B")]
    assert (evaluate.devices, evaluate.device_type, evaluate.wall_s) == (1, "cuda", 90.0)
    assert jobs.loc[("data", "demo_data")].device_type == "cpu"
