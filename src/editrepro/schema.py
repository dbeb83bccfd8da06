"""JSON-schema validation shared by the Python loaders and the Snakemake workflow.

The schemas live in ``config/schemas/`` (YAML); they hold every default, so a value has
one source. ``validate`` fills missing keys with their defaults, as Snakemake's
``validate(config, schema)`` does, and turns the first violation into a message that
names the file and the key.
"""
from pathlib import Path
from typing import Any, Dict, Optional

import jsonschema
import yaml

from .provenance import project_root

__all__ = ["load_schema", "validate", "ConfigError"]


class ConfigError(ValueError):
    """A configuration value is missing, unknown, or of the wrong type."""


def schema_path(name: str) -> Path:
    return project_root() / "config" / "schemas" / f"{name}.schema.yaml"


def load_schema(name: str) -> Dict[str, Any]:
    path = schema_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"schema {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = sub["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


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
