"""JSON-schema validation shared by the Python loaders and the Snakemake workflow.

The schemas live in ``config/schemas/`` (YAML); they hold every default, so a value has
one source. ``validate`` fills missing keys with their defaults, as Snakemake's
``validate(config, schema)`` does, and turns the first violation into a message that
names the file and the key.
"""
import re
from pathlib import Path
from typing import Any, Dict, Optional

import jsonschema
import yaml

from .provenance import project_root

__all__ = ["load_schema", "validate", "ConfigError", "YamlLoader", "load_yaml", "parse_yaml_value", "did_you_mean"]


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats, so ``1e-3`` is a number (YAML 1.1 reads a string)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def load_yaml(path) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=YamlLoader)


def parse_yaml_value(text: str) -> Any:
    return yaml.load(text, Loader=YamlLoader)


class ConfigError(ValueError):
    """A configuration value is missing, unknown, or of the wrong type."""


def did_you_mean(name: str, choices, n: int = 3) -> str:
    """`` Did you mean: a, b?`` for the closest of ``choices`` to ``name`` ('' when none is close)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def schema_path(name: str) -> Path:
    return project_root() / "config" / "schemas" / f"{name}.schema.yaml"


def load_schema(name: str) -> Dict[str, Any]:
    path = schema_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"schema {path} does not exist")
    return load_yaml(path)


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = sub["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate(instance: Dict[str, Any], schema: Dict[str, Any], source: Optional[str] = None) -> Dict[str, Any]:
    """Validate ``instance`` in place (defaults filled) and return it; raise ``ConfigError`` naming the key."""
    errors = sorted(_Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        where = f"{source}: " if source else ""
        if e.validator == "additionalProperties":
            allowed = ", ".join(sorted(e.schema.get("properties", {})))
            raise ConfigError(f"{where}{e.message} at {key}; allowed keys: {allowed}")
        raise ConfigError(f"{where}{key}: {e.message}")
    return instance
