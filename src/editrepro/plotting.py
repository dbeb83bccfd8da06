"""What every figure of the package shares: matplotlib without a display, the families' colours, the layer
axes of per-layer curves and the atomic PNG save.

``editrepro.reporting.figures`` (figures drawn from the pipeline's results), ``editrepro.analysis.plots``
(the attention-sink figures of one model) and ``editrepro.analysis.figures`` (figures that run models) all
draw through it; it imports neither torch nor any of them.
"""
from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .fileio import atomic_path  # noqa: E402

__all__ = ["plt", "COLORS", "save_png", "style_layer_axes"]

COLORS = {"EDIT": "tab:red", "DeiT3": "tab:blue", "LaViT": "tab:green", "PVTv2": "tab:purple"}


def save_png(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (120 dpi, tight box) atomically, close it and return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def style_layer_axes(ax, values: Iterable[float]) -> None:
    """Integer layer ticks; a log scale only when the values span more than a decade."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    v = np.asarray([x for x in values if x > 0])
    if len(v) and v.max() / v.min() > 10:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
