"""The paper's tables as data (``config/paper_tables.yaml``), and what "reproduced" means.

A printed value carries its precision: "22" stands for [21.5, 22.5), "5.82" for
[5.815, 5.825). A reproduced value is within tolerance when it lies within the larger of
that half-unit and a relative floor (1% by default) of the printed value.
"""
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Dict, Optional, Union

import yaml

from ..provenance import project_root

__all__ = ["PaperValue", "load_paper_tables", "default_paper_tables_path"]

REL_TOL = 0.01


@dataclass(frozen=True)
class PaperValue:
    """A number as the paper prints it."""
    text: str

    def __post_init__(self):
        try:
            Decimal(self.text)
        except InvalidOperation:
            raise ValueError(f"paper value {self.text!r} is not a number") from None

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def decimals(self) -> int:
        exponent = Decimal(self.text).as_tuple().exponent
        return max(0, -int(exponent))

    def tolerance(self, rel_tol: float = REL_TOL) -> float:
        return max(0.5 * 10 ** -self.decimals, rel_tol * abs(self.value))

    def within(self, measured: float, rel_tol: float = REL_TOL) -> bool:
        return abs(measured - self.value) <= self.tolerance(rel_tol) + 1e-12


def default_paper_tables_path() -> Path:
    return project_root() / "config" / "paper_tables.yaml"


def load_paper_tables(path: Optional[Union[str, Path]] = None) -> Dict[str, Any]:
    """Read the transcribed tables; every numeric cell is checked to parse."""
    path = Path(path) if path is not None else default_paper_tables_path()
    if not path.is_file():
        raise FileNotFoundError(f"paper tables file {path} does not exist (expected config/paper_tables.yaml)")
    with open(path, encoding="utf-8") as f:
        tables = yaml.safe_load(f)
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: expected a mapping of tables, got {type(tables).__name__}")
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
            raise ValueError(f"{path}: {name} needs a 'rows' list")
    return tables


def paper_value(row: Dict[str, Any], key: str) -> Optional[PaperValue]:
    """The row's printed value for ``key``, or None where the paper prints "-"."""
    text = row.get(key)
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"paper value {key}={text!r} of {row.get('model', row)} must be quoted to keep its precision")
    return PaperValue(text)
