"""JSON-schema validation shared by the Python loaders and the Snakemake workflow.

The schemas live in ``config/schemas/`` (YAML); they hold every default, so a value has
one source. ``validate`` fills missing keys with their defaults, as Snakemake's
``validate(config, schema)`` does, and turns the first violation into a message that
names the file and the key.
"""
import json
import re
from pathlib import Path
from typing import Any, Dict, Optional

import jsonschema
import yaml

from .provenance import project_root

__all__ = ["load_schema", "validate", "ConfigError", "YamlLoader", "load_yaml", "parse_yaml_value", "did_you_mean",
           "yaml12_numbers", "yaml_error_text", "read_json", "config_arg"]


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
    """The YAML file at ``path`` (YAML 1.2 numbers); a syntax error is a ``ConfigError`` naming file and line."""
    with open(path, encoding="utf-8") as f:
        try:
            return yaml.load(f, Loader=YamlLoader)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: {yaml_error_text(e)}") from None


def yaml_error_text(e: "yaml.YAMLError") -> str:
    """``line 3, column 9: expected ',' or ']', but got ':' (while parsing a flow sequence from line 2)``."""
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(e, "problem", None) or str(e)
    context, start = getattr(e, "context", None), getattr(e, "context_mark", None)
    if context:
        problem += f" ({context}" + (f" from line {start.line + 1}" if start is not None else "") + ")"
    return f"not valid YAML: {where}{problem}"


def parse_yaml_value(text: str) -> Any:
    return yaml.load(text, Loader=YamlLoader)


def read_json(path) -> Any:
    """The JSON file at ``path``; one that does not parse (truncated by a crash or a full disk) is a ``ConfigError``
    naming the file, where it stops and what to do."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}; the file has "
                          f"{len(text)} characters): truncated or damaged; delete it and re-run the job that writes "
                          f"it") from None


def config_arg(text: str, flag: str = "--config") -> Dict[str, Any]:
    """A command's ``--config``: the workflow config as JSON text (what the workflow passes), or the path of a YAML or
    JSON config file (``config/config.yaml``: validated against the workflow schema, its defaults filled)."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{flag}: not valid JSON text ({e.msg} at column {e.colno}); {flag} takes the workflow "
                              f"config as a JSON object, or the path of a YAML / JSON config file") from None
    elif Path(text).is_file():
        value = load_yaml(text)    # JSON is YAML
        if isinstance(value, dict):
            value = validate(yaml12_numbers(value), load_schema("workflow"), text)
    else:
        raise ConfigError(f"{flag} {text!r} is neither a JSON object nor an existing file: {flag} takes the workflow "
                          f"config as JSON text ('{{\"name\": \"demo\"}}'), or the path of a YAML / JSON config "
                          f"file (config/config.yaml)")
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: the workflow config is a mapping of keys to values, got {type(value).__name__}")
    return value


# what YAML 1.2 reads as a number and YAML 1.1 (PyYAML, Snakemake's config loader) as a string: 2e-3, 1E5
_YAML11_STRING_NUMBER = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")


def yaml12_numbers(value: Any) -> Any:
    """``value`` with every string YAML 1.2 reads as a number made that number, in nested dicts and lists too.

    Snakemake loads ``--configfile`` with PyYAML (YAML 1.1), where ``lr: 2e-3`` is the string ``'2e-3'``; the
    project reads recipes and ``--set`` as YAML 1.2, where it is 0.002. The workflow applies this to its config so
    a value means the same wherever it is written."""
    if isinstance(value, dict):
        return {k: yaml12_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml12_numbers(v) for v in value]
    if isinstance(value, str) and _YAML11_STRING_NUMBER.match(value):
        return float(value.replace("_", ""))
    return value


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
