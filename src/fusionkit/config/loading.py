"""Reading a config: YAML, ``--set`` overrides, validation and resolution in two passes.

First the YAML is checked against the schema; then every ``{type: NAME, params: {...}}``
section is resolved through the plugin registry and its ``params`` validated by the plugin's
own model, recursively. Every problem becomes one line naming the file and the dotted path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fusionkit.config.problems import _TOKEN, format_loc, validation_problems
from fusionkit.config.resolution import check, spec_problems
from fusionkit.config.schema import ExperimentConfig
from fusionkit.errors import ConfigError
from fusionkit.registry import Registry


def load_config(
    path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None
) -> ExperimentConfig:
    """Read, override, validate and resolve a YAML config; `ConfigError` lists every problem."""
    path = Path(path)
    raw = read_yaml(path)
    for expr in overrides:
        apply_override(raw, expr)
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        schema = [f"{where}: {msg}" for where, msg in validation_problems(exc, ExperimentConfig)]
        specs = [f"{format_loc(loc)}: {msg}" for loc, msg in spec_problems(raw, registry)]
        # every problem in one pass: the components' own checks too, where they can run
        raise ConfigError(f"{path}: {p}" for p in dict.fromkeys(schema + specs)) from None
    problems = [f"{path}: {format_loc(loc)}: {msg}" for loc, msg in check(config, registry)]
    if problems:
        raise ConfigError(problems)
    config._source = path
    config._overrides = tuple(overrides)
    return config


def config_from_data(data: dict[str, Any], source: str | None = None) -> ExperimentConfig:
    """A resolved config from `ExperimentConfig.model_dump` output (what tasks carry by value)."""
    from fusionkit.plugins import get_registry

    config = ExperimentConfig.model_validate(data)
    problems = [f"{format_loc(loc)}: {msg}" for loc, msg in check(config, get_registry())]
    if problems:
        raise ConfigError(problems)
    config._source = Path(source) if source else None
    return config


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; one-line `ConfigError` if missing, unreadable or malformed."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def apply_override(raw: dict[str, Any], expr: str) -> None:
    """Apply one ``--set a.b[0].c=value`` override in place; the value is parsed as YAML.

    >>> raw = {"methods": [{"type": "svm"}]}
    >>> apply_override(raw, "methods[0].params.C=0.5")
    >>> raw
    {'methods': [{'type': 'svm', 'params': {'C': 0.5}}]}
    """
    key, sep, text = expr.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {expr}: expected KEY=VALUE, e.g. seed=1 or methods[0].name=rf")
    parts: list[str | int] = [
        int(index) if index else name for name, index in _TOKEN.findall(key.strip())
    ]
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = format_loc(tuple(parts[: depth + 1]))
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise ConfigError(f"--set {expr}: {where}: no such list item")
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {expr}: {where}: parent is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
