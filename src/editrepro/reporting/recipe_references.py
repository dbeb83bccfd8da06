"""The report's "Recipes against their references": each recipe the config uses, the reference it follows
(``config/recipe_references.yaml``) and every place it departs from it, with what this config sets on top: the
configured ``compute.amp`` and each classification recipe's ``sched_step`` against the references' (fp16,
``reference``), and the ``set:`` a config scales a preset with (not a departure). Torch-free."""
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["REFERENCES_FILE", "load_references", "render_recipe_references"]

REFERENCES_FILE = Path("config") / "recipe_references.yaml"
_DEPARTURE_KEYS = ("what", "reference", "why")
_STATED = ("sched_step", "lamb_max_grad_norm")      # a set of these is stated (and counted) on its own line


def _fail(path: Path, key: str, problem: str) -> None:
    from ..schema import ConfigError

    raise ConfigError(f"{path}: {key}: {problem}")


def load_references(path: Optional[Path] = None) -> Dict[str, Any]:
    """The data file, checked: every recipe has ``follows``, ``cite`` (ids of ``sources``), ``readings`` and
    ``departures`` (each with what / reference / why); errors name the file and key."""
    import yaml

    from ..provenance import project_root

    path = Path(path) if path is not None else project_root() / REFERENCES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (the recipes' references, {REFERENCES_FILE} in the repository)")
    data = yaml.safe_load(path.read_text()) or {}
    for key in ("sources", "defaults", "recipes"):
        if not isinstance(data.get(key), dict):
            _fail(path, key, "missing or not a mapping")
    for sid, src in data["sources"].items():
        missing = [k for k in ("repo", "file", "where") if not isinstance(src, dict) or k not in src]
        if missing:
            _fail(path, f"sources.{sid}", f"needs {', '.join(missing)}")
        if not isinstance(src.get("commit", ""), str):
            _fail(path, f"sources.{sid}.commit", f"{src['commit']!r} is not a string: quote it (YAML reads 0047173 as a number)")
    for name in ("amp", "sched_step"):
        if "reference" not in (data["defaults"].get(name) or {}):
            _fail(path, f"defaults.{name}", "needs reference (the value the references ran with)")
    for name, entry in data["recipes"].items():
        where = f"recipes.{name}"
        if not isinstance(entry, dict) or not entry.get("follows"):
            _fail(path, where, "needs follows (what the preset follows)")
        for sid in entry.get("cite") or []:
            if sid not in data["sources"]:
                _fail(path, f"{where}.cite", f"{sid!r} is not one of sources ({', '.join(sorted(data['sources']))})")
        for i, dep in enumerate(entry.get("departures") or []):
            if not isinstance(dep, dict) or any(k not in dep for k in _DEPARTURE_KEYS):
                _fail(path, f"{where}.departures[{i}]", f"needs {', '.join(_DEPARTURE_KEYS)}")
    for name in ("amp", "sched_step"):
        for sid in data["defaults"][name].get("cite") or []:
            if sid not in data["sources"]:
                _fail(path, f"defaults.{name}.cite", f"{sid!r} is not one of sources")
    return data


def _source(src: Mapping[str, Any]) -> str:
    commit = f" @ {src['commit']}" if src.get("commit") else ""
    return f"{src['repo']} `{src['file']}`{commit}: {src['where']}"


def _set_text(values: Mapping[str, Any]) -> str:
    return ", ".join(f"`{k}: {'null' if v is None else v}`" for k, v in values.items())


def _recipe_values(preset: str, sets: Mapping[str, Any]) -> Optional[Any]:
    """The classification recipe a preset with its ``set:`` makes (None for segmentation / detection ones or an
    unreadable preset: the planning's validation names those)."""
    from ..provenance import project_root
    from ..recipes import Recipe, load_recipe

    path = project_root() / "config" / "recipes" / f"{preset}.yaml"
    try:
        recipe = load_recipe(path, dict(sets))
    except (OSError, ValueError):
        return None
    return recipe if isinstance(recipe, Recipe) else None


def render_recipe_references(config: Mapping[str, Any], path: Optional[Path] = None) -> str:
    """Markdown (from its ``##`` heading) for the recipes ``config["recipes"]`` uses (``{name: {preset, set}}``;
    without it, every preset the data file lists, unscaled) and ``config["compute"]["amp"]``."""
    data = load_references(path)
    sources, defaults = data["sources"], data["defaults"]
    recipes = config.get("recipes") or {name: {"preset": name} for name in data["recipes"]}
    amp = (config.get("compute") or {}).get("amp", "auto")
    ref_amp, ref_step = defaults["amp"]["reference"], defaults["sched_step"]["reference"]

    lines: List[str] = ["## Recipes against their references", "",
                        "What each recipe follows and every place it departs from it (`config/recipe_references.yaml`; "
                        "docs/reference.md sections 2 and 7). A config's `set:` scales a preset (the demo's shorter runs, "
                        "smaller batches): listed, not counted as a departure.", ""]
    amp_state = "as the references" if amp == ref_amp else "**departs**"
    amp_note = " (bf16 on CUDA, fp32 on CPU)" if amp == "auto" else ""
    lines += [f"- **Precision**: `compute.amp: {amp}`{amp_note}; the references trained in {ref_amp} with a loss "
              f"scaler: {amp_state}. {defaults['amp'].get('why', '')}".rstrip(),
              *[f"  - {_source(sources[s])}" for s in defaults["amp"].get("cite") or []], ""]
    departures = 0 if amp == ref_amp else 1
    for name, ref in recipes.items():
        preset = ref.get("preset", name) if isinstance(ref, Mapping) else name
        sets = dict(ref.get("set") or {}) if isinstance(ref, Mapping) else {}
        entry = data["recipes"].get(preset)
        title = f"### `{name}`" + (f" (preset `{preset}`)" if preset != name else "")
        lines += [title, ""]
        if entry is None:
            lines += [f"No entry for preset `{preset}` in `{REFERENCES_FILE}`: its reference is not stated.", ""]
            continue
        lines += [f"Follows {entry['follows']}.", ""]
        lines += [f"- source: {_source(sources[s])}" for s in entry.get("cite") or []]
        recipe = _recipe_values(preset, sets)
        if recipe is not None:
            step = recipe.sched_step
            state = "as the reference" if step == ref_step else "**departs** from the reference"
            lines.append(f"- scheduler stepping: `sched_step: {step}`, {state} (`{ref_step}`: "
                         "`lr_scheduler.step(epoch)` after each epoch)")
            departures += step != ref_step
            if recipe.optimizer == "lamb":
                clip = recipe.lamb_max_grad_norm
                lines.append(f"- LAMB's own clip: `lamb_max_grad_norm: {clip}`"
                             + (", as apex FusedLAMB" if clip == 1.0 else ", **departs** from apex FusedLAMB's 1.0"))
                departures += clip != 1.0
        lines += [f"- reading: {r}" for r in entry.get("readings") or []]
        for dep in entry.get("departures") or []:
            lines.append(f"- departure: {dep['what']} (reference: {dep['reference']}): {dep['why']}")
            departures += 1
        scaling = {k: v for k, v in sets.items() if k not in _STATED}
        if scaling:
            lines.append(f"- this config's `set:` (scaling, not a departure): {_set_text(scaling)}")
        lines.append("")
    lines.insert(4, f"{departures} departures in all, each with its reason below.")
    lines.insert(5, "")
    return "\n".join(lines).rstrip() + "\n"
