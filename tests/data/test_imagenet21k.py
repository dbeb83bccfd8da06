"""ImageNet-21K-P cleaning: counts at the threshold, the validation pick, determinism, bad input,
verification, the symlink tree, resizing and the command, on listings and trees built here."""
import hashlib
import io
import json
import logging
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from editrepro.cli import main
from editrepro.data import imagenet21k as in21k
from editrepro.data.imagenet21k import CleanRules, DataError, clean

S1, S2, S3, S4, S5, S6, S7 = (f"n0000000{i}" for i in range(1, 8))
LOGGER = "editrepro.data.imagenet21k"


def listing_of(sizes, prefix="./", ext=".JPEG"):
    return [f"{prefix}{s}/{s}_{i}{ext}" for s, n in sizes.items() for i in range(n)]


def jpeg(size=(8, 8), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


TINY = jpeg()


def make_tree(root, sizes, image=TINY):
    for s, n in sizes.items():
        (root / s).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / s / f"{s}_{i}.JPEG").write_bytes(image)
    return root


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OUTPUTS = ["train.parquet", "val.parquet", "classes.tsv", "dropped_classes.tsv", "rejected.tsv"]


# --- the threshold and the split -------------------------------------------------------------

THRESHOLD_SIZES = {S1: 501, S2: 500, S3: 499, S4: 50, S5: 1200, S6: 500, S7: 1}


@pytest.mark.parametrize("drop_rule, kept, train", [
    ("le", [S1, S5], 451 + 1150),                      # the reference: exactly 500 is dropped
    ("lt", [S1, S2, S5, S6], 451 + 450 + 1150 + 450),  # the paper's "fewer than 500"
])
def test_counts_at_the_threshold_for_both_readings(drop_rule, kept, train):
    r = clean(listing_of(THRESHOLD_SIZES), CleanRules(drop_rule=drop_rule))
    assert r.classes.column("synset").to_pylist() == kept
    assert r.classes.column("label").to_pylist() == list(range(len(kept)))
    assert r.classes.column("images").to_pylist() == [THRESHOLD_SIZES[s] for s in kept]
    assert r.classes.column("val").to_pylist() == [50] * len(kept)
    assert len(r.train) == train and len(r.val) == 50 * len(kept)
    assert np.bincount(r.val.column("label").to_numpy(), minlength=len(kept)).tolist() == [50] * len(kept)
    dropped = dict(zip(*r.dropped.to_pydict().values()))
    assert dropped == {s: n for s, n in THRESHOLD_SIZES.items() if s not in kept}
    st = r.stats
    assert st["threshold"] == {"min_images": 500, "drop_rule": drop_rule, "classes_at_threshold": 2,
                               "images_at_threshold": 1000, "classes_kept_le": 2, "classes_kept_lt": 4,
                               "readings_differ_by": 2}
    assert st["classes"] == {"seen": 7, "kept": len(kept), "dropped": 7 - len(kept), "empty": 0,
                             "not_synset_folders": 0}
    assert st["images"] == {"train": train, "val": 50 * len(kept), "total": train + 50 * len(kept),
                            "in_dropped_classes": sum(dropped.values())}
    everything = set(r.train.column("path").to_pylist()) | set(r.val.column("path").to_pylist())
    assert len(everything) == len(r.train) + len(r.val)  # disjoint
    assert everything == {p[2:] for p in listing_of({s: THRESHOLD_SIZES[s] for s in kept})}
    assert r.train.column("synset").to_pylist() == [kept[i] for i in r.train.column("label").to_pylist()]


