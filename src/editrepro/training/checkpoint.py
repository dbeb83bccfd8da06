"""Training state on disk: written atomically, loadable with ``torch.load(weights_only=True)``.

``checkpoint.pth`` (latest state, overwritten each epoch and on preemption) holds the model,
optimizer, scaler and EMA state_dicts, the position (epoch, step within it), the MLflow
run id, the epoch history and the RNG states, plus the resolved config as plain data. The
scheduler needs no state: it is a function of the epoch. ``model.pth`` is what downstream
jobs load: weights (and EMA weights) with the config. Both hold ``model_record``, how the model was built
(``tasks.model_record``), which whatever rebuilds the model reads.

Loading goes through :func:`editrepro.torchfiles.load_torch_file` (weights only; an unreadable file is an
error naming it). A write into a full filesystem raises :class:`editrepro.fileio.StorageError` ("no space
left on <folder>"), before writing when the free space is below the previous file's size, and keeps the
previous file.
"""
import random
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from ..fileio import atomic_path, check_free_space
from ..torchfiles import UnreadableTorchFile, load_torch_file

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "CHECKPOINT", "FINAL_WEIGHTS"]

CHECKPOINT = "checkpoint.pth"
FINAL_WEIGHTS = "model.pth"


def rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(tuple(state["python"][:1]) + (tuple(state["python"][1]),) + tuple(state["python"][2:]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Union[str, Path], state: Dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a crash, or a full disk, leaves the previous checkpoint intact.

    The new file is written beside the old one before replacing it: with less free space than the old file
    takes, it cannot fit, and the write is refused before it starts.
    """
    path = Path(path)
    if path.is_file():
        check_free_space(path, path.stat().st_size)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:          # a Python file: a failed write keeps its OSError (ENOSPC) as context
            torch.save(state, f)
    return path


def load_checkpoint(path: Union[str, Path], map_location: Optional[Union[str, torch.device]] = "cpu") -> Dict[str, Any]:
    state = load_torch_file(path, "checkpoint", map_location=map_location)
    if not isinstance(state, dict):
        raise UnreadableTorchFile(f"checkpoint {path} holds a {type(state).__name__}, not the dict of a checkpoint")
    return state
