"""The Table 1 command end to end: parquet and markdown, values against the paper."""
import pandas as pd
import pytest

from editrepro.cli import main


@pytest.fixture(scope="module")
def table1_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("table1")
    results, report = out / "results" / "table1.parquet", out / "reports" / "table1.md"
    assert main(["table1", "--results", str(results), "--report", str(report)]) == 0
    return out, pd.read_parquet(results), report.read_text()


def cell(df, table, row, column, convention="", resolution=224):
    sel = df[(df.table == table) & (df.row == row) & (df.column == column)
             & (df.convention == convention) & (df.resolution == resolution)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_every_row_of_table1_and_table3_is_measured(table1_outputs):
    _, df, _ = table1_outputs
    assert set(df.table) == {"table1", "table3"}
    t1 = df[df.table == "table1"]
    assert sorted(t1.row.unique()) == ["EDIT-B", "EDIT-S", "EDIT-T"]
    assert len(t1) == 3 * 3                                   # params + two FLOP conventions per row
    t3_rows = df[df.table == "table3"][["row", "resolution"]].drop_duplicates()
    assert len(t3_rows) == 15                                 # 11 distinct rows of (a) and 4 at 384 from (b)
    assert not df.git_commit.isna().any()


def test_values_deltas_and_status(table1_outputs):
    _, df, _ = table1_outputs
    b = cell(df, "table1", "EDIT-B", "params_m")
    assert b.reproduced_value == pytest.approx(87.764968)
    assert b.delta == pytest.approx(87.764968 - 87.76)
    assert b.status == "reproduced"
    f = cell(df, "table1", "EDIT-S", "gmacs", "all")
    assert f.paper_value == 5.28 and abs(f.delta) < 0.01 and f.status == "reproduced"
    s384 = cell(df, "table3", "DeiT3-S", "gmacs", "all", 384)
    assert s384.status == "off" and s384.reproduced_value == pytest.approx(15.52, abs=0.01)
    s384x = cell(df, "table3", "DeiT3-S", "gmacs", "no_attn", 384)
    assert s384x.status == "reproduced" and s384x.tolerance == pytest.approx(0.125)


def test_markdown_report(table1_outputs):
    out, _, text = table1_outputs
    assert text.startswith("# Table 1 and the Params / FLOPs columns of Table 3")
    assert "| EDIT-B  | `edit_base_patch16_224`  | 768" in text
    assert "attention excluded" in text and "FlopCounterMode" in text
    assert "FLOPs match counting all matmuls in 11 rows, only with attention excluded in 7, neither in 0" in text
    leftovers = [p.name for p in out.rglob("*.tmp")]
    assert leftovers == []


def test_a_missing_paper_tables_file_is_a_clear_error(tmp_path, capsys):
    code = main(["table1", "--results", str(tmp_path / "r.parquet"), "--report", str(tmp_path / "r.md"),
                 "--paper-tables", str(tmp_path / "missing.yaml")])
    assert code == 2
    assert "missing.yaml does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r.parquet").exists()