def test_validation_is_the_first_50_in_bytewise_order():
    odd = [f"{S1}/{n}"
           for n in ("Zebra.png", "a.jpg", "A.jpg", f"{S1}_1.jpeg", f"{S1}_1.JPEG.png", "\u00e9t\u00e9.jpg")]
    paths = listing_of({S1: 600}, prefix="") + odd + listing_of({S2: 600}, prefix="")
    random.Random(0).shuffle(paths)
    r = clean(paths)
    val = r.val.column("path").to_pylist()
    names1 = [p.split("/")[1] for p in val[:50]]
    assert names1[:9] == ["A.jpg", "Zebra.png", "a.jpg", f"{S1}_0.JPEG", f"{S1}_1.JPEG", f"{S1}_1.JPEG.png",
                          f"{S1}_1.jpeg", f"{S1}_10.JPEG", f"{S1}_100.JPEG"]
    assert val[:50] == sorted((p for p in paths if p.startswith(S1)), key=str.encode)[:50]
    assert names1[-1] == f"{S1}_138.JPEG"  # C-locale order: _1, _10, _100..._109, _11, _110, ...
    assert val[50:] == sorted((p for p in paths if p.startswith(S2)), key=str.encode)[:50]
    assert val[-1] == f"{S2}/{S2}_142.JPEG"
    assert r.train.column("path").to_pylist()[0] == f"{S1}/{S1}_139.JPEG"
    assert r.train.column("path").to_pylist()[555] == f"{S1}/\u00e9t\u00e9.jpg"  # non-ASCII sorts last
    train = r.train.column("path").to_pylist()
    assert train == sorted(train, key=lambda p: (p.split("/")[0], p.encode()))


def test_random_validation_is_seeded_per_class_and_reproducible():
    paths = listing_of({S1: 700, S2: 800})
    first = clean(paths).val.column("path").to_pylist()
    rand = CleanRules(val_selection="random", seed=0)
    a = clean(paths, rand)
    b = clean(list(reversed(paths)), rand)
    other = clean(paths, CleanRules(val_selection="random", seed=1))
    va = a.val.column("path").to_pylist()
    assert va == b.val.column("path").to_pylist()  # listing order does not matter
    assert va != first and va != other.val.column("path").to_pylist()
    assert len(set(va) & set(first)) < 20  # not the first 50 reordered
    assert np.bincount(a.val.column("label").to_numpy()).tolist() == [50, 50]
    assert set(va).isdisjoint(a.train.column("path").to_pylist())
    alone = clean(listing_of({S2: 800}), rand).val.column("path").to_pylist()
    assert alone == [p for p in va if p.startswith(S2)]  # a class's pick does not depend on the other classes


# --- determinism ----------------------------------------------------------------------------

def test_manifests_are_byte_identical_across_runs_and_listing_order(tmp_path):
    rng = random.Random(0)
    sizes = {f"n{rng.randrange(10 ** 8):08d}": rng.choice([3, 499, 500, 501, 650, 900]) for _ in range(30)}
    lines = listing_of(sizes) + ["./README.txt", "./n00000001/.DS_Store"]
    ordered, shuffled = tmp_path / "ordered.txt", tmp_path / "shuffled.txt"
    ordered.write_text("\n".join(lines) + "\n")
    rng.shuffle(lines)
    shuffled.write_bytes("\r\n".join(p[2:] if i % 3 else p for i, p in enumerate(lines)).encode())  # mixed "./"
    in21k.prepare(in21k.read_listing(ordered), CleanRules(), tmp_path / "a", progress=False)
    in21k.prepare(in21k.read_listing(ordered), CleanRules(), tmp_path / "b", progress=False)
    in21k.prepare(in21k.read_listing(shuffled), CleanRules(), tmp_path / "c", progress=False)
    for name in OUTPUTS:
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name) == sha(tmp_path / "c" / name), name
    stats = [json.loads((tmp_path / d / "stats.json").read_text()) for d in "abc"]
    assert stats[0] == stats[1]
    assert {k: v for k, v in stats[0].items() if k != "source"} == {k: v for k, v in stats[2].items() if k != "source"}


def tree_with_everything(root):
    """Classes around a threshold of 3 plus one of each kind of bad entry."""
    make_tree(root, {S1: 4, S2: 3, S3: 6, S4: 1})
    (root / S1 / "notes.txt").write_text("not an image")
    (root / S1 / ".DS_Store").write_bytes(b"\0")
    (root / S3 / f"._{S3}_0.JPEG").write_bytes(b"\0")  # AppleDouble: hidden, not an image
    (root / S3 / "sub").mkdir()
    (root / S3 / "sub" / "deep.JPEG").write_bytes(TINY)
    (root / "misc").mkdir()
    (root / "misc" / "x.jpg").write_bytes(TINY)
    (root / "n1234").mkdir()
    (root / "n1234" / "y.jpg").write_bytes(TINY)
    (root / S6).mkdir()                                  # an empty class folder
    (root / "README.txt").write_text("root file")
    (root / S7).write_bytes(TINY)                        # a file where a class folder is expected
    os.symlink(root / "nowhere", root / "n00000008")     # a broken symlink where a class folder is expected
    return root


