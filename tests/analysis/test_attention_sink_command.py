"""``editrepro attention-sink``, ``attention-saturation`` and ``evaluate --model`` as a user runs them, offline: a
timm DeiT III of random weights saved to a file and loaded back through ``--checkpoint`` (timm's
``pretrained_cfg_overlay=dict(file=...)``), numbers checked against attention maps computed here by hand;
``--pretrained`` up to where timm would fetch; the pipeline's own models through ``--weights``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

from editrepro.cli import main

DEIT3 = "deit3_small_patch16_224"


@pytest.fixture(scope="module")
def deit3_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "deit3_small.pth"
    torch.save(timm.create_model(DEIT3).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Two class folders of JPEG and PNG images of several sizes."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir()
        for i in range(3):
            array = rng.integers(0, 255, (50 + 13 * i, 70 + 5 * i, 3), dtype=np.uint8)
            Image.fromarray(array).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "notes.txt").write_text("not an image")
    return root


def hand_maps(model, images):
    """softmax(q k^T / sqrt(d)) of every block, from q and k computed here off the block's input."""
    inputs = []
    hooks = [blk.attn.register_forward_pre_hook(lambda m, a: inputs.append((m, a[0].detach()))) for blk in model.blocks]
    with torch.no_grad():
        model(images)
        for h in hooks:
            h.remove()
        maps = []
        for attn, x in inputs:
            B, T, C = x.shape
            d = C // attn.num_heads
            q, k, _ = attn.qkv(x).reshape(B, T, 3, attn.num_heads, d).permute(2, 0, 3, 1, 4)
            maps.append(((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(-1))
    return maps


def test_checkpoint_of_a_timm_deit3_matches_maps_computed_by_hand(deit3_file, image_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["attention-sink", "--model", DEIT3, "--checkpoint", str(deit3_file), "--images", str(image_dir),
                 "--count", "3", "--out", str(out)]) == 0
    summary = json.loads((out / "attention_sink.json").read_text())
    assert summary["source"] == "checkpoint" and summary["model"] == DEIT3 and summary["images"] == 3
    assert summary["prefix_tokens"] == 1 and summary["has_cls"] and summary["depth"] == 12
    # one image per class folder first, then the second of each
    names = [os.path.relpath(f, image_dir) for f in summary["image_files"]]
    assert names == ["a/0.jpg", "b/0.jpg", "a/1.png"]
    # the model's own data config: timm's deit3_small.fb_in1k (224 px, crop 0.9, bicubic)
    assert summary["data_config"]["input_size"] == [3, 224, 224] and summary["data_config"]["crop_pct"] == 0.9

    model = timm.create_model(DEIT3).eval()
    model.load_state_dict(torch.load(deit3_file, weights_only=True))
    transform = create_transform(**resolve_data_config(model=model))
    images = torch.stack([transform(Image.open(f).convert("RGB")) for f in summary["image_files"]])
    maps = hand_maps(model, images)
    received = [a.mean(dim=(0, 1, 2)).numpy() for a in maps]
    per_layer = summary["per_layer"]
    np.testing.assert_allclose(per_layer["to_cls"], [r[0] for r in received], rtol=1e-4)
    np.testing.assert_allclose(per_layer["to_other"], [r[1:].mean() for r in received], rtol=1e-4)
    ratios = [r[0] / r[1:].mean() for r in received]
    np.testing.assert_allclose(per_layer["cls_ratio"], ratios, rtol=1e-4)
    assert summary["sink_score"] == pytest.approx(np.mean(ratios), rel=1e-4)      # no registers: patch = other
    corners = np.stack([a[:, :, :16, :16].mean(dim=(0, 1)).numpy() for a in maps])
    np.testing.assert_allclose(np.load(out / "corners.npy"), corners, rtol=1e-4, atol=1e-7)
    cos = [torch.nn.functional.cosine_similarity(p.flatten(2), c.flatten(2), dim=-1).mean().item()
           for p, c in zip(maps[:-1], maps[1:])]
    np.testing.assert_allclose(per_layer["similarity"][1:], cos, rtol=1e-4)
    assert summary["saturation"] == pytest.approx(np.mean(cos), rel=1e-4)
    csv = (out / "attention_sink.csv").read_text().splitlines()
    assert csv[0].startswith("layer,kind,to_cls,to_other,cls_ratio") and len(csv) == 13
    for name in summary["figures"].values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_register_vit_from_a_checkpoint_gets_its_own_image_size(image_dir, tmp_path):
    args = ["--model-arg", "reg_tokens=4", "--model-arg", "img_size=64", "--model-arg", "depth=2"]
    weights = tmp_path / "vit_reg.pth"
    assert main(["timm-weights", "--model", "vit_small_patch16_224", *args, "--out", str(weights)]) == 0
    out = tmp_path / "out"
    assert main(["attention-sink", "--model", "vit_small_patch16_224", "--checkpoint", str(weights), *args,
                 "--images", str(image_dir), "--count", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "attention_sink.json").read_text())
    assert summary["prefix_tokens"] == 5 and summary["depth"] == 2
    assert summary["data_config"]["input_size"] == [3, 64, 64]
    assert all(share > 0 for share in summary["per_layer"]["prefix_share"])


def test_a_checkpoint_keeps_its_own_label_space(tmp_path):
    """A 10-class file (a fine-tuned or pipeline-trained classifier) loads with its head, not a fresh 1000-way one."""
    from editrepro.analysis.sources import TimmSource, load_timm_model

    torch.manual_seed(0)
    trained = timm.create_model(DEIT3, depth=1, num_classes=10)
    torch.save({"model": trained.state_dict()}, tmp_path / "ten.pth")
    loaded = load_timm_model(TimmSource(DEIT3, checkpoint=str(tmp_path / "ten.pth"), model_args={"depth": 1}))
    assert loaded.num_classes == 10
    torch.testing.assert_close(loaded.model.head.weight, trained.head.weight)


def test_pretrained_without_network_or_cache_says_what_to_do(image_dir, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf/hub"))
    r = subprocess.run([sys.executable, "-m", "editrepro", "attention-sink", "--model", f"{DEIT3}.fb_in1k",
                        "--pretrained", "--images", str(image_dir), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    err = r.stderr
    assert f"could not load timm's pretrained weights of '{DEIT3}.fb_in1k'" in err
    assert f"the Hugging Face hub (timm/{DEIT3}.fb_in1k)" in err and str(tmp_path / "hf/hub") in err
    assert "--checkpoint FILE" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_errors_name_the_model_and_what_was_expected(deit3_file, image_dir, tmp_path, capsys):
    base = ["--images", str(image_dir), "--out", str(tmp_path / "out")]
    assert main(["attention-sink", "--model", "deit3_ref_small_patch16_224", "--pretrained", *base]) == 2
    assert "timm has no pretrained weights for 'deit3_ref_small_patch16_224'" in capsys.readouterr().err
    assert main(["attention-sink", "--model", DEIT3, "--checkpoint", str(tmp_path / "none.pth"), *base]) == 2
    assert f"checkpoint {tmp_path / 'none.pth'} does not exist" in capsys.readouterr().err
    assert main(["attention-sink", "--model", "vit_small_patch16_224", "--checkpoint", str(deit3_file), *base]) == 2
    assert f"checkpoint {deit3_file} does not fit timm's vit_small_patch16_224" in capsys.readouterr().err
    assert main(["attention-sink", "--model", DEIT3, *base]) == 2
    assert "say which weights, --pretrained (timm's) or --checkpoint FILE" in capsys.readouterr().err
    assert main(["attention-sink", "--images", str(image_dir), "--out", str(tmp_path / "o")]) == 2
    assert main(["attention-sink", "--model", "resnet18", "--checkpoint", str(deit3_file), *base]) == 2
    assert main(["attention-sink", "--model", DEIT3, "--checkpoint", str(deit3_file), "--images",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "image folder" in capsys.readouterr().err


def test_eva_attention_is_refused_naming_the_model(image_dir, tmp_path, capsys):
    weights = tmp_path / "eva.pth"
    args = ["--model-arg", "img_size=28", "--model-arg", "depth=1"]
    assert main(["timm-weights", "--model", "eva02_tiny_patch14_224", *args, "--out", str(weights)]) == 0
    assert main(["attention-sink", "--model", "eva02_tiny_patch14_224", "--checkpoint", str(weights), *args,
                 "--images", str(image_dir), "--count", "1", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "model 'eva02_tiny_patch14_224'" in err and "no attention module this package reads maps from" in err
    assert "timm ViT-family models built on timm.layers.Attention" in err


@pytest.mark.parametrize("size", ["small", "base"])
def test_deit3_ref_loads_timm_deit3_state_dicts_unchanged(size, tmp_path):
    """timm's deit3_* and this package's deit3_ref_* share every key and shape: the official weights load as they
    are, strictly, and the two models compute the same function from them."""
    torch.manual_seed(0)
    theirs = timm.create_model(f"deit3_{size}_patch16_224").eval()
    ours = timm.create_model(f"deit3_ref_{size}_patch16_224").eval()
    sd = theirs.state_dict()
    assert {k: v.shape for k, v in sd.items()} == {k: v.shape for k, v in ours.state_dict().items()}
    result = ours.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    if size == "small":     # and through timm's file loading, as --checkpoint does
        path = tmp_path / "deit3.pth"
        torch.save(sd, path)
        loaded = timm.create_model("deit3_ref_small_patch16_224", pretrained=True,
                                   pretrained_cfg_overlay=dict(file=str(path))).eval()
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_evaluate_a_timm_checkpoint_with_the_pipelines_evaluation(demo, tmp_path):
    args = ["--model-arg", "depth=1"]
    weights = tmp_path / "deit3_d1.pth"
    assert main(["timm-weights", "--model", DEIT3, *args, "--out", str(weights)]) == 0
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", DEIT3, "--checkpoint", str(weights), *args, "--dataset", "imagenet1k",
                 "--data-root", str(demo["imagenet1k"]), "--workers", "0", "--batch-size", "50",
                 "--tag", "name=DeiT3-S-random", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 200 and result["source"] == "checkpoint" and result["tags"] == {"name": "DeiT3-S-random"}
    assert result["data_config"]["input_size"] == [3, 224, 224] and result["crop_ratio"] == 0.9
    # by hand: the same weights and timm's transform of the model's data config over the same images
    from editrepro.data import build_dataset

    model = timm.create_model(DEIT3, depth=1).eval()
    model.load_state_dict(torch.load(weights, weights_only=True))
    data = build_dataset("imagenet1k", demo["imagenet1k"], "val", transform=create_transform(
        **resolve_data_config(model=model)))
    hits = 0
    with torch.no_grad():
        for start in range(0, len(data), 50):
            batch = [data[i] for i in range(start, min(start + 50, len(data)))]
            logits = model(torch.stack([b[0] for b in batch]))
            hits += (logits.argmax(-1) == torch.tensor([b[1] for b in batch])).sum().item()
    assert result["top1"] == pytest.approx(100.0 * hits / 200)


def test_evaluate_says_what_a_timm_model_needs(tmp_path, capsys):
    assert main(["evaluate", "--model", DEIT3, "--pretrained"]) == 2
    assert "give --dataset and --data-root" in capsys.readouterr().err
    assert main(["evaluate", "--model", DEIT3, "--pretrained", "--weights", "x.pth"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["evaluate"]) == 2
    assert "which model?" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_edit(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("edit")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{out / 'mlflow.db'}")
        code = main(["train", "--recipe", "config/recipes/in1k_pretrain.yaml", "--set", "epochs=1", "--set",
                     "batch_size=40", "--set", "warmup_epochs=0", "--model", "edit_tiny_patch16_224", "--img-size",
                     "32", "--model-arg", "depth=2", "--dataset", "imagenet1k", "--data-root", str(demo["imagenet1k"]),
                     "--workers", "0", "--experiment", "attention-test", "--output", str(out)])
    assert code == 0
    return out / "model.pth"


def test_a_trained_edit_through_weights_gives_the_decoders_view(trained_edit, demo, tmp_path):
    out = tmp_path / "out"
    assert main(["attention-sink", "--weights", str(trained_edit), "--images", str(demo["imagenet1k"] / "val"),
                 "--count", "4", "--label", "EDIT-T", "--out", str(out)]) == 0
    summary = json.loads((out / "attention_sink.json").read_text())
    assert summary["label"] == "EDIT-T" and summary["source"] == "weights"
    assert summary["model"] == "edit_tiny_patch16_224"
    assert summary["sink_view"] == "decoder" and summary["prefix_tokens"] == 0 and not summary["has_cls"]
    assert summary["data_config"]["input_size"] == [3, 32, 32]          # the job's own resolution
    dec = summary["per_layer"]
    assert summary["sink_score"] == pytest.approx(np.mean(np.array(dec["dec_self"]) / np.array(dec["dec_patch"])))
    assert len({os.path.dirname(f) for f in summary["image_files"]}) == 4     # one per class first


def test_attention_saturation_takes_weights_and_a_timm_model_on_any_folder(trained_edit, deit3_file, image_dir,
                                                                         tmp_path):
    out = tmp_path / "sat.png"
    assert main(["attention-saturation", "--weights", str(trained_edit), "--model", DEIT3, "--checkpoint",
                 str(deit3_file), "--labels", "EDIT-T", "DeiT III (timm)", "--images", str(image_dir), "--count", "2",
                 "--json", str(tmp_path / "sat.json"), "--out", str(out)]) == 0
    sims = json.loads((tmp_path / "sat.json").read_text())
    assert list(sims) == ["EDIT-T", "DeiT III (timm)"]
    assert len(sims["EDIT-T"]["similarity"]) == 1 and len(sims["DeiT III (timm)"]["similarity"]) == 11
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_saturation_keeps_its_imagenet_input(trained_edit, demo, tmp_path, capsys):
    assert main(["attention-saturation", "--weights", str(trained_edit), "--data-root", str(demo["imagenet1k"]),
                 "--count", "3", "--out", str(tmp_path / "sat.png")]) == 0
    assert main(["attention-saturation", "--weights", str(trained_edit), "--data-root", str(demo["imagenet1k"]),
                 "--images", "3", "--out", str(tmp_path / "sat.png")]) == 2
    assert "one of them" in capsys.readouterr().err
