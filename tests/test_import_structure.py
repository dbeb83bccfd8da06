"""The package's imports flow one way, down these layers, and never in a circle.

    rank 5  commands     editrepro.commands, editrepro.cli, editrepro.__main__
    rank 4  reporting    editrepro.reporting, editrepro.analysis        (tables, figures, measures),
                         editrepro.tables (the registered tables: their cells, collectors and pages)
    rank 3  tasks        editrepro.training, editrepro.detection, editrepro.segmentation
    rank 2  building     editrepro.data, editrepro.models
    rank 1  runtime      editrepro.runtime (distributed, sampling, autocast), editrepro.recipes, editrepro.families,
                         editrepro.baselines, editrepro.plotting, editrepro.tracking, editrepro.schema,
                         editrepro.provenance, editrepro.fileio, editrepro.torchfiles, editrepro.joblock,
                         editrepro.plan (the torch-free plan: paths, stages, jobs), editrepro.lavit_design,
                         editrepro.launch (a job's launch command and Slurm resources)

A module may import modules of its own rank or lower ranks, never of a higher one ("an arrow back up"). No two
modules, and no two of the top-level parts above (``editrepro.reporting`` and ``editrepro.analysis``, say), may
import each other, directly or through others ("a circle"). ``editrepro.reporting`` renders from data: besides the
layers, it builds no models, so its imports of model-building parts are listed in
``REPORTING_MODEL_IMPORTS_LEFT`` (what is left to move; the list only shrinks).

Imports are read from the source with ``ast``, at any depth (a function's lazy ``from ..models import x`` counts
like a top-level one), relative imports resolved against the importing module. Importing ``a.b.c`` counts as an
import of ``a.b.c`` only, not of the packages ``a`` and ``a.b`` that Python also runs first. The root
``editrepro/__init__.py`` is the package's door (it imports ``models`` when timm is already loaded, to register
them) and is held to no rank.
"""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "editrepro"

LAYERS = {
    "editrepro.commands": 5, "editrepro.cli": 5, "editrepro.__main__": 5,
    "editrepro.reporting": 4, "editrepro.analysis": 4, "editrepro.tables": 4,
    "editrepro.training": 3, "editrepro.detection": 3, "editrepro.segmentation": 3,
    "editrepro.data": 2, "editrepro.models": 2,
    "editrepro.runtime": 1, "editrepro.recipes": 1, "editrepro.families": 1, "editrepro.baselines": 1,
    "editrepro.plotting": 1, "editrepro.tracking": 1, "editrepro.schema": 1, "editrepro.provenance": 1,
    "editrepro.fileio": 1, "editrepro.torchfiles": 1, "editrepro.joblock": 1, "editrepro.plan": 1,
    "editrepro.lavit_design": 1, "editrepro.launch": 1,
}
NAMES = {5: "commands", 4: "reporting/analysis", 3: "training/tasks", 2: "data/models", 1: "runtime helpers"}

# what reporting may not import: the parts that build or run models
MODEL_BUILDING = ("editrepro.models", "editrepro.training", "editrepro.detection", "editrepro.segmentation",
                  "editrepro.runtime", "editrepro.analysis", "editrepro.data")
# reporting's remaining imports of those, to move out (issue 25: all moved; the counts come from
# editrepro.analysis.counting, passed in by the commands and the registered tables)
REPORTING_MODEL_IMPORTS_LEFT = set()


# -- the graph -------------------------------------------------------------------------------------------------

