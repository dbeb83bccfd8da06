"""``editrepro train`` and ``editrepro evaluate`` as a user runs them, on the generated demo data."""
import json

import pytest

from editrepro.cli import main

TRAIN = ["train", "--recipe", "config/recipes/in1k_pretrain.yaml", "--set", "epochs=2", "--set", "batch_size=40",
         "--set", "warmup_epochs=1", "--set", "lr=1e-3", "--model", "deit3_ref_tiny_patch16_224", "--img-size", "32",
         "--model-arg", "depth=1", "--dataset", "imagenet1k", "--workers", "0", "--experiment", "cli-test"]


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_train_then_evaluate_at_another_resolution(demo, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(TRAIN + ["--data-root", str(demo["imagenet1k"]), "--output", str(out), "--tag", "table=table3"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert printed["top1"] == metrics["top1"] and metrics["val_images"] == 200     # 10 classes x 20
    assert metrics["tags"]["table"] == "table3"
    # the same weights at 48 px: position embeddings resampled on load
    assert main(["evaluate", "--weights", str(out / "model.pth"), "--img-size", "48", "--workers", "0",
                 "--out", str(tmp_path / "eval48.json")]) == 0
    ev = json.loads((tmp_path / "eval48.json").read_text())
    assert ev["img_size"] == 48 and ev["n"] == 200 and ev["dataset"] == "imagenet1k" and 0 <= ev["top1"] <= 100
    # at the training resolution evaluate reproduces the job's own figure
    assert main(["evaluate", "--weights", str(out / "model.pth"), "--workers", "0", "--out", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["top1"] == pytest.approx(metrics["top1"])


def test_saved_config_reproduces_the_job(demo, tmp_path):
    out = tmp_path / "run"
    assert main(TRAIN + ["--data-root", str(demo["imagenet1k"]), "--output", str(out), "--set", "epochs=1"]) == 0
    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "config.yaml"), "--output", str(again)]) == 0
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((again / "metrics.json").read_text())
    assert (a["top1"], a["train_loss"], a["config_hash"]) == (b["top1"], b["train_loss"], b["config_hash"])


@pytest.mark.parametrize("argv,message", [
    (["--set", "lrr=1"], "'lrr' was unexpected"),
    (["--set", "lr"], "--set: override 'lr' is not of the form key=value"),
    (["--set", "epochs=0"], "epochs: 0 is less than the minimum of 1"),
])
def test_bad_configuration_exits_2_naming_the_key(demo, tmp_path, capsys, argv, message):
    code = main(TRAIN + ["--data-root", str(demo["imagenet1k"]), "--output", str(tmp_path / "x")] + argv)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_wrong_data_root_names_the_path_and_the_layout(tmp_path, capsys):
    assert main(TRAIN + ["--data-root", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "Expected layout:" in err and "train/n01440764/" in err
