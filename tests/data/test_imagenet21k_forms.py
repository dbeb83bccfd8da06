"""ImageNet-21K-P in its two forms: the processed release read as it is, and the raw release cleaned then resized.

The processed tree is built here as the reference's processing_script.sh builds it (classes of more
than the threshold kept, the first images of each in `ls` order moved to imagenet21k_val/, then
every image squish-resized by resize.py's rule), with plain os and PIL, not with the code under test.
"""
import io
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from editrepro.cli import main
from editrepro.data import imagenet21k as in21k
from editrepro.data.datasets.imagenet import ImageNet21k
from editrepro.data.demo import DemoSizes, _write_imagenet21k

THRESHOLD, VAL = 20, 2
# 5 classes: two kept (25, 23 > 20), one at exactly the threshold (dropped, as the reference's -gt 500), two below
SIZES = DemoSizes(imagenet21k_class_sizes=(25, 20, 23, 8, 19), imagenet21k_size=(150, 300))


def raw_tree(root: Path) -> Path:
    _write_imagenet21k(root, 0, SIZES)
    return root


def reference_split(raw: Path):
    """{split: {synset: [file names]}} as processing_script.sh leaves them (ls: byte order, names are ASCII)."""
    out = {"train": {}, "val": {}}
    for synset in sorted(os.listdir(raw)):
        files = sorted(f for f in os.listdir(raw / synset) if f.endswith(".JPEG"))
        if len(files) > THRESHOLD:
            out["val"][synset], out["train"][synset] = files[:VAL], files[VAL:]
    return out


def processed_tree(raw: Path, dest: Path, size: int = 224) -> Path:
    """The processed release: resize.py's rule (longer side under `size`: copied; else squished), written by PIL."""
    for split, classes in reference_split(raw).items():
        for synset, files in classes.items():
            folder = dest / f"imagenet21k_{split}" / synset
            folder.mkdir(parents=True)
            for name in files:
                with Image.open(raw / synset / name) as im:
                    if max(im.size) < size:
                        shutil.copyfile(raw / synset / name, folder / name)
                    else:
                        im.convert("RGB").resize((size, size), Image.BILINEAR).save(folder / name, quality=95)
    return dest


def rows(path: Path):
    t = pq.read_table(path)
    return list(zip(*(t.column(c).to_pylist() for c in ("path", "label", "synset"))))


def expected_rows(raw: Path, split: str):
    classes = reference_split(raw)
    synsets = sorted(classes["train"])
    return [(f"{s}/{name}", label, s) for label, s in enumerate(synsets) for name in classes[split][s]]


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    """The raw tree, cleaned and resized by the workflow's commands, and the processed tree indexed."""
    base = tmp_path_factory.mktemp("forms")
    raw = raw_tree(base / "raw")
    rules = ["--min-images", str(THRESHOLD), "--val-per-class", str(VAL), "--no-progress"]
    assert main(["clean-in21k", "--root", str(raw), "--out", str(base / "clean"), *rules]) == 0
    assert main(["resize-in21k", "--manifests", str(base / "clean"), "--out", str(base / "squish"),
                 "--workers", "1", "--no-progress"]) == 0
    assert main(["resize-in21k", "--manifests", str(base / "clean"), "--out", str(base / "short"),
                 "--mode", "short-side", "--workers", "1", "--no-progress"]) == 0
    proc = processed_tree(raw, base / "processed")
    assert main(["in21k-p", "--root", str(proc), "--out", str(base / "p"), "--any-counts", "--no-progress"]) == 0
    return base


@pytest.mark.parametrize("split", ["train", "val"])
def test_both_forms_give_the_same_manifests_as_the_reference_script(forms, split):
    raw = forms / "raw"
    want = expected_rows(raw, split)
    assert len(want) == {"train": 25 + 23 - 2 * VAL, "val": 2 * VAL}[split]
    name = f"{split}.parquet"
    for form in ("clean", "squish", "short", "p"):
        assert rows(forms / form / name) == want, form
    classes = [(forms / form / "classes.tsv").read_text() for form in ("clean", "squish", "short", "p")]
    assert len(set(classes)) == 1


@pytest.mark.parametrize("form, split_root", [("squish", "train"), ("short", "train"), ("p", "imagenet21k_train"),
                                              ("squish", "val"), ("p", "imagenet21k_val")])