def modules(root: Path = PACKAGE) -> Dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (a package is named by its ``__init__``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: Set[str]) -> Set[str]:
    """The package modules ``name`` imports anywhere in its source; ``from pkg import x`` is ``pkg.x`` when that is
    a module, else ``pkg``."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    root = next(iter(known)).split(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 >= len(base):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    edges = set()
    for target in found:
        if target.split(".")[0] != root:
            continue
        while target not in known and "." in target:     # `import editrepro.x.y` where y is a name, not a module
            target = target.rpartition(".")[0]
        if target in known and target != name:
            edges.add(target)
    return edges


def import_graph(root: Path = PACKAGE) -> Dict[str, Set[str]]:
    mods = modules(root)
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iterative), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def part_of(name: str) -> str:
    """The top-level part a module belongs to: the longest ``LAYERS`` key it is or lies under."""
    keys = [k for k in LAYERS if name == k or name.startswith(k + ".")]
    if not keys:
        raise KeyError(name)
    return max(keys, key=len)


def part_graph(graph: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """The graph between top-level parts (imports inside one part dropped; the root package left out)."""
    out: Dict[str, Set[str]] = {}
    for name, targets in graph.items():
        if name == "editrepro":
            continue
        a = part_of(name)
        out.setdefault(a, set()).update(part_of(t) for t in targets if t != "editrepro" and part_of(t) != a)
    return out


def arrows_up(graph: Dict[str, Set[str]]) -> List[str]:
    out = []
    for name, targets in sorted(graph.items()):
        if name == "editrepro":
            continue
        rank = LAYERS[part_of(name)]
        for t in sorted(targets):
            if t != "editrepro" and LAYERS[part_of(t)] > rank:
                out.append(f"{name} ({NAMES[rank]}) imports {t} ({NAMES[LAYERS[part_of(t)]]})")
    return out


# -- the package -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_module_has_a_layer(graph):
    unplaced = sorted(n for n in graph if n != "editrepro" and not any(n == k or n.startswith(k + ".") for k in LAYERS))
    assert not unplaced, f"modules in no layer (add their top-level part to LAYERS in {__file__}): {unplaced}"


def test_no_circle_among_modules(graph):
    found = circles(graph)
    assert not found, "modules that import each other (directly or through others): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_no_circle_among_the_top_level_parts(graph):
    found = circles(part_graph(graph))
    assert not found, "parts of the package that import each other: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_arrow_back_up_the_layers(graph):
    found = arrows_up(graph)
    assert not found, "imports that run back up the layers:\n" + "\n".join(found)


def test_reporting_builds_no_models(graph):
    found = {(name, t) for name, targets in graph.items() if name.startswith("editrepro.reporting")
             for t in targets if any(t == m or t.startswith(m + ".") for m in MODEL_BUILDING)}
    new = sorted(found - REPORTING_MODEL_IMPORTS_LEFT)
    assert not new, f"reporting renders from data; these imports build or run models (measure in analysis/ or " \
                    f"models/, pass the numbers in from the command): {new}"
    gone = sorted(REPORTING_MODEL_IMPORTS_LEFT - found)
    assert not gone, f"no longer imported: take these out of REPORTING_MODEL_IMPORTS_LEFT: {gone}"


def test_planning_and_recipes_stay_torch_free(graph):
    """What workflow/rules/common.smk imports (recipes, schema, baselines) imports no torch-heavy part of the
    package, at any depth."""
    heavy = ("editrepro.models", "editrepro.data", "editrepro.training", "editrepro.detection",
             "editrepro.segmentation", "editrepro.runtime", "editrepro.analysis", "editrepro.reporting",
             "editrepro.tracking", "editrepro.plotting")
    seen, todo = set(), ["editrepro.recipes", "editrepro.schema", "editrepro.baselines", "editrepro.families"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    assert not sorted(n for n in seen if any(n == h or n.startswith(h + ".") for h in heavy))


# -- the checker itself, on small made-up packages ----------------------------------------------------------------

def _package(tmp_path: Path, files: Dict[str, str]) -> Dict[str, Set[str]]:
    root = tmp_path / "editrepro"
    for rel, text in {"__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return import_graph(root)


def test_the_checker_resolves_relative_and_lazy_imports(tmp_path):
    g = _package(tmp_path, {
        "fileio.py": "",
        "models/__init__.py": "from .deit3 import X\n",
        "models/deit3.py": "X = 1\ndef f():\n    from .. import fileio\n",
        "training/__init__.py": "",
        "training/engine.py": "import os\nfrom ..models import deit3\nfrom editrepro.models.deit3 import X\n"
                              "def g():\n    import editrepro.fileio\n",
    })
    assert g["editrepro.models"] == {"editrepro.models.deit3"}
    assert g["editrepro.models.deit3"] == {"editrepro.fileio"}
    assert g["editrepro.training.engine"] == {"editrepro.models.deit3", "editrepro.fileio"}


def test_the_checker_finds_a_circle_through_a_lazy_import(tmp_path):
    g = _package(tmp_path, {
        "reporting/__init__.py": "", "reporting/report.py": "from .tables import T\n",
        "reporting/tables.py": "def t():\n    from .markdown import M\nT = 1\n",
        "reporting/markdown.py": "def m():\n    from . import report\nM = 1\n",
        "reporting/stats.py": "from .tables import T\n",
    })
    assert circles(g) == [["editrepro.reporting.markdown", "editrepro.reporting.report", "editrepro.reporting.tables"]]


def test_the_checker_finds_a_circle_between_parts_and_an_arrow_up(tmp_path):
    g = _package(tmp_path, {
        "reporting/__init__.py": "", "reporting/figures.py": "from ..analysis.attention import A\n",
        "analysis/__init__.py": "", "analysis/attention.py": "A = 1\n",
        "analysis/plots.py": "from ..reporting.figures import save\n",
        "detection/__init__.py": "", "detection/evaluation.py": "from ..training.engine import autocast\n",
        "detection/model.py": "",
        "training/__init__.py": "", "training/engine.py": "def f():\n    from ..detection import model\n",
        "runtime/__init__.py": "", "runtime/amp.py": "from ..models import create_model\n",
        "models/__init__.py": "",
    })
    assert circles(g) == []                                          # no module-level circle ...
    assert circles(part_graph(g)) == [["editrepro.analysis", "editrepro.reporting"],
                                      ["editrepro.detection", "editrepro.training"]]   # ... but two between parts
    assert arrows_up(g) == ["editrepro.runtime.amp (runtime helpers) imports editrepro.models (data/models)"]


def test_what_planning_imports_leaves_torch_unloaded():
    """The Snakefile imports the plan and the table registry as it parses (and the cost rule's command the counting
    module): none may import torch, which would add seconds to every dry run."""
    import subprocess
    import sys

    code = ("import sys, editrepro.plan, editrepro.tables, editrepro.tables.jobs, editrepro.analysis.counting; "
            "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