def find_listing(root, path, shuffle=True):
    lines = ["./" + os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files]
    if shuffle:
        random.Random(1).shuffle(lines)
    path.write_text("\n".join(["."] + lines) + "\n")
    return path


def test_listing_and_tree_scan_give_identical_manifests(tmp_path):
    root = tree_with_everything(tmp_path / "in21k")
    rules = CleanRules(min_images=3, val_per_class=1)
    listing = find_listing(root, tmp_path / "files.txt")
    scanned = in21k.prepare(in21k.list_tree(root, progress=False), rules, tmp_path / "scan", progress=False)
    listed = in21k.prepare(in21k.read_listing(listing, root=root), rules, tmp_path / "list", progress=False)
    assert scanned.classes.column("synset").to_pylist() == [S1, S3]
    assert scanned.train.equals(listed.train) and scanned.val.equals(listed.val)
    for name in ["train.parquet", "val.parquet", "classes.tsv", "dropped_classes.tsv"]:
        assert sha(tmp_path / "scan" / name) == sha(tmp_path / "list" / name), name
    assert scanned.val.column("path").to_pylist() == [f"{S1}/{S1}_0.JPEG", f"{S3}/{S3}_0.JPEG"]
    assert json.loads((tmp_path / "list" / "stats.json").read_text())["root"] == str(root.resolve())


def test_absolute_listing_under_the_root_and_parquet_listing(tmp_path):
    root = make_tree(tmp_path / "in21k", {S1: 5})
    text = tmp_path / "abs.txt"
    text.write_text("\n".join(str(root / S1 / f"{S1}_{i}.JPEG") for i in range(5)))
    table = tmp_path / "files.parquet"
    pq.write_table(pa.table({"path": [f"./{S1}/{S1}_{i}.JPEG" for i in range(5)], "size": list(range(5))}), table)
    rules = CleanRules(min_images=3, val_per_class=1)
    a = clean(in21k.read_listing(text, root=root), rules)
    b = clean(in21k.read_listing(table), rules)
    assert a.train.equals(b.train) and a.val.column("path").to_pylist() == [f"{S1}/{S1}_0.JPEG"]
    with pytest.raises(DataError, match="absolute"):  # absolute paths without their root
        clean(in21k.read_listing(text), rules)


# --- bad input ------------------------------------------------------------------------------

def test_bad_entries_are_named_in_warnings_and_counted(tmp_path, caplog):
    root = tree_with_everything(tmp_path / "in21k")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        r = in21k.prepare(in21k.list_tree(root, progress=False), CleanRules(min_images=3, val_per_class=1),
                          tmp_path / "out", progress=False)
    text = caplog.text
    for name in ["notes.txt", ".DS_Store", f"._{S3}_0.JPEG", "misc", "n1234", "README.txt", S6, S7, "n00000008",
                 f"{S3}/sub/"]:
        assert name in text, name
    assert "Traceback" not in text
    st = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert st["entries"]["rejected"] == {"nested": 1, "not_a_file": 1, "not_image": 3, "not_synset": 2,
                                         "outside_class_folder": 2}
    assert st["classes"] == {"seen": 4, "kept": 2, "dropped": 2, "empty": 1, "not_synset_folders": 2}
    rejected = (tmp_path / "out" / "rejected.tsv").read_text().splitlines()
    assert rejected[0] == "path\treason\tdetail"
    assert f"{S1}/notes.txt\tnot_image\t" in rejected and "misc/x.jpg\tnot_synset\t" in rejected
    assert len(rejected) - 1 == sum(st["entries"]["rejected"].values())
    assert r.stats["images"] == {"train": 8, "val": 2, "total": 10, "in_dropped_classes": 4}


