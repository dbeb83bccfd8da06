"""Training state on disk: written atomically, loadable with ``torch.load(weights_only=True)``.

``checkpoint.pth`` (latest state, overwritten each epoch and on preemption) holds the model,
optimizer, scaler and EMA state_dicts, the position (epoch, step within it), the MLflow
run id, the epoch history and the RNG states, plus the resolved config as plain data. The
scheduler needs no state: it is a function of the epoch. ``model.pth`` is what downstream
jobs load: weights (and EMA weights) with the config.
"""
import random
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from ..fileio import atomic_path

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
    """Write ``state`` to ``path`` atomically: a crash leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: Union[str, Path], map_location: Optional[Union[str, torch.device]] = "cpu") -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)
