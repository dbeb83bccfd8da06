"""The demo generator: deterministic, idempotent, crash-safe, and its classes are learnable."""
import hashlib
import json
from pathlib import Path

import pytest
import torch
from torchvision import transforms as T

from editrepro.cli import main
from editrepro.data import DATASETS, build_dataset, generate_demo_data
from editrepro.data import demo as demo_module

# a small demo (about a second) for tests that write their own copy
TINY = dict(
    imagenet1k_classes=3, imagenet1k_train_per_class=2, imagenet1k_val_per_class=1,
    imagenet21k_class_sizes=(3, 2), imagenet21k_threshold=2, imagenet21k_val_per_class=1,
    cifar10_train_per_class=1, cifar10_test_per_class=1,
    cifar100_train_per_class=1, cifar100_test_per_class=1,
    flowers102_per_class=(1, 0, 1), dtd_per_class=(1, 1, 1),
    caltech256_classes=2, caltech256_per_class=(3, 3), caltech256_clutter=1,
    ade20k_train=2, ade20k_val=1,
    coco_train=2, coco_val=2,
)


def tree_digest(root: Path) -> dict:
    """Relative path -> sha256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(demo, demo_root, tmp_path):
    again = generate_demo_data(tmp_path, seed=0)
    assert set(again) == set(DATASETS) == set(demo)
    a, b = tree_digest(demo_root), tree_digest(tmp_path)
    assert len(a) > 2000 and a == b


def test_another_seed_changes_pixels_not_names(tmp_path):
    a = tree_digest(generate_demo_data(tmp_path / "a", seed=0, **TINY)["imagenet1k"].parent)
    b = tree_digest(generate_demo_data(tmp_path / "b", seed=1, **TINY)["imagenet1k"].parent)
    assert a.keys() == b.keys()
    jpegs = [k for k in a if k.endswith(".JPEG") or k.startswith("coco/") and k.endswith(".jpg")]
    assert any(k.startswith("coco/") for k in jpegs) and all(a[k] != b[k] for k in jpegs)


def test_idempotent_and_rewritten_when_incomplete_or_changed(tmp_path):
    roots = generate_demo_data(tmp_path, **TINY)
    def mtimes():
        return {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}

    before = mtimes()
    assert generate_demo_data(tmp_path, **TINY) == roots
    assert mtimes() == before  # nothing rewritten
    marker = json.loads((tmp_path / "DONE").read_text())
    assert marker["seed"] == 0 and marker["sizes"]["imagenet1k_classes"] == 3

    (tmp_path / "DONE").unlink()  # incomplete: rewritten, with the same bytes
    before = tree_digest(tmp_path)
    generate_demo_data(tmp_path, **TINY)
    assert tree_digest(tmp_path) == {**before, "DONE": tree_digest(tmp_path)["DONE"]}

    generate_demo_data(tmp_path, **{**TINY, "imagenet1k_classes": 4})  # other options: rewritten
    assert build_dataset("imagenet1k", roots["imagenet1k"], "train").num_classes == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_a_crash_leaves_the_old_set_and_no_marker(tmp_path, monkeypatch):
    roots = generate_demo_data(tmp_path, **TINY)
    before = tree_digest(tmp_path / "cifar-10-batches-py")

    def crash(out, seed, sizes):
        (out / "data_batch_1").write_bytes(b"half")
        raise RuntimeError("killed")

    folder, _, rel = demo_module._SETS["cifar10"]
    monkeypatch.setitem(demo_module._SETS, "cifar10", (folder, crash, rel))
    with pytest.raises(RuntimeError, match="killed"):
        generate_demo_data(tmp_path, seed=3, **TINY)
    assert tree_digest(tmp_path / "cifar-10-batches-py") == before  # the old set, whole
    assert not (tmp_path / "DONE").exists()  # so the next call rewrites everything
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(build_dataset("cifar10", roots["cifar10"], "train")) == 10

    # a killed run (no finally) leaves its staging folder: the next run clears it
    (tmp_path / ".flowers-102.partial-999999").mkdir()
    monkeypatch.undo()
    generate_demo_data(tmp_path, **TINY)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_unknown_size_option_is_refused(tmp_path):
    with pytest.raises(ValueError, match="imagenet1k_classes"):
        generate_demo_data(tmp_path, imagenet1k_clases=3)


def test_imagenet21k_expected_counts():
    z = demo_module.DemoSizes()
    e = z.imagenet21k_expected()
    kept = [n for n in z.imagenet21k_class_sizes if n > 20]
    assert e == {"classes": len(kept), "dropped_classes": 30 - len(kept),
                 "train": sum(kept) - 2 * len(kept), "val": 2 * len(kept)}


def test_classes_are_learnable(demo):
    """Nearest class mean on 16x16 pixels: far above chance (10%) on the demo ImageNet-1k val."""
    tf = T.Compose([T.Resize((16, 16)), T.ToTensor()])

    def features(split):
        ds = build_dataset("imagenet1k", demo["imagenet1k"], split, tf)
        x = torch.stack([ds[i][0].flatten() for i in range(len(ds))])
        return x, torch.as_tensor(ds.targets)

    (x, y), (xv, yv) = features("train"), features("val")
    means = torch.stack([x[y == c].mean(0) for c in range(10)])
    accuracy = (torch.cdist(xv, means).argmin(1) == yv).float().mean().item()
    assert accuracy > 0.4, accuracy


def test_cli_reports_the_roots(demo_root, capsys):
    assert main(["demo-data", "--out", str(demo_root)]) == 0  # already complete: returns at once
    out = capsys.readouterr().out
    assert "imagenet1k" in out and str(demo_root / "imagenet1k") in out