def test_an_unreadable_folder_is_reported_not_raised(tmp_path, monkeypatch, caplog):
    root = make_tree(tmp_path / "in21k", {S1: 4, S2: 5})
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith(S2):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(in21k.listing.os, "scandir", scandir)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        r = clean(in21k.list_tree(root, progress=False), CleanRules(min_images=3, val_per_class=1))
    assert r.classes.column("synset").to_pylist() == [S1]
    assert r.rejected.to_pylist() == [{"path": f"{S2}/", "reason": "unreadable_folder",
                                       "detail": "PermissionError: Permission denied"}]
    assert f"{S2}/" in caplog.text and "could not be read" in caplog.text
    assert r.stats["classes"]["empty"] == 0  # unreadable, not empty


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file or folder")
def test_permission_denied_folder_and_file(tmp_path):
    root = make_tree(tmp_path / "in21k", {S1: 4, S2: 5})
    (root / S2).chmod(0)
    (root / S1 / f"{S1}_3.JPEG").chmod(0)
    try:
        r = in21k.prepare(in21k.list_tree(root, progress=False), CleanRules(min_images=2, val_per_class=1),
                          tmp_path / "out", verify=True, workers=1, progress=False)
    finally:
        (root / S2).chmod(0o755)
    assert r.stats["entries"]["rejected"] == {"unreadable": 1, "unreadable_folder": 1}
    assert r.stats["classes"]["empty"] == 0
    assert r.corrupt.to_pylist()[0]["reason"] == "unreadable"


