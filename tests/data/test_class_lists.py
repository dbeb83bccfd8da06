"""One class list per dataset (issue 24): the training split's non-hidden, non-empty class folders, shared by
every split, saved with the weights, and checked against a model's head before any step."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editrepro.cli import main
from editrepro.data import build_dataset

CLASSES = ["n01", "n02", "n03"]


def _image(path: Path, k: int, i: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.full((16, 16, 3), 60 * k + 20, np.uint8)
    rgb[i % 16, :, :] = 255                                   # images differ within a class
    Image.fromarray(rgb).save(path)


def _imagefolder(root: Path, train: int = 8, val: int = 2, classes=CLASSES) -> Path:
    for k, name in enumerate(classes):
        for i in range(train):
            _image(root / "train" / name / f"{name}_{i}.png", k, i)
        for i in range(val):
            _image(root / "val" / name / f"val_{name}_{i}.png", k, i + 7)
    return root


def _hide_junk(root: Path) -> None:
    """What a notebook, a Mac or a file browser leaves in a dataset: hidden folders (one holding an image),
    a hidden image inside a class folder."""
    for split in ("train", "val"):
        _image(root / split / ".ipynb_checkpoints" / "n01_0-checkpoint.png", 0, 0)
        (root / split / ".cache").mkdir()
        _image(root / split / "n02" / "._n02_0.png", 0, 1)


def _pairs(data):
    return [(str(data.path(i).relative_to(data.root)), int(data.targets[i])) for i in range(len(data))]


def _expected(n: int, prefix: str = ""):
    """ImageFolder's order and labels, written out: class folders sorted, files sorted within them."""
    return [(f"{c}/{prefix}{c}_{i}.png", k) for k, c in enumerate(CLASSES) for i in sorted(range(n), key=str)]


def test_hidden_folders_and_files_change_no_label(tmp_path):
    root = _imagefolder(tmp_path / "in1k")
    _hide_junk(root)
    train = build_dataset("imagenet1k", root, "train")
    val = build_dataset("imagenet1k", root, "val", classes=train.classes)
    assert train.classes == val.classes == CLASSES
    assert _pairs(train) == _expected(8)
    assert _pairs(val) == _expected(2, "val_")
    # the val split alone (as evaluate and the figures build it) takes train/'s list, not its own folders
    assert build_dataset("imagenet1k", root, "val").classes == CLASSES


def test_val_reads_with_the_training_split_list(tmp_path):
    """A class emptied in train/ only is not a class (a val folder of it is an error naming it); an empty or
    hidden folder in val/ only is ignored."""
    root = _imagefolder(tmp_path / "in1k")
    (root / "val" / "n00_empty").mkdir()
    assert _pairs(build_dataset("imagenet1k", root, "val")) == _expected(2, "val_")
    for f in (root / "train" / "n02").iterdir():
        f.unlink()
    assert build_dataset("imagenet1k", root, "train").classes == ["n01", "n03"]
    with pytest.raises(ValueError) as e:
        build_dataset("imagenet1k", root, "val")
    assert str(root / "val" / "n02") in str(e.value) and "train/'s class list lacks" in str(e.value)


