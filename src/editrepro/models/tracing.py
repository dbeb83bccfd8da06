"""Whether a model is being traced symbolically, so eager-only input checks can step aside.

Under ``torch.fx.symbolic_trace`` tensor shapes are proxies that cannot drive Python control flow;
the models' clear errors for a wrong input size run in eager calls (and under ``torch.export`` and
``torch.compile``, whose shapes are concrete or guarded) and are skipped while fx traces.
"""
from torch.fx import _symbolic_trace

__all__ = ["fx_tracing"]


def fx_tracing() -> bool:
    check = getattr(_symbolic_trace, "is_fx_symbolic_tracing", None)
    return check() if check is not None else _symbolic_trace.is_fx_tracing()
