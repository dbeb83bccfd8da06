"""What planning checks before any job is queued: the data paths the planned jobs read, each training recipe's batch
on its rule's devices, a broken recipe file, and numbers written as YAML 1.2 writes them."""
import re

import yaml
from conftest import job_stats, snakemake, write_config

MODEL = "results/missing/runs/in1k_224/EDIT-T/seed0/model.pth"


def test_missing_data_paths_warn_in_a_dry_run_and_stop_a_real_run_before_any_job(workflow):
    # the demo config with its data "filled in" wrongly: no generator, a data.root that does not exist
    cfg = yaml.safe_load((workflow / "config" / "config.yaml").read_text())
    cfg["name"] = "missing"
    cfg["data"].update(generate_demo=False, root="/nonexistent/datasets", cifar10="cifar")
    (workflow / "missing.yaml").write_text(yaml.safe_dump(cfg))
    config = "missing.yaml"
    r = snakemake(workflow, "-n", MODEL, "results/missing/eval/transfer_cifar10/EDIT-T/seed0.json",
                  "--configfile", config)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]                     # people plan before they fill in paths
    assert job_stats(out) == {"pretrain_in1k": 1, "transfer": 1, "evaluate": 1, "total": 3}
    warning = out.split("Warning: ", 1)[1]
    assert warning.startswith("2 data path(s) of config 'missing' that planned jobs read do not exist")
    assert "  data.imagenet1k: /nonexistent/datasets/imagenet1k (read by 1 pretrain_in1k job)" in warning
    assert "  data.cifar10: /nonexistent/datasets/cifar (read by 1 evaluate, 1 transfer jobs)" in warning
    assert out.count("Warning: ") == 1 and "data.ade20k" not in out   # one warning, only what the plan reads

    r = snakemake(workflow, MODEL, "--cores", "1", "--configfile", config)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "  data.imagenet1k: /nonexistent/datasets/imagenet1k (read by 1 pretrain_in1k job)" in out
    assert "No job was started" in out and "data.cifar10" not in out   # only what this run's jobs read
    assert "rule pretrain_in1k:" not in out                            # no job was submitted ...
    assert not (workflow / "results").exists() and not (workflow / "logs").exists()   # ... nor wrote anything


def _plan(workflow, *args, **changes):
    """A dry run of one job (each job of the plan is checked as it is planned)."""
    r = snakemake(workflow, "-n", "results/demo/runs/in1k_224/EDIT-T/seed0/model.pth", *args, "--configfile",
                  write_config(workflow, "c", **changes))
    return r.returncode, r.stdout + r.stderr


def test_a_batch_that_does_not_split_over_a_rules_devices_fails_the_dry_run(workflow):
    # 40 images per step (the demo's in1k_pretrain) in per-device batches of 16: no integer accumulation
    code, out = _plan(workflow, **{"compute.per_device_batch": 16})
    assert code != 0 and "Job stats" not in out
    assert ("recipes.in1k_pretrain (batch_size 40) cannot run on the 1 device(s) of this job (resources "
            "gpu=0) with compute.per_device_batch 16") in out
    assert "choose a per_device_batch that divides 40 (batch_size / devices): 1, 2, 4, 5, 8, 10, 20, 40" in out
    # three GPUs for pretrain_in1k (the profile's set-resources): 40 does not split over 3 processes
    code, out = _plan(workflow, "--set-resources", "pretrain_in1k:gpu=3")
    assert code != 0 and "cannot run on the 3 device(s) of this job (resources gpu=3)" in out
    assert "no per_device_batch works on 3 devices" in out
    divisors = ", ".join(str(d) for d in range(1, 41) if 40 % d == 0)
    assert f"run on a number of devices that divides it ({divisors})" in out
    # two GPUs with per-device batches of 4: 4 x 2 x 5 steps = 40 plans (and 4 fits every other demo recipe on one)
    code, out = _plan(workflow, "--set-resources", "pretrain_in1k:gpu=2", **{"compute.per_device_batch": 4})
    assert code == 0, out[-3000:]
    # only the jobs of the targets are checked: a rule that this plan does not run may ask for devices its recipe's
    # batch does not split over (the demo's RetinaNet batch of 4 on 3 GPUs) without failing it
    code, out = _plan(workflow, "--set-resources", "detect:gpu=3")
    assert code == 0, out[-3000:]
    r = snakemake(workflow, "-n", "reproduce_lavit", "--set-resources", "detect:gpu=3")
    assert r.returncode != 0 and "recipes.retinanet_1x (batch_size 4) cannot run on the 3 device(s)" in r.stdout + r.stderr


def test_yaml_1_2_numbers_in_a_configs_set_and_a_broken_recipe_file(workflow):
    # `lr: 2e-3` as a user writes it (Snakemake's YAML 1.1 loader reads the string '2e-3'): the number 0.002
    text = (workflow / "config" / "config.yaml").read_text()
    line = "in1k_pretrain: {preset: in1k_pretrain, set: {epochs: 8, batch_size: 40, warmup_epochs: 1, lr: 2.0e-3}}"
    assert line in text
    (workflow / "e.yaml").write_text(text.replace(line, line.replace("lr: 2.0e-3", "lr: 2e-3")))
    r = snakemake(workflow, "-n", "-p", "results/demo/runs/in1k_224/EDIT-T/seed0/model.pth", "--configfile", "e.yaml")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"--set lr=0\.002 ", out)             # what --set lr=2e-3 gives on the command line

    preset = workflow / "config" / "recipes" / "in1k_pretrain.yaml"
    lines = preset.read_text().splitlines()
    n = lines.index("min_lr: 1.0e-5")
    lines[n] = "min_lr: [1.0e-5"                              # an unclosed list, which the next line's `key:` ends
    preset.write_text("\n".join(lines) + "\n")
    code, out = _plan(workflow)
    assert code != 0
    assert (f"recipes.in1k_pretrain: config/recipes/in1k_pretrain.yaml: not valid YAML: line {n + 2}, column "
            in out), out[-2000:]
    assert f"while parsing a flow sequence from line {n + 1}" in out
