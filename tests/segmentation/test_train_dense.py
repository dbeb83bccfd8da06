"""UperNet and Semantic FPN through the pipeline's trainer, from a pyramid backbone's ImageNet checkpoint:
the auxiliary head's loss is weighted into the step's, the evaluation counts the paper-size model."""
import json

import pytest
import torch

from editrepro.cli import main
from editrepro.segmentation.factory import create_seg_model, seg_model_complexity
from editrepro.recipes import load_recipe

SMALL = ["--model", "lavit_tiny_224", "--model-arg", "depths=[1, 1, 2, 2]"]


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_paper_size_counts_of_the_heads():
    """Semantic FPN on PVTv2-b2 is PVTv2's published 29.1M; UperNet's auxiliary head counts for training only."""
    fpn = seg_model_complexity(load_recipe("config/recipes/semantic_fpn_ade20k.yaml"), "pvt_v2_b2")
    assert fpn["params_m"] == pytest.approx(29.1, abs=0.05) and fpn["params_m_inference"] == fpn["params_m"]
    uper = seg_model_complexity(load_recipe("config/recipes/upernet_ade20k.yaml"), "pvt_v2_b2")
    assert uper["params_m"] - uper["params_m_inference"] == pytest.approx(0.776, abs=0.001)   # the FCN aux head
    assert uper["gmacs"] > 4 * fpn["gmacs"]


def test_backbone_starts_from_its_imagenet_checkpoint(tmp_path):
    from editrepro.models import create_model

    net = create_model("lavit_tiny_224", img_size=64, num_classes=10, depths=[1, 1, 2, 2])
    torch.save({"model": net.state_dict(), "config": {"img_size": 64, "model": "lavit_tiny_224"}}, tmp_path / "m.pth")
    recipe = load_recipe("config/recipes/semantic_fpn_ade20k.yaml", {"fpn_channels": 32, "head_channels": 16})
    seg = create_seg_model(recipe, "lavit_tiny_224", 150, 96, pretrained=str(tmp_path / "m.pth"),
                           model_kwargs={"depths": [1, 1, 2, 2]})
    body = seg.backbone.model
    assert body.img_size == (64, 64)                      # built at the checkpoint's size, run at the crop's
    assert torch.equal(body.patch_embed.proj.weight, net.patch_embed.proj.weight)
    assert seg.eval()(torch.randn(1, 3, 96, 128)).shape == (1, 150, 96, 128)


def test_upernet_job_weights_its_auxiliary_loss_and_evaluates(demo, tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--recipe", "config/recipes/upernet_ade20k.yaml", "--set", "epochs=1", "--set", "batch_size=4",
            "--set", "lr=1e-3", "--set", "warmup_steps=2", "--set", "head_channels=32", "--set", "aux_channels=16",
            *SMALL, "--img-size", "64", "--dataset", "ade20k", "--data-root", str(demo["ade20k"]), "--workers", "0",
            "--device", "cpu", "--output", str(out), "--experiment", "seg-test"]
    assert main(argv) == 0
    e = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert e["train_aux_loss"] > 0
    assert e["train_loss"] == pytest.approx(e["train_task_loss"] + 0.4 * e["train_aux_loss"], rel=1e-4)
    assert main(["evaluate", "--weights", str(out / "model.pth"), "--workers", "0", "--tag", "row=LaViT-T",
                 "--out", str(tmp_path / "eval.json")]) == 0
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert 0 <= ev["miou_ss"] <= 100 and 0 <= ev["miou_ms"] <= 100 and ev["n"] == 20
    full = seg_model_complexity(load_recipe("config/recipes/upernet_ade20k.yaml"), "lavit_tiny_224")
    assert ev["params_paper_arch"] == round(full["params_m_inference"] * 1e6)
