"""requirements.lock, the exact versions CI and the README install, against pyproject.toml's ranges: a
dependency added to pyproject, or a range moved past the pinned version, fails here until the lock is
regenerated (the command is in the lock's header)."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def pins() -> dict:
    out = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)(?:\s*;.*)?", line)
            assert m, f"requirements.lock: {line!r} is not an exact pin (name==version)"
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def test_every_dependency_is_pinned_inside_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    locked = pins()
    missing = [str(r) for r in required if canonicalize_name(r.name) not in locked]
    assert not missing, f"pyproject.toml requires {missing}, absent from requirements.lock: regenerate it"
    outside = [f"{r} (locked {locked[canonicalize_name(r.name)]})" for r in required
               if not r.specifier.contains(locked[canonicalize_name(r.name)], prereleases=True)]
    assert not outside, f"requirements.lock pins versions outside pyproject.toml's ranges: {outside}"


def test_ci_and_the_readme_install_from_the_lock():
    assert "-r requirements.lock" in (REPO / ".ci/run").read_text()
    quickstart = (REPO / "README.md").read_text().split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line for line in quickstart.splitlines() if line.strip() and not line.startswith("bash")]
    assert len(commands) == 2 and all("pip install -r requirements.lock" in c for c in commands), commands
