"""Resolution of plugin-typed sections through the registry, and the cross-field checks.

One walker, `plugin_sections`, lists every plugin-typed section of a config, raw (a YAML
mapping that failed the schema elsewhere) or validated; both validation passes use it, so a new
plugin-typed section is added in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from fusionkit.config.problems import format_loc, validation_problems
from fusionkit.config.schema import ExperimentConfig, parse_scenario
from fusionkit.config.specs import (
    DatasetSpec,
    EncoderSpec,
    ExecutorSpec,
    Loc,
    MethodSpec,
    PerturbationSpec,
    ReaderSpec,
    Spec,
    TaskSpec,
    _resolve_nested,
    resolve,
)
from fusionkit.errors import ConfigError
from fusionkit.registry import MODALITY_KINDS, Component, Registry

Section = tuple[Loc, type[Spec], Any, str | None]


def spec_data(spec: Spec) -> dict[str, Any]:
    """A resolved spec as plain data: its type and every param, defaults included."""
    return {"type": spec.type, "params": spec.resolved_params.model_dump(mode="json")}


def build_spec_data(kind: str, data: dict[str, Any], registry: Registry | None = None) -> Any:
    """Build the component that `spec_data` described (e.g. when a kept model is loaded)."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    if not registry.has(kind, data["type"]):
        raise ConfigError(registry.unknown_message(kind, data["type"]) + " (plugin not installed?)")
    component = registry.get(kind, data["type"])
    return component.build(resolve_params(component, data["params"], registry))


def resolve_params(
    component: Component, params: dict[str, Any] | None, registry: Registry | None = None
) -> BaseModel:
    """A component's params validated by its model, nested specs (a fusion's classifier)
    resolved through the registry; `ConfigError` lists the problems."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    try:
        validated = component.params.model_validate(params or {})
    except ValidationError as exc:
        raise ConfigError(
            f"{component.name}: {where}: {msg}"
            for where, msg in validation_problems(exc, component.params)
        ) from None
    problems = [
        f"{format_loc(loc)}: {msg}" for loc, msg in _resolve_nested(validated, (), registry)
    ]
    if problems:
        raise ConfigError(problems)
    return validated


def spec_identity(spec: Spec) -> list[list[str]]:
    """Kind, name, distribution and version of the component a spec names and of every
    component nested in its params (a fusion's classifier, an encoder's transform)."""
    out = [spec.component.identity()]

    def walk(value: Any) -> None:
        if isinstance(value, Spec):
            out.extend(spec_identity(value))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(spec.resolved_params)
    return out


def plugin_sections(config: ExperimentConfig | dict[str, Any]) -> Iterator[Section]:
    """Every plugin-typed section of a config, raw (a YAML mapping) or validated: its location,
    the `Spec` model it is read as, its value (raw data or the `Spec` itself) and the kind of
    the modality it serves (None where it serves none, or the modality is unknown)."""
    if (task := _field(config, "task")) is not None:
        yield ("task",), TaskSpec, task, None
    data = _field(config, "data")
    kinds: dict[str, str | None] = {}
    for name, modality in _mapping(_field(data, "modalities")).items():
        kind = _field(modality, "kind")
        kinds[name] = kind if kind in MODALITY_KINDS else None
        for part, model in (("reader", ReaderSpec), ("features", EncoderSpec)):
            if (value := _field(modality, part)) is not None:
                yield ("data", "modalities", name, part), model, value, kinds[name]
    if (dataset := _field(data, "dataset")) is not None:
        yield ("data", "dataset"), DatasetSpec, dataset, None
    for name, value in _mapping(_field(config, "encoders")).items():
        yield ("encoders", name), EncoderSpec, value, kinds.get(name)
    for i, value in enumerate(_sequence(_field(config, "methods"))):
        yield ("methods", i), MethodSpec, value, None
    robustness = _field(_field(config, "evaluation"), "robustness")
    for i, value in enumerate(_sequence(robustness)):
        yield ("evaluation", "robustness", i), PerturbationSpec, value, None
    if (executor := _field(_field(config, "runtime"), "executor")) is not None:
        yield ("runtime", "executor"), ExecutorSpec, executor, None


def _field(node: Any, name: str) -> Any:
    if isinstance(node, BaseModel):
        return getattr(node, name, None)
    return node.get(name) if isinstance(node, dict) else None


def _mapping(node: Any) -> dict:
    return node if isinstance(node, dict) else {}


def _sequence(node: Any) -> list:
    return node if isinstance(node, list) else []


def spec_problems(raw: dict[str, Any], registry: Registry) -> Iterator[tuple[Loc, str]]:
    """Registry problems (unknown types, plugin params) of the component specs in a raw config
    that failed schema validation elsewhere: each spec that is well-formed itself is resolved,
    so `validate` reports schema and registry problems in one pass."""
    for loc, model, value, kind in plugin_sections(raw):
        try:
            spec = model.model_validate(value)
        except ValidationError:
            continue  # reported by the schema validation
        yield from resolve(spec, loc, registry, kind)


def check(config: ExperimentConfig, registry: Registry) -> Iterator[tuple[Loc, str]]:
    """Registry resolution of every plugin-typed section, and the cross-field checks that the
    models alone cannot do."""
    modalities = config.data.modalities
    for loc, _, spec, kind in plugin_sections(config):
        if loc[0] == "encoders" and loc[1] not in modalities:
            yield loc, _unknown_modality(str(loc[1]), modalities)
            continue
        yield from resolve(spec, loc, registry, kind)
    if config.scenarios != "all":
        seen: set[frozenset[str]] = set()
        for i, text in enumerate(config.scenarios):
            parts = parse_scenario(text)
            for part in parts:
                if part not in modalities:
                    yield ("scenarios", i), _unknown_modality(part, modalities)
            key = frozenset(parts)
            if len(key) != len(parts):
                yield ("scenarios", i), f"modality repeated in {text!r}"
            elif key in seen:
                yield ("scenarios", i), f"scenario {text!r} is listed twice"
            seen.add(key)
    labels: dict[str, int] = {}
    for i, method in enumerate(config.methods):
        if method.label in labels:
            yield (
                ("methods", i),
                f"duplicate method name {method.label!r} (also methods[{labels[method.label]}]);"
                " give each a distinct `name`",
            )
        labels.setdefault(method.label, i)
    scenarios = {frozenset(s) for s in config.scenario_list()}
    for i, final in enumerate(config.output.final_models):
        loc = ("output", "final_models", i)
        parts = parse_scenario(final.scenario)
        if frozenset(parts) not in scenarios:
            yield loc + ("scenario",), f"scenario {final.scenario!r} is not one of the run's"
        if final.method not in labels:
            known = ", ".join(labels)
            yield loc + ("method",), f"unknown method {final.method!r} (known: {known})"
    if config.data.label_map is not None:
        for raw_value, target in config.data.label_map.items():
            if target not in config.data.classes:
                yield ("data", "label_map", raw_value), f"{target!r} is not one of data.classes"


def _unknown_modality(name: str, modalities: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(modalities), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(modalities)}"
    return f"unknown modality {name!r} ({hint})"
