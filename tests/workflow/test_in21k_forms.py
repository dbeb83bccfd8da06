"""The DAG for each form of ImageNet-21K-P: the processed release (no cleaning job), the raw one cleaned then
resized (in21k_cleaning.resize), or cleaned only (resize: none); a bad resize mode fails at planning."""
import json
import re
import shutil

import pyarrow.parquet as pq
from conftest import job_stats, snakemake, write_config
from PIL import Image


def planned(workflow, config, target="reproduce_table3"):
    r = snakemake(workflow, "-n", "-p", target, "--configfile", config)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return job_stats(r.stdout + r.stderr), r.stdout


def write_processed(root, classes=3, train=4, val=2):
    """A processed ImageNet-21K-P tree: imagenet21k_train/ and imagenet21k_val/ of synset folders."""
    for split, n in (("train", train), ("val", val)):
        for k in range(classes):
            synset = f"n{k + 1:08d}"
            folder = root / f"imagenet21k_{split}" / synset
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (224, 224), (60 * k, 20 * i, 100)).save(folder / f"{synset}_{split}{i}.JPEG")
    return root


def test_the_processed_release_is_read_with_no_cleaning_job(workflow):
    config = write_config(workflow, "p", **{"data.imagenet21k_p": "in21k_p"})
    default, _ = planned(workflow, "config/config.yaml")
    stats, out = planned(workflow, config)
    # one indexing job instead of the cleaning and the resize; everything else as planned
    assert stats["in21k_p"] == 1 and "clean_in21k" not in stats and "resize_in21k" not in stats
    assert stats == {**{k: v for k, v in default.items() if k not in ("clean_in21k", "resize_in21k")},
                     "in21k_p": 1, "total": default["total"] - 1}
    assert stats["pretrain_in21k"] == 2
    assert "editrepro in21k-p --root data/demo/in21k_p --out results/demo/data/imagenet21k_p " in out
    assert out.count("--dataset imagenet21k --data-root results/demo/data/imagenet21k_p ") == 2
    # an absolute path is taken as it is; counts: any passes the flag
    config = write_config(workflow, "p_abs", **{"data.imagenet21k_p": "/srv/in21k_p", "data.imagenet21k_p_counts": "any"})
    _, out = planned(workflow, config)
    assert "editrepro in21k-p --root /srv/in21k_p --any-counts --out results/demo/data/imagenet21k_p " in out


def test_the_raw_release_is_cleaned_then_resized_unless_resize_is_none(workflow):
    default, out = planned(workflow, "config/config.yaml")
    assert default["clean_in21k"] == 1 and default["resize_in21k"] == 1 and "in21k_p" not in default
    assert ("editrepro resize-in21k --manifests results/demo/data/imagenet21k "
            "--out results/demo/data/imagenet21k_squish32 --mode squish --size 32 ") in out
    assert out.count("--data-root results/demo/data/imagenet21k_squish32 ") == 2
    stats, out = planned(workflow, write_config(workflow, "full", **{"in21k_cleaning.resize": "none"}))
    assert stats == {**{k: v for k, v in default.items() if k != "resize_in21k"}, "total": default["total"] - 1}
    assert out.count("--data-root results/demo/data/imagenet21k ") == 2
    short = write_config(workflow, "short", **{"in21k_cleaning.resize": "short-side", "in21k_cleaning.resize_size": None})
    _, out = planned(workflow, short)
    assert "--mode short-side --size 256 " in out and "--data-root results/demo/data/imagenet21k_short-side256 " in out
    # the paper's config: squish at 224, the reference's
    stats, out = planned(workflow, "config/paper.yaml", "all")
    assert stats["clean_in21k"] == 1 and stats["resize_in21k"] == 1
    assert "--mode squish --size 224 " in out and "--data-root results/paper/data/imagenet21k_squish224 " in out


def test_an_unknown_resize_mode_fails_at_planning_naming_key_and_values(workflow):
    r = snakemake(workflow, "-n", "reproduce_table3", "--configfile",
                  write_config(workflow, "bad", **{"in21k_cleaning.resize": "stretch"}))
    out = r.stdout + r.stderr   # snakemake prints the validation error on stdout
    assert r.returncode != 0
    assert "'stretch' is not one of ['squish', 'short-side', 'none']" in out
    assert "On instance['in21k_cleaning']['resize']" in out
    r = snakemake(workflow, "-n", "reproduce_table3", "--configfile",
                  write_config(workflow, "bad2", **{"data.imagenet21k_p_counts": "some"}))
    assert r.returncode != 0 and "'some' is not one of ['published', 'any']" in r.stdout + r.stderr


def test_the_data_step_of_a_processed_tree_runs_and_checks_its_counts(workflow, tmp_path):
    write_processed(workflow / "data" / "demo" / "in21k_p")
    target = "results/demo/data/imagenet21k_p/train.parquet"
    # the published counts are checked: a 3-class tree is not a release, the job fails saying so
    r = snakemake(workflow, "--cores", "1", target, "--configfile",
                  write_config(workflow, "p", **{"data.imagenet21k_p": "in21k_p"}))
    assert r.returncode != 0
    log = (workflow / "logs" / "demo" / "in21k_p.log").read_text()
    assert "holds 3 classes, 12 train and 6 val images, which is no published ImageNet-21K-P release" in log
    assert not (workflow / target).exists()
    r = snakemake(workflow, "--cores", "1", target, "--configfile",
                  write_config(workflow, "p_any", **{"data.imagenet21k_p": "in21k_p", "data.imagenet21k_p_counts": "any"}))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    stats = job_stats(r.stdout + r.stderr)
    assert stats == {"in21k_p": 1, "total": 1}
    train = pq.read_table(workflow / target)
    assert train.column("label").to_pylist() == [0] * 4 + [1] * 4 + [2] * 4
    assert train.column("path").to_pylist()[:2] == ["n00000001/n00000001_train0.JPEG", "n00000001/n00000001_train1.JPEG"]
    out = json.loads((workflow / "results/demo/data/imagenet21k_p/stats.json").read_text())
    assert out["roots"]["val"] == str((workflow / "data/demo/in21k_p/imagenet21k_val").resolve())
    shutil.rmtree(workflow / "data")


def test_the_cost_plan_says_which_images_21k_pretraining_reads(workflow):
    def forms(config):
        _, out = planned(workflow, config, "cost")
        return sorted(re.findall(r'"input_form": "([a-z]+)"', out))

    assert forms("config/config.yaml") == ["resized", "resized"]                      # squish after cleaning
    assert forms(write_config(workflow, "full", **{"in21k_cleaning.resize": "none"})) == ["full", "full"]
    assert forms(write_config(workflow, "p", **{"data.imagenet21k_p": "in21k_p",
                                                "in21k_cleaning.resize": "none"})) == ["resized", "resized"]
