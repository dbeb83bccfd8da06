"""What `aggregate`, `report`, `figures` and the attention commands read: --config as JSON text or a config
file, and a truncated JSON named."""
import json

import pandas as pd
import pytest

from editrepro.cli import main
from editrepro.provenance import project_root
from editrepro.reporting.results import collect_jobs

DEMO_CONFIG = str(project_root() / "config" / "config.yaml")


def aggregate(tmp_path, config, *evals):
    return main(["aggregate", "--table", "table3", "--config", config, "--evals", *map(str, evals), "--out",
                 str(tmp_path / "t3.parquet"), "--jobs-out", str(tmp_path / "jobs.parquet"), "--no-tracking"])


def test_config_takes_json_text_or_a_config_file(tmp_path, capsys):
    e = tmp_path / "e.json"
    e.write_text(json.dumps({"model": "edit_small_patch16_224", "run_id": "r", "git_commit": "c", "top1": 81.6,
                             "tags": {"half": "a", "row": "EDIT-S", "resolution": "224", "seed": "0"}}))
    for config, comparable in ((DEMO_CONFIG, False), (json.dumps({"name": "demo", "comparable_to_paper": True}), True)):
        assert aggregate(tmp_path, config, e) == 0
        cells = pd.read_parquet(tmp_path / "t3.parquet")
        edit_s = cells[(cells.row == "EDIT-S") & (cells.half == "a") & (cells.resolution == 224)].iloc[0]
        assert set(cells.config_name) == {"demo"} and edit_s.reproduced_value == 81.6
        # the file's comparable_to_paper (false: stand-in data), or the JSON text's
        assert edit_s.status == ("reproduced" if comparable else "not comparable")
    out = tmp_path / "table3.md"
    assert main(["report", "--table", "table3", "--config", DEMO_CONFIG, "--results", str(tmp_path / "t3.parquet"),
                 "--out", str(out)]) == 0
    assert "demo" in out.read_text()

    capsys.readouterr()
    assert aggregate(tmp_path, "config/nope.yaml", e) == 2
    err = capsys.readouterr().err
    assert "--config 'config/nope.yaml' is neither a JSON object nor an existing file" in err
    assert "path of a YAML / JSON config file" in err
    assert main(["report", "--table", "table3", "--config", '{"name": "demo",', "--results", "x", "--out", "y"]) == 2
    assert "--config: not valid JSON text" in capsys.readouterr().err


def test_a_truncated_evaluation_or_metrics_json_is_named(tmp_path, capsys):
    e = tmp_path / "eval" / "in1k_224" / "EDIT-T" / "seed0.json"
    e.parent.mkdir(parents=True)
    e.write_text('{"model": "edit_tiny_patch16_224", "top1": 8')      # a job killed mid-write, or a full disk
    assert aggregate(tmp_path, DEMO_CONFIG, e) == 2
    err = capsys.readouterr().err
    assert f"editrepro aggregate: error: {e}: not valid JSON" in err and "re-run the job that writes it" in err

    bench = tmp_path / "logs" / "benchmarks" / "runs" / "in1k_224" / "EDIT-T" / "seed0.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\n12.5\t0:00:12\n")
    metrics = tmp_path / "runs" / "in1k_224" / "EDIT-T" / "seed0" / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text('{"devices": 2, "device_type": "cu')
    with pytest.raises(ValueError, match=f"{metrics}: not valid JSON"):
        collect_jobs([bench], tmp_path / "runs")
    metrics.write_text('{"devices": 2, "device_type": "cuda"}')
    assert collect_jobs([bench], tmp_path / "runs").iloc[0].device_hours == pytest.approx(12.5 * 2 / 3600)


def test_the_figure_and_attention_commands_take_a_config_file_too(tmp_path, capsys):
    """`figures`, `attention-saturation` and `attention-report` read --config as `aggregate` and `report` do."""
    sink = tmp_path / "attention" / "DeiT3-S" / "attention_sink.json"
    sink.parent.mkdir(parents=True)
    sink.write_text(json.dumps({
        "label": "DeiT3-S", "model": "deit3_small_patch16_224", "source": "weights", "path": None, "images": 8,
        "prefix_tokens": 1, "has_cls": True, "sink_view": "encoder", "sink_score": 12.0, "saturation": 0.5,
        "per_layer": {"cls_ratio": [11.0, 13.0], "sink_ratio": [11.0, 13.0], "prefix_share": [0.3, 0.3],
                      "top_share": [0.3, 0.3], "similarity": [None, 0.5]},
        "csv": "attention_sink.csv", "figures": {"fig1a": "a.png", "fig1b": "b.png", "saturation": "s.png"}}))
    pages = {}
    for name, config in (("file", DEMO_CONFIG), ("text", json.dumps({"name": "paper", "comparable_to_paper": True}))):
        pages[name] = tmp_path / f"{name}.md"
        assert main(["attention-report", "--sink", str(sink), "--config", config, "--out", str(pages[name])]) == 0
    # config/config.yaml is the demo (comparable_to_paper: false): its page says so, the JSON text's does not
    assert "Not comparable" in pages["file"].read_text() and "demo" in pages["file"].read_text()
    assert "Not comparable" not in pages["text"].read_text()

    capsys.readouterr()
    images = tmp_path / "images"
    images.mkdir()
    for argv in (["attention-report", "--sink", str(sink), "--out", str(tmp_path / "x.md")],
                 ["attention-saturation", "--weights", str(tmp_path / "model.pth"), "--images", str(images),
                  "--out", str(tmp_path / "x.png")],
                 ["figures", "--cells", "c", "--table1", "t", "--deit3", "d", "--edit", "e", "--data-root", "r",
                  "--out-dir", str(tmp_path)]):
        assert main([*argv, "--config", "config/nope.yaml"]) == 2, argv[0]
        err = capsys.readouterr().err
        assert f"editrepro {argv[0]}: error: --config 'config/nope.yaml' is neither a JSON object nor an existing " \
               f"file" in err, err
    assert not (tmp_path / "x.md").exists() and not (tmp_path / "x.png").exists()
