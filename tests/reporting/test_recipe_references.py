"""The report's "Recipes against their references": the data file, the configured precision and scheduler
stepping against the references', a config's set: listed apart, and the section inside reports/report.md."""
import json
import re

import pytest
import yaml

from editrepro.tables import TABLES
from editrepro.provenance import project_root
from editrepro.reporting.recipe_references import load_references, render_recipe_references
from editrepro.schema import ConfigError

ROOT = project_root()
DEMO = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
MINE = ["in1k_pretrain", "in21k_pretrain", "finetune_in1k_from_in21k", "finetune_384", "transfer", "lavit_in1k",
        "segmenter_ade20k", "semantic_fpn_ade20k", "upernet_ade20k", "retinanet_1x", "retinanet_3x"]


def recipe_block(text, name):
    """The lines of one recipe's subsection."""
    return text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]


def total(text):
    return int(re.search(r"(\d+) departures in all", text).group(1))


def test_every_preset_has_its_reference_and_every_citation_resolves():
    data = load_references()
    assert set(MINE) <= set(data["recipes"])
    for name in MINE:
        assert (ROOT / "config" / "recipes" / f"{name}.yaml").is_file(), name
        assert data["recipes"][name]["cite"], name
    assert data["defaults"]["amp"]["reference"] == "fp16"
    assert data["defaults"]["sched_step"]["reference"] == "reference"
    assert all(isinstance(s["commit"], str) for s in data["sources"].values())


def test_the_paper_config_at_its_reference_precision():
    cfg = {"recipes": PAPER["recipes"], "compute": {"amp": PAPER["compute"]["amp"]}}
    text = render_recipe_references(cfg)
    assert text.startswith("## Recipes against their references")
    assert "`compute.amp: fp16`" in text and "the references trained in fp16 with a loss scaler: as the references" in text
    block = recipe_block(text, "in1k_pretrain")
    assert "`sched_step: reference`, as the reference" in block
    assert "`lamb_max_grad_norm: 1.0`, as apex FusedLAMB" in block
    assert "main.py` @ b001f95: L416-428: lr_scheduler.step(epoch) after train_one_epoch" in block
    assert "drop path 0.0 for DeiT3-T as for EDIT-T" in block and "set:" not in block     # the paper scales nothing
    transfer = recipe_block(text, "transfer")
    assert "Gradient Clip x" in transfer and "`lamb_max_grad_norm: 1.0`" in transfer
    lavit = recipe_block(text, "lavit_in1k")
    assert "pvt_v2_b{1,2,3}.py" in lavit and "b3 0.3 1.0" in lavit and "scheduler stepping" in lavit
    seg = recipe_block(text, "segment")
    assert "(preset `segmenter_ade20k`)" in text and "scheduler stepping" not in seg   # per-iteration schedules
    # the departures counted: one line each, plus none for the precision and the stepping here
    assert total(text) == text.count("- departure: ")


def test_a_users_change_shows_up():
    recipes = json.loads(json.dumps(DEMO["recipes"]))
    base = render_recipe_references({"recipes": recipes, "compute": {"amp": "fp16"}})
    recipes["in1k_pretrain"]["set"]["sched_step"] = "timm"
    recipes["transfer"]["set"]["lamb_max_grad_norm"] = None
    changed = render_recipe_references({"recipes": recipes, "compute": {"amp": "bf16"}})
    assert "`compute.amp: bf16`" in changed and "loss scaler: **departs**" in changed
    block = recipe_block(changed, "in1k_pretrain")
    assert "`sched_step: timm`, **departs** from the reference" in block
    # the demo's shortening is listed as scaling, the stepping is not listed among it
    assert "scaling, not a departure): `epochs: 8`, `batch_size: 40`, `warmup_epochs: 1`, `lr: 0.002`" in block
    assert "sched_step: timm`," not in block.split("scaling, not a departure")[1]
    assert "`lamb_max_grad_norm: None`, **departs** from apex FusedLAMB's 1.0" in recipe_block(changed, "transfer")
    assert total(changed) == total(base) + 3                      # amp, the stepping, the LAMB clip
    assert "`lr_batch: null`" in recipe_block(base, "lavit_in1k")  # the demo's unscaled lr, listed as its set


def test_a_preset_without_an_entry_says_so():
    text = render_recipe_references({"recipes": {"mine": {"preset": "in1k_pretrain"}, "other": {"preset": "nope"}},
                                     "compute": {"amp": "fp16"}})
    assert "### `mine` (preset `in1k_pretrain`)" in text
    assert "No entry for preset `nope` in `config/recipe_references.yaml`" in text


def test_data_file_errors_name_the_key(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "recipe_references.yaml").read_text())
    bad = json.loads(json.dumps(data))
    bad["recipes"]["transfer"]["cite"].append("nowhere")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"r.yaml: recipes.transfer.cite: 'nowhere' is not one of sources"):
        load_references(tmp_path / "r.yaml")
    bad = json.loads(json.dumps(data))
    bad["recipes"]["transfer"]["departures"] = [{"what": "x"}]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"recipes.transfer.departures\[0\]: needs what, reference, why"):
        load_references(tmp_path / "r.yaml")
    text = (ROOT / "config" / "recipe_references.yaml").read_text().replace('commit: "0047173"', "commit: 0047173")
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"sources.pvt_launch.commit: 20091 is not a string: quote it"):
        load_references(tmp_path / "r.yaml")


def test_the_section_is_in_the_report():
    import pandas as pd

    from editrepro.reporting.paper import load_paper_tables
    from editrepro.reporting.report import render_report
    from editrepro.reporting.results import collect_table3

    results = collect_table3([], load_paper_tables(), "paper", comparable=True)
    cfg = {"name": "paper", "comparable_to_paper": True, "recipes": PAPER["recipes"], "compute": {"amp": "fp16"}}
    text = render_report(results, cfg, "# Table 1 x\n", {}, tables=list(TABLES.values()))
    assert "\n## Recipes against their references\n" in text
    assert text.index("## Recipes against their references") < text.index("## Compute")
    assert "### `lavit_in1k`" in text and isinstance(results, pd.DataFrame)
