"""``editrepro evaluate --imagenet-v2 DIR --real-labels FILE`` on a tiny trained model and the demo's stand-ins."""
import json
import shutil

import pytest

from editrepro.cli import main
from editrepro.data import build_dataset
from editrepro.data.datasets.imagenet_v2 import IMAGENET_V2_FOLDER
from editrepro.data.demo import DemoSizes, demo_real_labels
from editrepro.data.real_labels import val_image_number

TRAIN = ["train", "--recipe", "config/recipes/in1k_pretrain.yaml", "--set", "epochs=2", "--set", "batch_size=40",
         "--set", "warmup_epochs=1", "--set", "lr=1e-3", "--model", "deit3_ref_tiny_patch16_224", "--img-size", "32",
         "--model-arg", "depth=1", "--dataset", "imagenet1k", "--workers", "0", "--experiment", "v2-real-test"]


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    """(model.pth, tracking URI) of a tiny ImageNet-1k job on the demo, trained once for the module."""
    tmp = tmp_path_factory.mktemp("v2real")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        assert main(TRAIN + ["--data-root", str(demo["imagenet1k"]), "--output", str(tmp / "run")]) == 0
    return tmp / "run" / "model.pth", uri


@pytest.fixture(autouse=True)
def _store(trained, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained[1])


def evaluate(weights, out, *flags):
    code = main(["evaluate", "--weights", str(weights), "--workers", "0", "--out", str(out), *map(str, flags)])
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_the_four_keys_on_the_demo_stand_ins_and_in_mlflow(trained, demo, demo_root, tmp_path):
    from mlflow.tracking import MlflowClient

    weights, uri = trained
    code, ev = evaluate(weights, tmp_path / "e.json", "--imagenet-v2", demo_root / IMAGENET_V2_FOLDER,
                        "--real-labels", demo["imagenet1k"] / "real.json")
    assert code == 0
    z = DemoSizes()
    assert ev["n"] == z.imagenet1k_classes * z.imagenet1k_val_per_class
    assert ev["v2_images"] == z.imagenet1k_classes * z.imagenet_v2_per_class and ev["v2_bad_samples"] == 0
    assert ev["real_images"] == sum(1 for labels in demo_real_labels(z) if labels)
    for key in ("top1_v2", "top5_v2", "top1_real"):
        assert 0 <= ev[key] <= 100
    assert ev["top1_v2"] <= ev["top5_v2"]
    metrics = MlflowClient(tracking_uri=uri).get_run(ev["run_id"]).data.metrics
    for key in ("top1", "top1_v2", "top5_v2", "top1_real", "real_images"):
        assert metrics[f"eval/imagenet1k_val_32/{key}"] == pytest.approx(ev[key]), key


def test_val_relabelled_as_v2_and_real_reproduces_top1_and_top5(trained, demo, tmp_path):
    """The val images themselves laid out as ImageNet-V2, and a ReaL file giving each its own label (by file
    number): the same transform and model must give exactly val's top-1 / top-5."""
    val = build_dataset("imagenet1k", demo["imagenet1k"], "val")
    v2 = tmp_path / "v2"
    labels = [None] * len(val)
    for i in range(len(val)):
        label, path = int(val.targets[i]), val.path(i)
        (v2 / str(label)).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, v2 / str(label) / path.name)
        labels[val_image_number(path) - 1] = [label]
    (tmp_path / "own.json").write_text(json.dumps(labels))
    code, ev = evaluate(trained[0], tmp_path / "e.json", "--imagenet-v2", v2, "--real-labels", tmp_path / "own.json")
    assert code == 0
    assert (ev["top1_v2"], ev["top5_v2"], ev["v2_images"]) == (pytest.approx(ev["top1"]), pytest.approx(ev["top5"]),
                                                               len(val))
    assert ev["top1_real"] == pytest.approx(ev["top1"]) and ev["real_images"] == len(val)


def test_without_the_flags_nothing_is_added(trained, tmp_path):
    code, ev = evaluate(trained[0], tmp_path / "e.json")
    assert code == 0 and not {"top1_v2", "top5_v2", "top1_real", "real_images"} & set(ev)


def test_bad_input_is_an_error_naming_it(trained, demo, demo_root, tmp_path, capsys):
    weights = trained[0]
    short = tmp_path / "short.json"
    short.write_text(json.dumps([[0]] * 10))
    bad_v2 = tmp_path / "v2"
    shutil.copytree(demo_root / IMAGENET_V2_FOLDER, bad_v2)
    shutil.rmtree(bad_v2 / "7")
    cases = [
        (["--real-labels", short], f"ReaL labels {short} have 10 entries but the validation set has 200 images"),
        (["--real-labels", tmp_path / "none.json"], f"ReaL labels {tmp_path / 'none.json'} do not exist"),
        (["--imagenet-v2", bad_v2], f"expected exactly the 10 class folders 0..9 (folder names are ImageNet-1k class "
                                    f"indices), but 1 class folder(s) missing (7) (looked in {bad_v2})"),
        (["--imagenet-v2", tmp_path / "nowhere"], f"the folder does not exist (looked in {tmp_path / 'nowhere'})"),
        (["--imagenet-v2", bad_v2, "--dataset", "cifar10", "--data-root", demo["cifar10"]],
         "--imagenet-v2 score an ImageNet-1k classifier, not a classification model on cifar10"),
        (["--real-labels", demo["imagenet1k"] / "real.json", "--split", "train"],
         "--real-labels are ImageNet-1k val's labels; the split evaluated is 'train'"),
    ]
    for flags, message in cases:
        capsys.readouterr()
        code, _ = evaluate(weights, tmp_path / "x.json", *flags)
        err = capsys.readouterr().err
        assert code == 2, flags
        assert err.startswith("editrepro evaluate: error: ") and message in err and "Traceback" not in err, err
        assert not (tmp_path / "x.json").exists()
