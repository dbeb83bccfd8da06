"""Snakemake's linter finds nothing to say about the workflow, and every rule's conda environment builds from
the lock: the paths of its pip section reach requirements.lock and the package from where conda reads them."""
import json
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, snakemake

# `snakemake --lint json` prints the text lints in Snakemake 9 (the CLI does not pass the format on), so the
# JSON comes from the API's lint(json=True), which the CLI's --lint calls.
LINT_JSON = """
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    api.workflow(resource_settings=ResourceSettings(), snakefile=Path("Snakefile"), workdir=Path.cwd(),
                 config_settings=ConfigSettings(configfiles=[Path(f) for f in sys.argv[1:]])).lint(json=True)
"""


def test_snakemake_lint_reports_nothing(workflow):
    r = snakemake(workflow, "--lint", timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Lints for" not in out, out
    assert "Congratulations, your workflow is in a good condition!" in out


@pytest.mark.parametrize("configfile", [None, "config/paper.yaml"])
def test_snakemake_lint_json_is_empty_for_both_configs(workflow, configfile):
    # some lints depend on the config (a param that is a prefix of an input, say): the paper's too
    args = [configfile] if configfile else []
    r = subprocess.run([sys.executable, "-c", LINT_JSON, *args], cwd=workflow, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    lints = json.loads(r.stdout[r.stdout.index("{"):])
    found = [f"{item['for']}: {lint['title']}" for kind in ("snakefiles", "rules") for item in lints[kind]
             for lint in item["lints"]]
    assert lints == {"snakefiles": [], "rules": []}, "\n".join(found)


def test_every_rule_runs_in_the_one_environment():
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert 'ENV = "../envs/editrepro.yaml"' in common      # relative to the rule files
    assert (REPO / "workflow/rules/../envs/editrepro.yaml").resolve() == REPO / "workflow/envs/editrepro.yaml"
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        text = smk.read_text()
        assert text.count("\n    conda:\n        ENV\n") == text.count("\n    shell:\n"), smk.name


def test_the_environment_installs_the_lock_from_where_conda_reads_it():
    """conda runs pip in the folder of the environment file it is given: workflow/envs/ for `conda env create
    -f`, and .snakemake/conda/ for Snakemake (it copies the file to <conda-prefix>/<hash>.yaml, the prefix
    .snakemake/conda of the working directory, the repository root). Both are two folders down."""
    env = yaml.safe_load((REPO / "workflow/envs/editrepro.yaml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    header = [line for line in (REPO / "requirements.lock").read_text().splitlines() if line.startswith("#")]
    assert any("--python-version 3.11" in line for line in header), header   # the Python it was locked for
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    lock = [line.split(None, 1)[1] for line in pip if line.startswith("-r ")]
    package = [line.split(None, 1)[1] for line in pip if line.startswith("-e ")]
    assert len(lock) == 1 and len(package) == 1, pip
    for folder in (REPO / "workflow/envs", REPO / ".snakemake/conda"):
        assert (folder / lock[0]).resolve() == REPO / "requirements.lock", folder
        assert (folder / package[0]).resolve() == REPO and (REPO / "pyproject.toml").is_file(), folder


def test_the_readme_says_how_the_environment_is_built():
    readme = (REPO / "README.md").read_text()
    assert "--software-deployment-method conda" in readme and "workflow/envs/editrepro.yaml" in readme