def test_a_val_class_that_train_lacks_stops_the_job_before_any_step(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    root = _imagefolder(tmp_path / "in1k")
    _image(root / "val" / "n04" / "x.png", 3, 0)
    out = tmp_path / "run"
    code = main(["train", "--recipe", str(_recipe()), "--set", "epochs=1", "--set", "batch_size=8", "--model",
                 "deit3_ref_tiny_patch16_224", "--img-size", "32", "--model-arg", "depth=1", "--dataset", "imagenet1k",
                 "--data-root", str(root), "--workers", "0", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"editrepro train: error: imagenet1k: {root / 'val' / 'n04'} is a class folder" in err
    assert f"dataset root {root}" in err
    assert not (out / "log.jsonl").exists() and not (out / "checkpoint.pth").exists()


def test_a_given_list_reads_a_val_only_copy_and_must_match_train(tmp_path):
    """The list saved with the weights: a val/-only copy lacking a class keeps every other label; a train/ with
    other classes is an error naming the difference."""
    root = _imagefolder(tmp_path / "in1k")
    copy = tmp_path / "val_only"
    shutil.copytree(root / "val", copy / "val")
    shutil.rmtree(copy / "val" / "n01")
    val = build_dataset("imagenet1k", copy, "val", classes=CLASSES)
    assert val.classes == CLASSES and _pairs(val) == _expected(2, "val_")[2:]
    with pytest.raises(ValueError, match=r"the class list saved in W has 4 classes, the val split 3; only in the "
                                         r"class list saved in W: n04"):
        build_dataset("imagenet1k", root, "val", classes=CLASSES + ["n04"], classes_from="the class list saved in W")


@pytest.mark.parametrize("name,folders", [("caltech256", "caltech256/256_ObjectCategories"), ("dtd", "dtd/dtd/images")])
def test_hidden_folders_in_one_folder_datasets(demo, tmp_path, name, folders):
    """Caltech-256 and DTD read both splits from one folder of class folders: a hidden one is not a class."""
    clean = {s: _pairs(build_dataset(name, demo[name], s)) for s in ("train", "val")}
    classes = build_dataset(name, demo[name], "train").classes
    top = folders.split("/")[0]
    shutil.copytree(demo[name] / top, tmp_path / top)
    _image(tmp_path / folders / ".ipynb_checkpoints" / "a.jpg", 0, 0)
    (tmp_path / folders / ".hidden").mkdir()
    for s in ("train", "val"):
        data = build_dataset(name, tmp_path, s)
        assert data.classes == classes and _pairs(data) == clean[s]


# training and evaluating: a tiny ViT on the tiny ImageFolder above

def _recipe() -> Path:
    from editrepro.provenance import project_root

    return project_root() / "config" / "recipes" / "in1k_pretrain.yaml"


def _train(root: Path, out: Path):
    from editrepro.recipes import DataConfig, TrainConfig, load_recipe
    from editrepro.training.trainer import train

    recipe = load_recipe(str(_recipe()), dict(epochs=1, batch_size=8, warmup_epochs=1, lr=1e-3, repeated_aug=False))
    cfg = TrainConfig(model="deit3_ref_tiny_patch16_224", img_size=32, recipe=recipe, output_dir=str(out),
                      data=DataConfig(name="imagenet1k", root=str(root), num_workers=0), model_kwargs=dict(depth=1),
                      experiment="tests", amp="off")
    return train(cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One job trained twice on the same root, before and after hidden junk appears in train/ and val/."""
    tmp = tmp_path_factory.mktemp("classes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        root = _imagefolder(tmp / "in1k")
        clean = _train(root, tmp / "clean")
        _hide_junk(root)
        junk = _train(root, tmp / "junk")
    return {"root": root, "tmp": tmp, "clean": clean, "junk": junk}


def test_training_is_bit_identical_with_hidden_folders(trained):
    clean, junk = trained["clean"], trained["junk"]
    assert (clean["top1"], clean["train_loss"], clean["val_images"]) == (junk["top1"], junk["train_loss"], 6)
    a, b = (torch.load(trained["tmp"] / run / "model.pth", weights_only=True) for run in ("clean", "junk"))
    assert a["classes"] == b["classes"] == CLASSES and a["num_classes"] == 3
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    ckpt = torch.load(trained["tmp"] / "clean" / "checkpoint.pth", weights_only=True)
    assert ckpt["classes"] == CLASSES


def test_evaluate_on_another_class_count_names_both(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    weights = trained["tmp"] / "clean" / "model.pth"
    four = _imagefolder(tmp_path / "four", train=1, val=1, classes=CLASSES + ["n04"])
    evaluate = ["evaluate", "--weights", str(weights), "--workers", "0", "--data-root", str(four)]
    assert main(evaluate) == 2
    err = capsys.readouterr().err
    assert f"the class list saved in {weights} has 3 classes, the val split 4; only in the val split: n04" in err
    # weights saved before the class list was (no "classes"): the head's class count is checked
    state = torch.load(weights, weights_only=True)
    del state["classes"]
    old = tmp_path / "old" / "model.pth"
    old.parent.mkdir()
    torch.save(state, old)
    assert main(["evaluate", "--weights", str(old), "--workers", "0", "--data-root", str(four)]) == 2
    err = capsys.readouterr().err
    assert (f"editrepro evaluate: error: the model in {old} has a 3-class head but imagenet1k (val split in {four}) "
            "has 4 classes") in err
    # on its own dataset the job's figure comes back
    assert main(["evaluate", "--weights", str(weights), "--workers", "0", "--out", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["top1"] == pytest.approx(trained["clean"]["top1"])


def test_resuming_on_other_classes_is_an_error(trained, tmp_path, monkeypatch):
    """The data changed between two attempts of a job: its checkpoint's class list is not the dataset's."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{trained['tmp'] / 'mlflow.db'}")
    state = torch.load(trained["tmp"] / "clean" / "checkpoint.pth", weights_only=True)
    state["classes"] = ["n00"] + CLASSES[1:]               # as if n01 had been called n00 when it was written
    (tmp_path / "job").mkdir()
    torch.save(state, tmp_path / "job" / "checkpoint.pth")
    with pytest.raises(ValueError, match="was trained with other classes .* the checkpoint has 3 classes, the dataset "
                                         "3; only in the checkpoint: n00; only in the dataset: n01"):
        _train(trained["root"], tmp_path / "job")
    assert not (tmp_path / "job" / "model.pth").exists()
