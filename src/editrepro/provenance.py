"""Where a result came from: the project's root and the git commit of the code."""
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Optional

__all__ = ["project_root", "git_commit"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root(start: Optional[Path] = None) -> Path:
    """The checkout this package lives in (the folder holding ``config/``), else the working directory."""
    for candidate in (Path.cwd() if start is None else Path(start), _PACKAGE_DIR):
        for folder in (candidate, *candidate.parents):
            if (folder / "config" / "paper_tables.yaml").is_file():
                return folder
    return Path.cwd()


@lru_cache(maxsize=None)
def git_commit(root: Optional[Path] = None) -> str:
    """``HEAD``'s hash, with ``-dirty`` if tracked files changed; ``unknown`` outside a checkout."""
    cwd = str(root or project_root())
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha
