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


def test_segmentation_job_beats_a_constant_prediction(demo, tmp_path):
    """Segmenter on the demo ADE20K: train from an ImageNet checkpoint, then single- and multi-scale mIoU."""
    import torch

    from editrepro.data import build_dataset
    from editrepro.segmentation import ConfusionMatrix

    pre = tmp_path / "pre"
    assert main(TRAIN + ["--data-root", str(demo["imagenet1k"]), "--output", str(pre), "--model-arg", "depth=2",
                         "--set", "epochs=1"]) == 0
    seg = tmp_path / "seg"
    assert main(["train", "--recipe", "config/recipes/segmenter_ade20k.yaml", "--set", "epochs=5", "--set",
                 "batch_size=4", "--set", "lr=0.01", "--model", "deit3_ref_tiny_patch16_224", "--img-size", "64",
                 "--model-arg", "depth=2", "--dataset", "ade20k", "--data-root", str(demo["ade20k"]),
                 "--init-checkpoint", str(pre / "model.pth"), "--workers", "0", "--output", str(seg)]) == 0
    assert main(["evaluate", "--weights", str(seg / "model.pth"), "--workers", "0", "--out", str(tmp_path / "e.json"),
                 "--tag", "row=DeiT3-T"]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["task"] == "segmentation" and result["n"] == 20 and result["tags"] == {"row": "DeiT3-T"}
    # the best constant prediction: every pixel the most frequent class of the validation masks
    val = build_dataset("ade20k", demo["ade20k"], "val")
    masks = [torch.as_tensor(__import__("numpy").array(m)).long() for _, m in (val[i] for i in range(len(val)))]
    counts = torch.bincount(torch.cat([m.flatten() for m in masks]), minlength=256)[:150]
    cm = ConfusionMatrix(150)
    for m in masks:
        cm.update(torch.full_like(m, int(counts.argmax())), m)
    constant = cm.compute()["miou"]
    assert result["miou_ss"] > 2 * constant and result["miou_ms"] > 2 * constant
    # parameters at the paper's size (12 blocks, 512 crops, 150 classes), not the demo's 2 blocks at 64 px
    from editrepro.segmentation import segmenter_params
    assert result["params_paper_arch"] == segmenter_params("deit3_ref_tiny_patch16_224") > 2 * result["params"]