def test_the_reader_finds_the_same_labels_on_the_same_images(forms, form, split_root):
    split = "val" if split_root.endswith("val") else "train"
    folder = forms / ("processed" if form == "p" else form) / split_root
    ds = ImageNet21k(forms / form, split)
    assert ds.root == folder.resolve()
    raw_rows = expected_rows(forms / "raw", split)
    assert [(str(ds.path(i).relative_to(folder.resolve())), int(ds.targets[i])) for i in range(len(ds))] == \
        [(p, label) for p, label, _ in raw_rows]
    assert ds.classes == sorted(reference_split(forms / "raw")["train"])


def test_resized_pixels_are_the_references(forms):
    raw, seen = forms / "raw", {"squished": 0, "copied": 0, "short": 0}
    for split in ("train", "val"):
        for path, _, _ in expected_rows(raw, split):
            with Image.open(raw / path) as im:
                w, h = im.size
            with Image.open(forms / "squish" / split / path) as im:
                squish = im.size
            with Image.open(forms / "short" / split / path) as im:
                short = im.size
            with Image.open(forms / "processed" / f"imagenet21k_{split}" / path) as im:
                assert im.size == squish
            if max(w, h) < 224:      # resize.py: copied as it is
                assert squish == (w, h) and (forms / "squish" / split / path).read_bytes() == (raw / path).read_bytes()
                seen["copied"] += 1
            else:
                assert squish == (224, 224)
                seen["squished"] += 1
            if max(w, h) < 256:      # resize_short_edge.py: the same rule at 256
                assert short == (w, h)
            else:
                scale = 256 / min(w, h)
                assert min(short) == 256 and max(short) == round(max(w, h) * scale)
                assert (short[0] > short[1]) == (w > h) or w == h
                seen["short"] += 1
    assert seen["squished"] > 5 and seen["copied"] > 0 and seen["short"] > 0


def test_stats_record_each_form(forms):
    p = json.loads((forms / "p" / "stats.json").read_text())
    assert p["form"] == "processed" and p["matches_release"] is None and p["counts_check"] == "any"
    assert p["classes"]["kept"] == 2 and p["images"] == {"train": 44, "val": 4, "total": 48}
    assert p["roots"]["val"] == str((forms / "processed" / "imagenet21k_val").resolve())
    s = json.loads((forms / "squish" / "stats.json").read_text())
    assert s["form"] == "resized" and s["resize"]["mode"] == "squish" and s["resize"]["size"] == 224
    assert s["resize"]["failed"] == 0 and s["images"]["train"] == 44
    assert json.loads((forms / "short" / "stats.json").read_text())["resize"]["size"] == 256


