"""reports/attention_sink.md and reports/calibration.md from the commands' JSON, without torch."""
import json
import subprocess
import sys

import pytest

from editrepro.cli import main


def summary(label, model, source, ratios, sink_view="encoder", dec=None, path=None):
    has_cls = sink_view == "encoder"
    n = len(ratios if has_cls else dec)
    per_layer = {"cls_ratio": ratios if has_cls else [None] * n, "sink_ratio": ratios if has_cls else [None] * n,
                 "prefix_share": [0.3] * n, "top_share": [0.3] * n, "similarity": [None] + [0.5] * (n - 1)}
    if dec:
        per_layer.update(dec_self=[0.5] * n, dec_patch=[0.1] * n, dec_ratio=dec)
    return {"label": label, "model": model, "source": source, "path": path, "images": 8,
            "prefix_tokens": 1 if has_cls else 0, "has_cls": has_cls, "sink_view": sink_view,
            "sink_score": sum(ratios if has_cls else dec) / n, "saturation": 0.5, "per_layer": per_layer,
            "csv": "attention_sink.csv", "figures": {"fig1a": "fig1a_attention_sink.png",
                                                     "fig1b": "fig1b_attention_corners.png",
                                                     "saturation": "attention_saturation.png"}}


def write(tmp_path, s):
    folder = tmp_path / "reports" / "attention" / s["label"]
    folder.mkdir(parents=True)
    (folder / "attention_sink.json").write_text(json.dumps(s))
    return str(folder / "attention_sink.json")


def test_the_page_states_the_claim_per_deit3_layer(tmp_path):
    files = [write(tmp_path, summary("DeiT3-S-timm", "deit3_small_patch16_224.fb_in1k", "pretrained",
                                     [2.0, 12.0, 15.0, 30.0])),
             write(tmp_path, summary("DeiT3-B-timm", "deit3_base_patch16_224.fb_in1k", "pretrained",
                                     [11.0, 12.0, 15.0, 30.0])),
             write(tmp_path, summary("EDIT-S", "edit_small_patch16_224", "weights", [], sink_view="decoder",
                                     dec=[1.0, 3.0], path="results/paper/runs/in1k_224/EDIT-S/seed0/model.pth"))]
    out = tmp_path / "reports" / "attention_sink.md"
    assert main(["attention-report", "--sink", *files, "--config",
                 json.dumps({"name": "paper", "comparable_to_paper": True}), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("# Attention sink and saturation, per model") and "Not comparable" not in page
    assert "| DeiT3-S-timm " in page and "| 14.75 " in page and "3 of 4 (most layers)" in page
    assert "4 of 4 (every layer)" in page
    assert "[Fig. 1a](attention/DeiT3-S-timm/fig1a_attention_sink.png)" in page
    assert "[CSV](attention/EDIT-S/attention_sink.csv)" in page
    assert "- **DeiT3-S-timm** (timm `deit3_small_patch16_224.fb_in1k`, pretrained): [CLS]'s ratio exceeds 10 " \
           "in most layers (3 of 4); it ranges from 2.0 to 30.0." in page
    assert "- **DeiT3-B-timm** (timm `deit3_base_patch16_224.fb_in1k`, pretrained): [CLS]'s ratio exceeds 10 " \
           "in every layer" in page
    assert "| DeiT3-S-timm | 2.0  | 12.0 | 15.0 | 30.0 | most layers   |" in page
    assert "## EDIT: the decoder's view and the encoder's" in page
    assert "| EDIT-S  | decoder: own state / patch |" in page
    assert "| EDIT-S " in page and "| EDIT decoder " in page and "no [CLS] in the encoder" in page


def test_the_calibration_page_puts_published_beside_measured(tmp_path):
    e = tmp_path / "DeiT3-S-timm.json"
    e.write_text(json.dumps({"model": "deit3_small_patch16_224.fb_in1k", "top1": 81.3, "n": 50000,
                             "weights": "deit3_small_patch16_224.fb_in1k, timm's pretrained weights",
                             "data_config": {"input_size": [3, 224, 224], "crop_pct": 0.9},
                             "tags": {"name": "DeiT3-S-timm"}}))
    out = tmp_path / "calibration.md"
    assert main(["attention-report", "--calibration", str(e), "--published", "DeiT3-S-timm=81.37",
                 "--config", json.dumps({"name": "paper", "comparable_to_paper": True}), "--out", str(out)]) == 0
    page = out.read_text()
    assert "| DeiT3-S-timm " in page and "| 81.30 " in page and "| 81.37 " in page and "| -0.07 " in page
    assert "224 px, 0.9" in page and "results-imagenet.csv" in page
    assert main(["attention-report", "--calibration", str(e), "--published", "oops", "--out", str(out)]) == 2


@pytest.mark.parametrize("argv", [["attention-report", "--help"], ["attention-sink", "--help"],
                                  ["attention-saturation", "--help"], ["timm-weights", "--help"], ["--help"]])
def test_the_new_commands_leave_the_command_line_light(argv):
    probe = ("import sys\nsys.argv = ['editrepro', *%r]\nfrom editrepro.cli import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nprint('HEAVY:' + ','.join(m for m in ('torch', 'timm', 'torchvision') "
             "if m in sys.modules))\n" % (argv,))
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage: editrepro" in r.stdout and r.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_the_report_command_runs_without_torch(tmp_path):
    file = write(tmp_path, summary("DeiT3-T", "deit3_ref_tiny_patch16_224", "weights", [1.0, 2.0], path="m.pth"))
    probe = ("import sys\nfrom editrepro.cli import main\nassert main(%r) == 0\n"
             "print('HEAVY:' + ','.join(m for m in ('torch', 'timm') if m in sys.modules))\n"
             % (["attention-report", "--sink", file, "--out", str(tmp_path / "a.md")],))
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "HEAVY:"
