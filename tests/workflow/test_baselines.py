"""tables.table3.baselines: DeiT III's own recipes planned as rows of their own, without touching the paper's jobs."""
import json
import re

import yaml
from conftest import job_stats, snakemake, write_config


def _paper(workflow, name, **table3):
    cfg = yaml.safe_load((workflow / "config" / "paper.yaml").read_text())
    cfg["tables"]["table3"].update(table3)
    (workflow / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return f"{name}.yaml"


def _commands(out):
    """The planned shell commands (`-p`: "Shell command: editrepro ...")."""
    return {line.strip().removeprefix("Shell command:").strip() for line in out.splitlines()
            if line.strip().removeprefix("Shell command:").strip().startswith("editrepro ")}


def test_the_paper_matrix_plans_deit3s_own_recipes(workflow):
    r = snakemake(workflow, "-n", "-p", "all", "--configfile", _paper(workflow, "official",
                                                                      baselines=["paper", "deit3_official"]))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    stats = job_stats(out)
    # half (a) at 224: T and S one pretraining each, B 192 px then 224; half (b): S and B a 21k pretraining, 224, 384
    assert stats["train_deit3_official"] == 1 + 1 + 2 + 2 * 3
    assert stats["evaluate"] == 6 + 8 + 6 + 10 + 4 + 8 + 4 + (3 + 4)
    cmds = _commands(out)
    train = {re.search(r"--output (\S+)", c).group(1): c for c in cmds if c.startswith("editrepro train")}
    b192 = train["results/paper/runs/in1k_official_192/DeiT3-B/seed0"]
    assert "--img-size 192 " in b192 and "deit3_official_in1k_base.yaml" in b192 and "--init-checkpoint" not in b192
    b224 = train["results/paper/runs/in1k_official_224/DeiT3-B/seed0"]
    assert "--img-size 224 " in b224 and "deit3_official_in1k_base_ft224.yaml" in b224
    assert "--init-checkpoint results/paper/runs/in1k_official_192/DeiT3-B/seed0/model.pth " in b224
    s224 = train["results/paper/runs/in1k_official_224/DeiT3-S/seed0"]
    assert "deit3_official_in1k_small.yaml" in s224 and "--init-checkpoint" not in s224
    t224 = train["results/paper/runs/in1k_official_224/DeiT3-T/seed0"]
    assert "deit3_official_in1k_small.yaml" in t224                       # Tiny: Small's recipe
    ft = train["results/paper/runs/in21k_official_384/DeiT3-B/seed0"]
    assert "--dataset imagenet1k " in ft and "--img-size 384 " in ft and "deit3_official_in21k_ft.yaml" in ft
    assert "--init-checkpoint results/paper/runs/in21k_official_pretrain/DeiT3-B/seed0/model.pth " in ft
    assert "--dataset imagenet21k " in train["results/paper/runs/in21k_official_pretrain/DeiT3-S/seed0"]
    assert not any("official" in run for run in train if "/EDIT-" in run)   # only DeiT3 models
    ev = next(c for c in cmds if "--out results/paper/eval/in1k_official_224/DeiT3-B/seed0.json" in c)
    assert "--tag 'row=DeiT3-B (official recipe)' " in ev and "--tag half=a " in ev and "--tag resolution=224 " in ev

    # with baselines [paper] (the default) the same config plans exactly the jobs it always did: every one of them
    # is planned, byte for byte, beside the official recipes' (the aggregation of Table 3 and what reads it aside)
    plain = snakemake(workflow, "-n", "-p", "all", "--configfile", _paper(workflow, "plain", baselines=["paper"]))
    assert plain.returncode == 0, plain.stderr[-3000:]
    before = {c for c in _commands(plain.stdout + plain.stderr) if "table3" not in c.split("--evals")[0]
              and not c.startswith(("editrepro aggregate --table all", "editrepro report", "editrepro cost"))}
    assert before <= cmds
    assert "official" not in plain.stdout + plain.stderr


def test_the_demo_runs_the_official_recipe_for_its_tiny(workflow):
    r = snakemake(workflow, "-n", "-p", "reproduce_table3")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert job_stats(out)["train_deit3_official"] == 2                  # DeiT3-T, seeds 0 and 1 of half (a)
    cmds = [c for c in _commands(out) if "in1k_official_224/DeiT3-T/seed1" in c and c.startswith("editrepro train")]
    assert len(cmds) == 1 and "--set epochs=8 " in cmds[0] and "--img-size 32 " in cmds[0]


def test_bad_baselines_fail_at_planning_naming_the_key(workflow):
    r = snakemake(workflow, "-n", "reproduce_table3", "--configfile",
                  write_config(workflow, "bad", **{"tables.table3.baselines": ["paper", "deit3_readme"]}))
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Job stats" not in out
    assert "'deit3_readme' is not one of ['paper', 'deit3_official']" in out and "'baselines'" in out
    r = snakemake(workflow, "-n", "reproduce_table3", "--configfile",
                  write_config(workflow, "nopaper", **{"tables.table3.in1k.baselines": ["deit3_official"]}))
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "tables.table3.in1k.baselines: ['deit3_official'] leaves out 'paper'" in out
    cfg = yaml.safe_load((workflow / "config" / "paper.yaml").read_text())
    cfg["tables"]["table3"]["baselines"] = ["paper", "deit3_official"]
    del cfg["resolutions"]["192"]
    (workflow / "no192.yaml").write_text(yaml.safe_dump(cfg))
    r = snakemake(workflow, "-n", "all", "--configfile", "no192.yaml")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "resolutions['192'] is missing" in out and "DeiT3-B" in out
    assert "Traceback" not in out


def test_the_official_row_reaches_the_table3_report(shared_run):
    """The demo's official-recipe path end to end, reduced (depth 1, one epoch; the suite's `shared_run`): DeiT3-T by
    DeiT III's own recipe is trained, evaluated, collected as its own row of reports/table3.md and paired with
    EDIT-T; DeiT III's published rows are cited and every EDIT claim is stated against them."""
    workflow = shared_run.work
    assert shared_run.result.returncode == 0, shared_run.out[-3000:]
    page = (workflow / "reports" / "table3.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| DeiT3-T (official recipe) "))
    assert "| 224² " in row and "| demo " in row          # not comparable: demo data
    evaluation = json.loads((workflow / "results/shared/eval/in1k_official_224/DeiT3-T/seed0.json").read_text())
    assert f"{evaluation['top1']:.2f}" in row
    metrics = json.loads((workflow / "results/shared/runs/in1k_official_224/DeiT3-T/seed0/metrics.json").read_text())
    assert metrics["recipe"] == "deit3_official_in1k_small" and metrics["epochs"] == 1
    assert "**EDIT-T vs DeiT3-T (official recipe)** (Table 3a, 224², top1): no published DeiT III value here" in page
    assert "| DeiT III-B (published) | 224² " in page
    assert "EDIT-B 83.7 against DeiT III's own 83.8: no gain (-0.1)" in page
