import pytest

from editrepro.reporting.paper import PaperValue, load_paper_tables, paper_value


@pytest.mark.parametrize("text,decimals,tol", [("22", 0, 0.5), ("5.82", 2, 0.0582), ("190.7", 1, 1.907), ("0.04", 2, 0.005)])
def test_tolerance_is_the_larger_of_printed_precision_and_one_percent(text, decimals, tol):
    v = PaperValue(text)
    assert v.decimals == decimals
    assert v.tolerance() == pytest.approx(tol)


def test_within():
    assert PaperValue("22").within(22.49) and not PaperValue("22").within(22.51)
    assert PaperValue("87.76").within(87.764968)
    assert not PaperValue("12.5").within(15.52)


def test_every_transcribed_cell_parses_and_keeps_its_precision():
    tables = load_paper_tables()
    assert set(tables) == {"table1", "table3", "table4", "table5", "lavit"}
    assert len(tables["table3"]["rows"]) == 25 + 8   # the EDIT paper's, and DeiT III's own published S/B at 224/384
    cells = [paper_value(r, k) for t in tables.values() for r in t["rows"]
             for k in r if k in ("params_m", "gmacs", "top1", "cifar10", "cifar100", "flowers102", "dtd",
                                  "caltech256", "miou_ss", "miou_ms")]
    # table1: 3 rows x 2; table3: 11 printed rows of (a) + 10 of (b), x 3; table4: 3 + 3 + 5 + 5; table5: 8 x 3;
    # lavit: 6 rows x 3; DeiT III's own published rows in table3: 8 top-1 values
    assert len(cells) == 6 + 21 * 3 + 16 + 24 + 18 + 8
    edit_s = tables["table1"]["rows"][1]
    assert paper_value(edit_s, "params_m").text == "22.30"


def test_bad_paper_tables_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        load_paper_tables(tmp_path / "nowhere.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("table1: {title: x}\n")
    with pytest.raises(ValueError, match="bad.yaml: table1 needs a 'rows' list"):
        load_paper_tables(bad)
    with pytest.raises(ValueError, match="must be quoted"):
        paper_value({"model": "EDIT-S", "params_m": 22.3}, "params_m")
    with pytest.raises(ValueError, match="not a number"):
        PaperValue("n/a")
