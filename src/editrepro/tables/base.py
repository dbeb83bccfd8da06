"""What a paper table is to the workflow: one class, registered where it is defined (as timm registers a model).

A table lists the evaluations it reads (``cells``: a run folder's model at one seed, and the half / column it fills),
owns the run folders it evaluates (``evaluations``: their tags, the dataset they are scored on), collects its
evaluation JSONs into cells (``collect``) and renders its page (``sections``, ``title``). Everything else follows
from the cells and ``editrepro.plan``: the training jobs each needs (upstream first), their benchmark files, the
cost estimate's cells, the `aggregate`/`report` choices, the report's order and ``TABLES`` in the Snakefile.
"""
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..plan import Plan

__all__ = ["Cell", "Evaluation", "Table", "TABLES", "register", "get_table", "evaluation_of"]


@dataclass(frozen=True)
class Cell:
    """One evaluation a table reads: run folder ``run`` of ``model`` at ``seed``. ``half`` and ``column`` place it
    (Table 3's half, Table 4's dataset, a dense run); ``resolution`` is the cost estimate's; ``priced``: whether
    the cost estimate pairs it into the paper's claims."""

    table: str
    run: str
    model: str
    seed: int
    half: str = ""
    column: Optional[str] = None
    resolution: Optional[int] = None
    priced: bool = True


@dataclass(frozen=True)
class Evaluation:
    """A kind of run folder a table evaluates (``runs``: a regex of its names): the tags of the cell its JSON fills
    (``tags(plan, run, model, seed)``, in order), the dataset it is scored on (``reads(run)``), whether the job waits
    for that data (``waits``: its data among the inputs) and whether it names dataset and root to `editrepro
    evaluate` (``names``; otherwise the checkpoint's own, the training job's)."""

    runs: str
    tags: Callable[[Plan, str, str, Any], Dict[str, Any]]
    reads: Callable[[str], str]
    waits: bool
    names: bool


class Table:
    name: str = ""
    title: str = ""
    evaluations: tuple = ()

    def planned(self, plan: Plan) -> bool:
        """Whether the config has this table (the papers' tables always; an optional one where configured)."""
        return True

    def cells(self, plan: Plan) -> List[Cell]:
        """Every evaluation the table reads, in the order its page lists them."""
        raise NotImplementedError

    def collect(self, evals: Iterable, paper_tables: Dict[str, Any], config_name: str, comparable: bool):
        raise NotImplementedError

    def sections(self, cells) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<table {self.name}>"


TABLES: Dict[str, Table] = {}


def register(cls):
    """Register a table class (one instance) under its ``name``; the registry's order is the report's."""
    if not cls.name or cls.name in TABLES:
        raise ValueError(f"table {cls.name!r} is unnamed or registered twice")
    TABLES[cls.name] = cls()
    return cls


def get_table(name: str) -> Table:
    if name not in TABLES:
        raise ValueError(f"no table {name!r}; tables: {', '.join(TABLES)}")
    return TABLES[name]


def evaluation_of(run: str) -> Optional[Evaluation]:
    """The kind of evaluation of run folder `run`, from the table that owns it; None if none does."""
    for table in TABLES.values():
        for kind in table.evaluations:
            if re.fullmatch(kind.runs, run):
                return kind
    return None