def test_counts_are_checked_against_the_published_releases(forms, tmp_path, monkeypatch, capsys):
    proc = forms / "processed"
    out = tmp_path / "p"
    assert main(["in21k-p", "--root", str(proc), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(proc) in err and "2 classes, 44 train and 4 val images" in err
    assert "10,450 classes, 11,060,223 train, 522,500 val" in err and "11,221 classes, 11,797,632 train" in err
    assert "data.imagenet21k_p_counts: any" in err and "--any-counts" in err
    assert not (out / "train.parquet").exists() and not (out / "stats.json").exists()
    # a release of the same total split otherwise is not this one: each split is checked
    monkeypatch.setitem(in21k.KNOWN_RELEASES, "tiny", dict(classes=2, train=43, val=5))
    with pytest.raises(in21k.DataError, match="tiny: 2 classes, 43 train, 5 val"):
        in21k.index_processed(proc, out, progress=False)
    # the same tree counted as a published release passes, and says which
    monkeypatch.setitem(in21k.KNOWN_RELEASES, "tiny", dict(classes=2, train=44, val=4))
    assert main(["in21k-p", "--root", str(proc), "--out", str(out), "--no-progress"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["matches_release"] == "tiny" and stats["counts_check"] == "published"


def test_a_wrong_layout_is_an_error_naming_the_path_and_the_layout(forms, tmp_path, capsys):
    assert main(["in21k-p", "--root", str(forms / "raw"), "--out", str(tmp_path / "a"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{forms / 'raw'} has no imagenet21k_train/ and no imagenet21k_val/ folder" in err
    assert "n00004475/" in err and "imagenet21k_train/<synset>/<image>" in err
    assert main(["in21k-p", "--root", str(tmp_path / "missing"), "--out", str(tmp_path / "a")]) == 2
    assert f"{tmp_path / 'missing'} is not a folder" in capsys.readouterr().err
    half = tmp_path / "half"
    shutil.copytree(forms / "processed" / "imagenet21k_train", half / "imagenet21k_train")
    with pytest.raises(in21k.DataError, match=r"has no imagenet21k_val/ folder \(it holds: imagenet21k_train/\)"):
        in21k.index_processed(half, tmp_path / "a", counts="any")


def test_a_val_class_missing_from_train_and_stray_files(forms, tmp_path):
    proc = tmp_path / "proc"
    shutil.copytree(forms / "processed", proc)
    (proc / "imagenet21k_train" / "README.txt").write_text("x")
    (proc / "imagenet21k_train" / "n00004475" / ".DS_Store").write_bytes(b"")
    stats = in21k.index_processed(proc, tmp_path / "ok", counts="any", progress=False)
    assert stats["entries"]["rejected"] == 2 and stats["images"]["train"] == 44
    rejected = (tmp_path / "ok" / "rejected.tsv").read_text().splitlines()
    assert rejected[1:] == ["imagenet21k_train/README.txt\toutside_class_folder\t",
                            "imagenet21k_train/n00004475/.DS_Store\tnot_image\t"]
    (proc / "imagenet21k_val" / "n09999999").mkdir()
    shutil.copy(next((proc / "imagenet21k_val" / "n00004475").iterdir()), proc / "imagenet21k_val" / "n09999999")
    with pytest.raises(in21k.DataError, match="has 1 synset folders that .* lacks \\(n09999999\\)"):
        in21k.index_processed(proc, tmp_path / "bad", counts="any", progress=False)


def test_an_image_the_resize_cannot_read_is_left_out_and_listed(tmp_path):
    raw = tmp_path / "raw"
    for k, synset in enumerate(["n00000001", "n00000002"]):
        (raw / synset).mkdir(parents=True)
        for i in range(4):
            buf = io.BytesIO()
            Image.new("RGB", (300, 240), (40 * i, 80 * k, 90)).save(buf, format="JPEG")
            (raw / synset / f"{synset}_{i}.JPEG").write_bytes(buf.getvalue())
    (raw / "n00000002" / "n00000002_3.JPEG").write_bytes(b"not a jpeg")
    assert main(["clean-in21k", "--root", str(raw), "--out", str(tmp_path / "clean"), "--min-images", "3",
                 "--val-per-class", "1", "--no-progress"]) == 0
    stats = in21k.resize_manifests(tmp_path / "clean", tmp_path / "r", workers=1, progress=False)
    assert stats["resize"]["failed"] == 1 and stats["images"] == {**stats["images"], "train": 5, "val": 2}
    assert [p for p, _, _ in rows(tmp_path / "r" / "train.parquet")] == [
        "n00000001/n00000001_1.JPEG", "n00000001/n00000001_2.JPEG", "n00000001/n00000001_3.JPEG",
        "n00000002/n00000002_1.JPEG", "n00000002/n00000002_2.JPEG"]
    failed = (tmp_path / "r" / "resize_failed.tsv").read_text().splitlines()
    assert len(failed) == 2 and failed[1].startswith("train/n00000002/n00000002_3.JPEG\tcorrupt\t")
    classes = (tmp_path / "r" / "classes.tsv").read_text().splitlines()
    assert classes[1:] == ["0\tn00000001\t4\t3\t1", "1\tn00000002\t3\t2\t1"]
    for p, _, _ in rows(tmp_path / "r" / "train.parquet"):
        with Image.open(tmp_path / "r" / "train" / p) as im:
            assert im.size == (224, 224)


def test_resize_needs_the_cleanings_manifests(tmp_path, capsys):
    assert main(["resize-in21k", "--manifests", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path} holds no stats.json" in capsys.readouterr().err


def test_both_forms_run_without_torch(forms, tmp_path):
    """The data jobs run at planning's weight: neither command imports torch, timm or torchvision."""
    import subprocess
    import sys

    for argv in (["in21k-p", "--root", str(forms / "processed"), "--out", str(tmp_path / "p"), "--any-counts",
                  "--no-progress"],
                 ["resize-in21k", "--manifests", str(forms / "clean"), "--out", str(tmp_path / "r"), "--size", "64",
                  "--workers", "1", "--no-progress"]):
        code = (f"import sys\nfrom editrepro.cli import main\nassert main({argv!r}) == 0\n"
                "print('HEAVY:' + ','.join(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.strip().splitlines()[-1] == "HEAVY:", r.stdout[-500:]
    assert (tmp_path / "p" / "train.parquet").is_file() and (tmp_path / "r" / "train.parquet").is_file()
