"""Auxiliary losses a model returns beside its logits (LaViT's diagonality-preserving loss).

A model that has them offers ``forward_aux(x, dp_form) -> (logits, {"dp_loss": ...})``. For
training, ``AuxLossModel`` makes that its ``forward``, so DDP, ``torch.compile`` and gradient
accumulation see one ordinary module call; in eval mode it returns the logits alone. The
engine adds ``weight x loss`` of each auxiliary loss to the task's loss and logs every term.
"""
from typing import Dict, Mapping, Optional, Tuple, Union

import torch
from torch import nn

__all__ = ["AuxLossModel", "split_output", "total_loss"]

Output = Union[torch.Tensor, Tuple[torch.Tensor, Dict[str, torch.Tensor]]]


class AuxLossModel(nn.Module):
    """``model.forward_aux`` in training mode, ``model`` otherwise.

    Args:
        model: A model with ``forward_aux``.
        dp_form: The diagonality-preserving loss form to compute (the recipe's ``dp_loss_form``).
    """

    def __init__(self, model: nn.Module, dp_form: Optional[str] = None):
        super().__init__()
        if not hasattr(model, "forward_aux"):
            raise ValueError(f"{type(model).__name__} returns no auxiliary loss (it has no forward_aux)")
        self.model = model
        self.dp_form = dp_form

    def forward(self, x: torch.Tensor) -> Output:
        return self.model.forward_aux(x, self.dp_form) if self.training else self.model(x)


def split_output(output: Output) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``(logits, auxiliary losses)`` of a model's output (no auxiliary losses for a plain tensor)."""
    if isinstance(output, tuple):
        return output[0], dict(output[1])
    return output, {}


def total_loss(task_loss: torch.Tensor, aux: Mapping[str, torch.Tensor], weights: Mapping[str, float]
               ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``task_loss + sum(weights[k] * aux[k])`` and the terms by name (``task_loss`` and each weighted one)."""
    terms = {k: aux[k] for k in weights if k in aux}
    if not terms:
        return task_loss, {}
    total = task_loss + sum(float(weights[k]) * v.to(task_loss.dtype) for k, v in terms.items())
    return total, {"task_loss": task_loss, **terms}
