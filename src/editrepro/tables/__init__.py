"""The papers' tables, one module each, registered in the order the report shows them. Adding a table is one more
module here (a ``Table`` subclass with ``@register``), its config under ``tables:`` and its ``paper_tables.yaml``
entry; the workflow's rules, ``editrepro aggregate`` and ``editrepro report`` read this registry."""
from .base import TABLES, Cell, Evaluation, Table, evaluation_of, get_table, register
from . import table3, table4, table5, lavit, edit_ablation, lavit_ablation  # noqa: F401,E402  (registers them)

__all__ = ["TABLES", "Cell", "Evaluation", "Table", "evaluation_of", "get_table", "register"]