def test_missing_root_and_empty_inputs_are_clear_errors(tmp_path, capsys):
    missing = tmp_path / "no-such-root"
    with pytest.raises(FileNotFoundError, match=f"{missing} does not exist.*n01440764"):
        in21k.list_tree(missing)
    assert main(["clean-in21k", "--root", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"error: ImageNet-21k root {missing} does not exist" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        in21k.list_tree(tmp_path / "empty")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n")
    assert main(["clean-in21k", "--listing", str(blank), "--out", str(tmp_path / "out")]) == 2
    assert f"listing {blank} has no entries; expected one path per line" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"file": ["a"]}), bad)
    with pytest.raises(DataError, match="no 'path' column"):
        in21k.read_listing(bad)
    assert main(["clean-in21k", "--listing", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_root_one_level_too_high_is_an_error_saying_so(tmp_path):
    make_tree(tmp_path / "in21k" / "train", {S1: 5})
    with pytest.raises(DataError, match="no image of a synset class folder.*not named by a synset: train.*"
                                        "one level too high"):
        clean(in21k.list_tree(tmp_path / "in21k", progress=False))


def test_rules_are_validated(capsys, tmp_path):
    with pytest.raises(ValueError, match="drop_rule"):
        CleanRules(drop_rule="lte")
    with pytest.raises(ValueError, match="without training images"):
        CleanRules(min_images=50, drop_rule="lt", val_per_class=50)
    assert main(["clean-in21k", "--listing", "x", "--out", str(tmp_path), "--val-per-class", "600"]) == 2
    assert "without training images" in capsys.readouterr().err


# --- verification, symlinks, resizing ------------------------------------------------------

def test_verify_excludes_a_truncated_jpeg_and_counts_again(tmp_path):
    root = make_tree(tmp_path / "in21k", {S1: 4, S2: 5}, image=jpeg((64, 64)))
    truncated = root / S1 / f"{S1}_2.JPEG"
    truncated.write_bytes(truncated.read_bytes()[:300])
    rules = CleanRules(min_images=3, val_per_class=1)
    unverified = in21k.prepare(in21k.list_tree(root, progress=False), rules, tmp_path / "out", progress=False)
    assert unverified.classes.column("synset").to_pylist() == [S1, S2]
    r = in21k.prepare(in21k.list_tree(root, progress=False), rules, tmp_path / "out", verify=True, workers=2,
                      progress=False)
    assert r.classes.column("synset").to_pylist() == [S2]  # S1 is down to 3 images: dropped
    assert r.stats["verify"] == {"checked": 9, "corrupt": 1, "unreadable": 0, "listed_in": "corrupt.tsv"}
    assert r.stats["entries"]["rejected"] == {"corrupt": 1}
    corrupt = (tmp_path / "out" / "corrupt.tsv").read_text().splitlines()
    assert corrupt[1].startswith(f"{S1}/{S1}_2.JPEG\tcorrupt\t")
    assert f"{S1}_2.JPEG" not in (tmp_path / "out" / "dropped_classes.tsv").read_text()
    assert (tmp_path / "out" / "dropped_classes.tsv").read_text().splitlines()[1] == f"{S1}\t3"
    in21k.prepare(in21k.list_tree(root, progress=False), rules, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "corrupt.tsv").exists()  # a later unverified run does not keep a stale list


def test_symlink_tree_points_at_the_images_and_resumes(tmp_path):
    root = make_tree(tmp_path / "in21k", {S1: 4, S2: 5})
    dest = tmp_path / "tree"
    r = clean(in21k.list_tree(root, progress=False), CleanRules(min_images=3, val_per_class=1))
    counts = in21k.materialise_symlinks(r.splits, root, dest, progress=False)
    assert counts == dict(created=9, existing=0, replaced=0, removed_stale=0, conflicts=0)
    for split, table in r.splits.items():
        for row in table.to_pylist():
            link = dest / split / row["synset"] / row["path"].split("/")[1]
            assert link.is_symlink() and os.readlink(link) == str(root.resolve() / row["path"])
            assert os.path.samefile(link, root / row["path"])
    assert sorted(p.name for p in (dest / "val" / S2).iterdir()) == [f"{S2}_0.JPEG"]
    assert in21k.materialise_symlinks(r.splits, root, dest, progress=False)["existing"] == 9
    more_val = clean(in21k.list_tree(root, progress=False), CleanRules(min_images=3, val_per_class=2))
    counts = in21k.materialise_symlinks(more_val.splits, root, dest, progress=False)
    assert counts == dict(created=2, existing=7, replaced=0, removed_stale=2, conflicts=0)
    assert sorted(p.name for p in (dest / "train" / S2).iterdir()) == [f"{S2}_{i}.JPEG" for i in (2, 3, 4)]


def test_resize_squish_short_side_small_copies_and_resume(tmp_path):
    root = tmp_path / "in21k"
    sizes = {f"{S1}_0.JPEG": (300, 260), f"{S1}_1.JPEG": (400, 300), f"{S1}_2.JPEG": (100, 80),
             f"{S1}_3.JPEG": (260, 500)}
    (root / S1).mkdir(parents=True)
    for name, size in sizes.items():
        (root / S1 / name).write_bytes(jpeg(size, (10, 120, 240)))
    (root / S1 / f"{S1}_4.JPEG").write_bytes(jpeg((300, 300))[:200])  # truncated: reported, not raised
    r = clean(in21k.list_tree(root, progress=False), CleanRules(min_images=3, val_per_class=1))
    squish = in21k.resize_tree(r.splits, root, tmp_path / "224", mode="squish", workers=1, progress=False)
    assert squish["written"] == 4 and [f[0] for f in squish["failed"]] == [f"{S1}/{S1}_4.JPEG"]
    got = {p.name: Image.open(p).size for p in (tmp_path / "224").rglob("*.JPEG")}
    assert got == {f"{S1}_0.JPEG": (224, 224), f"{S1}_1.JPEG": (224, 224), f"{S1}_2.JPEG": (100, 80),
                   f"{S1}_3.JPEG": (224, 224)}
    assert (tmp_path / "224" / "train" / S1 / f"{S1}_2.JPEG").read_bytes() == (root / S1 / f"{S1}_2.JPEG").read_bytes()
    assert (tmp_path / "224" / "val" / S1 / f"{S1}_0.JPEG").exists()
    short = in21k.resize_tree(r.splits, root, tmp_path / "256", mode="short-side", workers=2, progress=False)
    assert short["size"] == 256
    got = {p.name: Image.open(p).size for p in (tmp_path / "256").rglob("*.JPEG")}
    assert got == {f"{S1}_0.JPEG": (295, 256), f"{S1}_1.JPEG": (341, 256), f"{S1}_2.JPEG": (100, 80),
                   f"{S1}_3.JPEG": (256, 492)}
    again = in21k.resize_tree(r.splits, root, tmp_path / "224", mode="squish", workers=1, progress=False)
    assert again["written"] == 0 and again["skipped_existing"] == 4
    assert not [p for p in (tmp_path / "224").rglob("*") if ".tmp" in p.name]


def test_reference_resampling_is_bilinear_without_antialiasing():
    a = np.random.default_rng(0).integers(0, 256, (8, 12, 3)).astype(np.uint8)
    half = in21k.materialise._resize_bilinear(a, 6, 4)
    block = a.astype(np.float64).reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))  # 2x down: the 2x2 mean, exactly
    assert np.array_equal(half, np.floor(block + 0.5).astype(np.uint8))
    assert np.array_equal(in21k.materialise._resize_bilinear(a, 12, 8), a)


