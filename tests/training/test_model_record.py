"""A checkpoint says how to rebuild its model: the timm name and every construction argument (the config's and
the recipe's), saved by the trainer and used by whatever rebuilds the model (issue 25).

The model here is a plain timm ViT (not one of this package's): trained with a LayerScale recipe it holds
``ls1.gamma`` / ``ls2.gamma``, which a rebuild from the config's ``model_kwargs`` alone does not have.
"""
from dataclasses import replace

import pytest
import timm
import torch
from synthetic import Synthetic, job

from editrepro.models.weights import WeightsMismatch
from editrepro.provenance import project_root
from editrepro.training.checkpoint import load_checkpoint, save_checkpoint
from editrepro.training.evaluation import load_trained_model
from editrepro.training.tasks import ClassificationTask
from editrepro.training.trainer import train

VIT_ARGS = {"depth": 1, "embed_dim": 32, "num_heads": 2, "reg_tokens": 4}   # a ViT with registers, 4 prefix + CLS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One step of 16 images each, into one tracking store: a tiny plain timm ViT with LayerScale 1e-4 and drop
    path 0.1 from the recipe, and a DeiT3-T of depth 1."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:                 # as tests/training/conftest.py, for the module
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.chdir(project_root())
        vit = replace(job(root / "vit", epochs=1, drop_path=0.1, mixup=0.0, cutmix=0.0, random_erasing=0.0,
                          warmup_epochs=0, lr=1e-2),
                      model="vit_tiny_patch16_224", model_kwargs=dict(VIT_ARGS))
        deit3 = job(root / "deit3", epochs=1, depth=1, model="deit3_ref_tiny_patch16_224")
        for cfg in (vit, deit3):
            train(cfg, datasets=(Synthetic(16), Synthetic(8, seed=1)))
    return root


@pytest.fixture
def vit_run(runs):
    return runs / "vit"


def _by_hand(img_size=32):
    """The model training built, written out independently of the code under test: timm's own constructor."""
    return timm.create_model("vit_tiny_patch16_224", num_classes=4, img_size=img_size, init_values=1e-4,
                             drop_path_rate=0.1, **VIT_ARGS)


def _images(size=32):
    return torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_model_pth_and_checkpoint_pth_record_every_construction_argument(vit_run):
    expected = {"task": "classification", "arch": "vit_tiny_patch16_224", "num_classes": 4, "img_size": 32,
                "kwargs": {"drop_path_rate": 0.1, "init_values": 1e-4, **VIT_ARGS}}
    for name in ("model.pth", "checkpoint.pth"):
        state = torch.load(vit_run / name, map_location="cpu", weights_only=True)     # plain data
        assert state["model_record"] == expected, name


def test_the_rebuilt_model_gives_the_trained_models_logits(vit_run):
    state = load_checkpoint(vit_run / "model.pth")
    trained = _by_hand()
    trained.load_state_dict(state["model"])                  # strict: the record's model is the trained one
    assert not torch.allclose(state["model"]["blocks.0.ls1.gamma"], torch.full((32,), 1e-4))   # trained, not init
    rebuilt, cfg = load_trained_model(vit_run / "model.pth")
    assert type(rebuilt) is type(trained) and not rebuilt.training and cfg["model"] == "vit_tiny_patch16_224"
    with torch.no_grad():
        assert torch.equal(rebuilt(_images()), trained.eval()(_images()))
    # what evaluation rebuilt before the record (config's model_kwargs only) has no LayerScale: it cannot load them
    plain = timm.create_model("vit_tiny_patch16_224", num_classes=4, img_size=32, **VIT_ARGS)
    with pytest.raises(RuntimeError, match="ls1.gamma"):
        plain.load_state_dict(state["model"])


def test_the_rebuilt_model_runs_at_another_resolution(vit_run):
    """``img_size`` resamples the position embeddings (CLS and the 4 registers kept): same weights elsewhere."""
    state = load_checkpoint(vit_run / "model.pth")
    rebuilt, _ = load_trained_model(vit_run / "model.pth", img_size=48)
    assert rebuilt.patch_embed.grid_size == (3, 3) and rebuilt.pos_embed.shape == (1, 1 + 4 + 9, 32)
    torch.testing.assert_close(rebuilt.pos_embed[0, :5], state["model"]["pos_embed"][0, :5])   # prefix as trained
    assert torch.equal(rebuilt.blocks[0].ls1.gamma, state["model"]["blocks.0.ls1.gamma"])
    assert rebuilt(_images(48)).shape == (3, 4)


def test_a_checkpoint_without_the_record_still_loads(vit_run, tmp_path):
    state = load_checkpoint(vit_run / "model.pth")
    old = {k: v for k, v in state.items() if k != "model_record"}      # as written before issue 25
    save_checkpoint(tmp_path / "model.pth", old)
    rebuilt, _ = load_trained_model(tmp_path / "model.pth")
    trained = _by_hand()
    trained.load_state_dict(state["model"])
    with torch.no_grad():
        assert torch.equal(rebuilt(_images()), trained.eval()(_images()))


def test_an_old_checkpoint_its_config_does_not_describe_is_refused_saying_what_to_do(vit_run, tmp_path):
    state = load_checkpoint(vit_run / "model.pth")
    old = {k: v for k, v in state.items() if k != "model_record"}
    old["config"] = {**old["config"], "model_kwargs": {**VIT_ARGS, "depth": 2}}     # not the weights' depth
    path = tmp_path / "model.pth"
    save_checkpoint(path, old)
    with pytest.raises(WeightsMismatch) as e:
        load_trained_model(path)
    msg = str(e.value)
    assert msg.startswith(f"{path} was written before checkpoints recorded how to rebuild their model")
    assert "'model_record'" in msg and "blocks.1." in msg                        # what does not fit
    assert "Train the job again" in msg
    assert (f"editrepro evaluate --model vit_tiny_patch16_224 --checkpoint {path} --model-arg drop_path_rate=0.1 "
            "--model-arg init_values=0.0001 --model-arg depth=2 --model-arg embed_dim=32") in msg


def test_a_bad_record_is_named(vit_run, tmp_path):
    state = load_checkpoint(vit_run / "model.pth")
    save_checkpoint(tmp_path / "model.pth", {**state, "model_record": {**state["model_record"], "kwargs": None}})
    with pytest.raises(ValueError, match=r"model\.pth: model_record\.kwargs is None, expected a dict"):
        load_trained_model(tmp_path / "model.pth")


def test_a_deit3_checkpoint_into_an_edit_model_is_refused_naming_both(runs, tmp_path):
    out = runs / "deit3"
    state = load_checkpoint(out / "model.pth")
    assert state["model_record"]["arch"] == "deit3_ref_tiny_patch16_224"
    # only the record says what it was trained as (no config): the refusal reads it
    save_checkpoint(tmp_path / "record_only.pth", {"model": state["model"], "model_record": state["model_record"]})
    for path in (out / "model.pth", tmp_path / "record_only.pth"):
        finetune = replace(job(tmp_path / "ft", epochs=1, depth=1), init_checkpoint=str(path))   # an EDIT-T job
        with pytest.raises(WeightsMismatch) as e:
            ClassificationTask(finetune).model(4)
        msg = str(e.value)
        assert f"checkpoint {path} does not fit EDIT (edit_tiny_patch16_224)" in msg
        assert "it holds DeiT3 weights (trained as 'deit3_ref_tiny_patch16_224'), not EDIT weights" in msg
