"""The papers' ablations as two tables (issue 25), end to end in the suite's shared demo run: each variant trained
with its change (its checkpoint's record says so) by its full model's recipe, evaluated, paired with the full
model's own run of the same seed, and on its page with the difference read back from the evaluations."""
import json

import torch


def page_row(page: str, label: str) -> list:
    line = next(line for line in page.splitlines() if line.startswith(f"| {label} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_ablation_tables_train_each_variant_and_pair_it_with_its_full_model(shared_run):
    assert shared_run.result.returncode == 0, shared_run.out[-3000:]
    results, reports = shared_run.work / "results/shared", shared_run.work / "reports"

    # EDIT-T with W_q and W_o in its decoder: the Table 3a recipe, the variant's argument in its checkpoint
    state = torch.load(results / "runs/edit_ablation/qo_proj/seed0/model.pth", map_location="cpu", weights_only=True)
    assert state["model_record"]["arch"] == "edit_tiny_patch16_224"
    assert {"decoder_qo_proj": True, "depth": 1}.items() <= state["model_record"]["kwargs"].items()
    full_state = torch.load(results / "runs/in1k_224/EDIT-T/seed0/model.pth", map_location="cpu", weights_only=True)
    assert set(state["model"]) - set(full_state["model"]) == {"decoder.q.weight", "decoder.proj.weight"}
    full = json.loads((results / "eval/in1k_224/EDIT-T/seed0.json").read_text())
    variant = json.loads((results / "eval/edit_ablation/qo_proj/seed0.json").read_text())
    assert variant["tags"]["ablates"] == "EDIT-T" and variant["tags"]["table"] == "edit_ablation"
    page = (reports / "edit_ablation.md").read_text()
    assert page_row(page, "EDIT-T (full model)")[1] == f"{full['top1']:.2f}"
    row = page_row(page, "qo_proj (decoder_qo_proj=true)")
    assert row[1:5] == [f"{variant['top1']:.2f}", "1", f"{variant['top1'] - full['top1']:.2f}", "-"]
    assert row[5] == "one seed: cannot tell from noise"
    assert "![edit_ablation_deltas.png](figures/edit_ablation_deltas.png)" in page     # its figure, drawn
    assert (reports / "figures/edit_ablation_deltas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # LaViT-T without the DP loss: a recipe setting, so the same model trained by lavit_in1k with dp_loss_weight 0
    for run, weight in (("lavit_ablation/no_dp_loss", 0.0), ("lavit_224/LaViT-T", 0.1)):
        recipe = torch.load(results / f"runs/{run}/seed0/model.pth", map_location="cpu",
                            weights_only=True)["config"]["recipe"]
        assert (recipe["name"], recipe["dp_loss_weight"]) == ("lavit_in1k", weight), run
    full = json.loads((results / "eval/lavit_224/LaViT-T/seed0.json").read_text())
    variant = json.loads((results / "eval/lavit_ablation/no_dp_loss/seed0.json").read_text())
    page = (reports / "lavit_ablation.md").read_text()
    assert page_row(page, "no_dp_loss (dp_loss_weight=0.0)")[3] == f"{variant['top1'] - full['top1']:.2f}"
