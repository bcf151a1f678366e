"""Plugin-typed config sections ``{type: NAME, params: {...}}``: one `Spec` class per kind, and
their resolution through the plugin registry (the component a section names, its params
validated by the component's own model, nested sections recursively)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from fusionkit.api import Tags
from fusionkit.config.problems import Loc, _split_loc, format_loc, validation_problems
from fusionkit.errors import ConfigError
from fusionkit.registry import Component, Registry

_IDENT = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- plugin-typed sections -----------------------------------------------------------------------
class Spec(_Model):
    """A plugin-typed section ``{type: NAME, params: {...}}``; a bare ``NAME`` is shorthand."""

    kinds: ClassVar[tuple[str, ...]] = ()
    type: str = Field(description="The registered component's name (`fusionkit plugins`).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The component's own params (`fusionkit plugins NAME`)."
    )
    _component: Component | None = PrivateAttr(None)
    _params: BaseModel | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @field_validator("params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def component(self) -> Component:
        """The registered component this section names (resolved on first use if the spec
        was built in code rather than read by `load_config`)."""
        if self._component is None:
            resolved(self)
        assert self._component is not None
        return self._component

    @property
    def resolved_params(self) -> BaseModel:
        """The params, validated by the component's own params model."""
        if self._params is None:
            resolved(self)
        assert self._params is not None
        return self._params

    @property
    def tags(self) -> Tags:
        """What the component can do with these params (its declared `fusionkit.api.Tags`)."""
        return self.component.tags(self.resolved_params)

    def build(self, **kwargs: Any) -> Any:
        """Call the component's factory with the validated params."""
        return self.component.build(self.resolved_params, **kwargs)


class ReaderSpec(Spec):
    kinds = ("reader",)


class EncoderSpec(Spec):
    kinds = ("encoder",)


class ClassifierSpec(Spec):
    kinds = ("classifier",)


class TransformSpec(Spec):
    kinds = ("transform",)


class DatasetSpec(Spec):
    kinds = ("dataset",)


class ExecutorSpec(Spec):
    kinds = ("executor",)


class PerturbationSpec(Spec):
    kinds = ("perturbation",)


class TaskSpec(Spec):
    kinds = ("task",)


class MethodSpec(Spec):
    """A method: a fusion strategy, or a classifier (a shallow baseline on raw features)."""

    kinds = ("fusion", "classifier")
    name: str | None = Field(None, pattern=_IDENT, description="Name in tables; default: type.")

    @property
    def label(self) -> str:
        """The method's name in plans, tables and file names."""
        return self.name or self.type


# -- resolution through the registry -----------------------------------------------------
def resolved(spec: Spec, registry: Registry | None = None) -> Spec:
    """Resolve a spec built in code (not read from YAML) through the registry."""
    if registry is None:
        from fusionkit.plugins import get_registry

        registry = get_registry()
    problems = [f"{format_loc(loc)}: {msg}" for loc, msg in resolve(spec, (), registry)]
    if problems:
        raise ConfigError(problems)
    return spec


def resolve(
    spec: Spec, loc: Loc, registry: Registry, modality_kind: str | None = None
) -> Iterator[tuple[Loc, str]]:
    """Find the component a spec names and validate its params, recursing into nested specs."""
    component = next(
        (registry.get(kind, spec.type) for kind in spec.kinds if registry.has(kind, spec.type)),
        None,
    )
    if component is None:
        label = "method" if len(spec.kinds) > 1 else spec.kinds[0]
        yield loc + ("type",), registry.unknown_message(spec.kinds, spec.type, label)
        return
    if modality_kind is not None and not component.accepts(modality_kind):
        yield (
            loc + ("type",),
            f"{component.kind} {spec.type!r} does not accept {modality_kind} modalities"
            f" (it accepts: {', '.join(sorted(component.modalities))})",
        )
    try:
        params = component.params.model_validate(spec.params)
    except ValidationError as exc:
        for where, msg in validation_problems(exc, component.params):
            yield loc + ("params",) + tuple(_split_loc(where)), msg
        return
    spec._component, spec._params = component, params
    yield from _resolve_nested(params, loc + ("params",), registry)


def _resolve_nested(value: Any, loc: Loc, registry: Registry) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, Spec):
        yield from resolve(value, loc, registry)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _resolve_nested(getattr(value, name), loc + (name,), registry)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _resolve_nested(item, loc + (i,), registry)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _resolve_nested(item, loc + (key,), registry)