# --- the command and the outputs ------------------------------------------------------------

def test_command_end_to_end(tmp_path, capsys):
    root = make_tree(tmp_path / "in21k", {S1: 4, S2: 5, S3: 2})
    out = tmp_path / "out"
    assert main(["clean-in21k", "--root", str(root), "--out", str(out), "--min-images", "3", "--val-per-class", "1",
                 "--symlink-tree", str(out / "tree"), "--no-progress"]) == 0
    assert "2 of 3 classes kept (drop classes with <= 3 images" in capsys.readouterr().out
    train = in21k.read_manifest(out, "train")
    assert train.schema.field("path").type == pa.string() and train.schema.field("label").type == pa.int32()
    meta = json.loads(train.schema.metadata[b"editrepro"])
    assert meta["split"] == "train" and meta["num_classes"] == 2 and meta["rules"]["min_images"] == 3
    assert in21k.manifest_root(out) == root.resolve()
    assert (out / "classes.tsv").read_text().splitlines() == [
        "label\tsynset\timages\ttrain\tval", f"0\t{S1}\t4\t3\t1", f"1\t{S2}\t5\t4\t1"]
    assert (out / "tree" / "val" / S2 / f"{S2}_0.JPEG").is_symlink()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["outputs"]["train"] == "train.parquet" and stats["rules"]["drop_rule"] == "le"


def test_a_failed_write_keeps_the_previous_manifest(tmp_path, monkeypatch):
    r = clean(listing_of({S1: 600}))
    in21k.write_outputs(r, tmp_path)
    before = sha(tmp_path / "train.parquet")

    def broken(table, where, **kwargs):
        open(where, "wb").write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(in21k.outputs.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        in21k.write_outputs(clean(listing_of({S1: 700})), tmp_path)
    assert sha(tmp_path / "train.parquet") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS + ["stats.json"])


def test_known_release_counts_are_recognised(monkeypatch):
    monkeypatch.setitem(in21k.KNOWN_RELEASES, "tiny", dict(classes=2, train=1601, val=100))
    assert clean(listing_of(THRESHOLD_SIZES)).stats["matches_release"] == "tiny"
    assert clean(listing_of(THRESHOLD_SIZES), CleanRules(drop_rule="lt")).stats["matches_release"] is None


def test_demo_tree_cleaned_and_read_back_by_the_reader(demo, tmp_path):
    """The demo generator, the cleaning and the reader agree: the counts the generator promises."""
    from editrepro.cli import main
    from editrepro.data import DemoSizes, build_dataset

    out = tmp_path / "in21k"
    assert main(["clean-in21k", "--root", str(demo["imagenet21k"]), "--out", str(out), "--min-images", "20",
                 "--val-per-class", "2", "--no-progress"]) == 0
    expected = DemoSizes().imagenet21k_expected()
    train, val = build_dataset("imagenet21k", out, "train"), build_dataset("imagenet21k", out, "val")
    assert (len(train), len(val), train.num_classes) == (expected["train"], expected["val"], expected["classes"])
    assert train.classes == val.classes
    image, label = val[len(val) - 1]
    assert label == expected["classes"] - 1 and image.mode == "RGB"


# --- the listing's bytes, and the previous implementation's manifests --------------------------

