"""Short commands start without torch: ``import editrepro`` and the command line's parser are light, so a
report or a cleaning job does not pay the seconds of ``import torch`` on every start."""
import subprocess
import sys

import pytest

PROBE = """
import sys
sys.argv = ["editrepro", *{argv!r}]
from editrepro.cli import main
try:
    main()
except SystemExit:
    pass
print("HEAVY:" + ",".join(m for m in ("torch", "timm", "torchvision") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["report", "--help"], ["clean-in21k", "--help"], ["aggregate", "--help"],
                                  ["cost", "--help"]])
def test_help_of_a_short_command_leaves_torch_unimported(argv):
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage: editrepro" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "HEAVY:", r.stdout[-500:]


def test_models_still_register_with_timm():
    code = ("import timm, editrepro, sys; assert timm.is_model('edit_small_patch16_224'), 'timm first'\n"
            "import editrepro.models; assert timm.is_model('lavit_small_224')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_imagenet21k_cleaning_runs_without_torch(demo, tmp_path):
    argv = ["clean-in21k", "--root", str(demo["imagenet21k"]), "--out", str(tmp_path / "out"), "--min-images", "20",
            "--val-per-class", "2", "--no-progress"]
    probe = PROBE.replace("    main()\n", "    assert main() == 0\n")
    r = subprocess.run([sys.executable, "-c", probe.format(argv=argv)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out" / "train.parquet").is_file()
    assert r.stdout.strip().splitlines()[-1] == "HEAVY:", r.stdout[-500:]
