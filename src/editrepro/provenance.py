"""Where a result came from: the project's root, the git commit of the code, the software it ran on."""
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Optional

__all__ = ["project_root", "git_commit", "environment_report"]

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
    """``HEAD``'s hash, with ``-dirty`` if tracked files changed; ``unknown`` outside a checkout.

    Untracked files (a job's output folder such as ``runs/``, notes, data) do not make it dirty: only a change
    to a file the commit holds does.
    """
    cwd = str(root or project_root())
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def environment_report() -> str:
    """The exact software a job ran on: Python, torch (CUDA, cuDNN, GPUs), timm, and every installed
    distribution as ``name==version`` (what ``pip freeze`` lists, read in-process)."""
    from importlib import metadata

    import timm
    import torch

    lines = [f"python {sys.version.split()[0]} ({platform.platform()})", f"torch {torch.__version__}",
             f"cuda {torch.version.cuda or 'none'}, cudnn {torch.backends.cudnn.version() or 'none'}",
             f"timm {timm.__version__}"]
    if torch.cuda.is_available():
        lines += [f"gpu {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    dists = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]},
                   key=str.lower)
    return "\n".join(lines + ["", "# installed distributions"] + dists) + "\n"
