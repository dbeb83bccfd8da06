import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from editrepro.provenance import project_root

REPO = project_root(Path(__file__).parent)


@pytest.fixture
def workflow(tmp_path, monkeypatch):
    """A copy of the workflow (Snakefile, rules, configs) to run in, so tests never write into the repo."""
    work = tmp_path / "wf"
    work.mkdir()
    shutil.copy(REPO / "Snakefile", work)
    shutil.copytree(REPO / "workflow", work / "workflow")
    shutil.copytree(REPO / "config", work / "config")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return work


def snakemake(work: Path, *args: str, timeout: int = 600, env=None) -> subprocess.CompletedProcess:
    """Run snakemake in ``work``; targets go first (--configfile takes several files)."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=work, capture_output=True, text=True,
                          timeout=timeout, env=env)


def job_stats(output: str) -> dict:
    """The 'Job stats' table of a snakemake run or dry run."""
    lines = output.split("Job stats:", 1)[1].splitlines()[3:]
    stats = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


def write_config(work: Path, name: str, **changes) -> str:
    """The demo config with ``changes`` (dotted keys -> values), written as ``<name>.yaml`` in ``work``."""
    import yaml

    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    for dotted, value in changes.items():
        node = cfg
        *path, last = dotted.split(".")
        for key in path:
            node = node[key]
        node[last] = value
    (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return f"{name}.yaml"
