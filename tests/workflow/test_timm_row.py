"""Any timm classifier as a row of Table 3 with a plain config entry (issue 25): a ViT with registers, not one of
this package's models, trained by the paper's recipe (whose LayerScale it takes), evaluated from the record its
checkpoint carries, and reported with its paired comparison against EDIT of its size."""
import json

import yaml


def test_a_plain_timm_model_is_a_row_of_table3_with_its_paired_comparison(shared_run):
    # the suite's shared run has `ViTReg-T: {arch: vit_tiny_patch16_224, args: {depth: 1, reg_tokens: 4}}` in
    # models: and in tables.table3.in1k.models beside EDIT-T, a plain config entry
    workflow = shared_run.work
    assert shared_run.result.returncode == 0, shared_run.out[-3000:]
    assert shared_run.cfg["models"]["ViTReg-T"]["arch"] == "vit_tiny_patch16_224"

    results = workflow / "results" / "shared"
    # trained with the recipe's LayerScale (what evaluation used to leave out), and the checkpoint says so
    import torch

    state = torch.load(results / "runs/in1k_224/ViTReg-T/seed0/model.pth", map_location="cpu", weights_only=True)
    layer_scale = yaml.safe_load((workflow / "config/recipes/in1k_pretrain.yaml").read_text())["layer_scale"]
    assert layer_scale is not None and "blocks.0.ls1.gamma" in state["model"]
    assert state["model_record"]["arch"] == "vit_tiny_patch16_224" and state["model_record"]["img_size"] == 32
    assert {"init_values": layer_scale, "depth": 1, "reg_tokens": 4}.items() <= state["model_record"]["kwargs"].items()

    vit = json.loads((results / "eval/in1k_224/ViTReg-T/seed0.json").read_text())
    edit = json.loads((results / "eval/in1k_224/EDIT-T/seed0.json").read_text())
    assert vit["model"] == "vit_tiny_patch16_224" and vit["tags"]["row"] == "ViTReg-T"
    page = (workflow / "reports" / "table3.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| ViTReg-T "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "224²" and cells[5] == f"{vit['top1']:.2f}" and cells[7] == "demo"
    assert f"| {vit['top1_v2']:.2f} " in row and f"| {vit['top1_real']:.2f} " in row
    assert f"| {vit['run_id'][:8]} " in row                            # its own MLflow run
    gain = edit["top1"] - vit["top1"]
    assert (f"- **EDIT-T vs ViTReg-T** (Table 3a, 224², top1): the paper prints no pair; reproduced {gain:+.2f} on "
            "seed 0: one seed, a gain cannot be told from noise (demo data: says nothing about the paper).") in page
