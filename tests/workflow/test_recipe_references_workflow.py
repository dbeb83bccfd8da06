"""The report rule hands the recipe section what the config sets: its recipes (preset and set) and compute.amp,
so a user's change of the precision or of the scheduler stepping shows up in reports/report.md."""
import json
import shlex

from conftest import snakemake, write_config

from editrepro.reporting.recipe_references import render_recipe_references


def report_config(out: str) -> dict:
    """The --config JSON of the `editrepro report --table all` command a dry run prints."""
    line = next(li for li in out.splitlines() if "editrepro report --table all" in li)
    words = shlex.split(line)
    return json.loads(words[words.index("--config") + 1])


def test_report_rule_passes_the_configured_recipes_and_precision(workflow):
    cfg = write_config(workflow, "changed", **{"compute.amp": "bf16",
                                               "recipes.in1k_pretrain.set.sched_step": "timm"})
    r = snakemake(workflow, "-n", "-p", "reports/report.md", "--configfile", cfg)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    passed = report_config(out)
    assert passed["compute"] == {"amp": "bf16"}
    assert passed["recipes"]["in1k_pretrain"]["set"]["sched_step"] == "timm"
    text = render_recipe_references(passed)
    assert "`compute.amp: bf16`" in text and "loss scaler: **departs**" in text
    assert "`sched_step: timm`, **departs** from the reference" in text
    # the other recipes keep the reference's stepping
    assert text.count("`sched_step: reference`, as the reference") == text.count("scheduler stepping:") - 1