def test_names_with_any_byte_but_a_newline_are_read_as_they_are(tmp_path):
    """No CSV parsing: quotes, tabs, commas, '#' and a lone carriage return are parts of names;
    names that are not UTF-8 are rejected and named with \\x escapes; CRLF endings are fine."""
    names = [f"{S1}/{S1}_{i}.JPEG" for i in range(3)] + [
        f'{S1}/q"uote.jpg', f"{S1}/tab\tand,comma.jpg", f"{S1}/#hash.png", f"{S1}/cr\rinside.jpg", f"{S1}/ lead.jpg"]
    raw = b"\r\n".join([b"./" + n.encode() for n in names] + [
        b"./" + S1.encode() + b"/bad\xff\xfe.JPEG", b".", b"./" + S2.encode(), b"", b"./top.jpg"]) + b"\r\n"
    listing = tmp_path / "files.txt"
    listing.write_bytes(raw)
    r = clean(in21k.read_listing(listing), CleanRules(min_images=3, val_per_class=1))
    kept = r.train.column("path").to_pylist() + r.val.column("path").to_pylist()
    assert sorted(kept) == sorted(names)
    assert r.rejected.to_pylist() == [
        {"path": f"{S1}/bad\\xff\\xfe.JPEG", "reason": "not_utf8", "detail": ""},
        {"path": "top.jpg", "reason": "outside_class_folder", "detail": ""}]
    assert r.stats["entries"]["folder_lines"] == 2 and r.stats["entries"]["listed"] == len(names) + 4
    assert r.stats["classes"]["empty"] == 0  # the folder line of S2 is not a class


def _benchmark_listing_generator():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "clean_in21k_bench", Path(__file__).resolve().parents[2] / "benchmarks" / "clean_in21k.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# sha256 of the manifests' rows ("path\tlabel\tsynset\n" each) and of the TSVs, as the previous
# implementation (numpy radix sort over one byte buffer, commit c74ae4e) wrote them for this listing;
# the Polars rebuild must give the same, byte for byte. (Computed from the rows, not the Parquet
# files, whose bytes also name the pyarrow version that wrote them.)
PREVIOUS_1M = {
    "first": {"train": "a97b8584323459a38c70f3b4bf131b050e0bdb803db41ae035bf096c4a9effdc",
              "val": "f3c0b02682a521261087342e0d51089081f776c3a4ffbdeab6dbb80d09fdfafc"},
    "random": {"train": "62c1805f5c12e6527cc806546f0def38e26da25d783b36362c3611faec0179cd",
               "val": "449f7f8663413b392fc7ababac361d3715a49ce4bad2df3d9a7504e4a66a8855"},
    "classes.tsv": "c91aec7e52acd16cdb3b6e02ccf2e0b2b7801bfbcd399467d3b54a92c33f0034",
    "dropped_classes.tsv": "c75e3a2343d218846db0c052d79e6c31ec01d60ebc90ae81227d8afcc14f5a60",
    "rejected.tsv": "2c20d3d79992e2b79bd5d27b4227dd8d60541d9f05ecb440de75479739c60942",
}


def _rows_sha(table) -> str:
    h = hashlib.sha256()
    for p, label, s in zip(*(table.column(c).to_pylist() for c in ["path", "label", "synset"])):
        h.update(f"{p}\t{label}\t{s}\n".encode())
    return h.hexdigest()


def test_a_generated_million_line_listing_gives_the_previous_implementations_manifests(tmp_path):
    bench = _benchmark_listing_generator()
    rng = np.random.default_rng(1)
    sizes = bench.class_sizes(rng, 1_000_000, 2000)
    listing = tmp_path / "files.txt"
    bench.write_listing(listing, sizes, rng, "shuffled")
    for selection in ("first", "random"):
        out = tmp_path / selection
        r = in21k.prepare(in21k.read_listing(listing), CleanRules(val_selection=selection), out, progress=False)
        kept = sizes > 500
        assert (len(r.classes), len(r.val), len(r.train)) == (
            kept.sum(), 50 * kept.sum(), sizes[kept].sum() - 50 * kept.sum())  # the generator's own sizes
        for split in ("train", "val"):
            assert _rows_sha(in21k.read_manifest(out, split)) == PREVIOUS_1M[selection][split], (selection, split)
        for name in ("classes.tsv", "dropped_classes.tsv", "rejected.tsv"):
            assert sha(out / name) == PREVIOUS_1M[name], (selection, name)
