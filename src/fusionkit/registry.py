"""The component registry: every reader, encoder, fusion, classifier, transform and dataset.

Plugins add components through a [`Registrar`][fusionkit.registry.Registrar]; the rest of
fusionkit looks them up by kind and name. A component carries its own pydantic params model so
that configs are validated before any training starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from fusionkit.api import Tags, TagsDecl
from fusionkit.errors import PluginError

Kind = Literal[
    "reader",
    "encoder",
    "fusion",
    "classifier",
    "transform",
    "dataset",
    "executor",
    "perturbation",
    "task",
]
KINDS: tuple[str, ...] = get_args(Kind)
ModalityKind = Literal["table", "genotype", "image"]
MODALITY_KINDS: tuple[str, ...] = get_args(ModalityKind)

NO_TAGS = Tags()
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class NoParams(BaseModel):
    """Params model of a component that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Component:
    """One registered component: what it is, what it accepts, and how to build it."""

    name: str
    kind: str
    description: str
    modalities: frozenset[str]
    params: type[BaseModel]
    factory: Callable[..., Any]
    plugin: str
    version: str
    distribution: str = "fusionkit"
    tags_decl: TagsDecl = NO_TAGS

    def tags(self, params: BaseModel | None = None) -> Tags:
        """The declared tags, for these params (default params if none are given)."""
        if callable(self.tags_decl):
            if not isinstance(params, self.params):
                params = self.params.model_validate(params or {})
            return self.tags_decl(params)
        return self.tags_decl

    def identity(self) -> list[str]:
        """What makes this component's results this component's: kind, name, plugin, version."""
        return [self.kind, self.name, self.distribution, self.version]

    def build(self, params: BaseModel | dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Validate ``params`` with the component's model and call its factory."""
        if not isinstance(params, self.params):
            params = self.params.model_validate(params or {})
        return self.factory(params, **kwargs)

    def accepts(self, modality_kind: str) -> bool:
        """Whether this component can take a modality of the given kind."""
        return modality_kind in self.modalities

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (for `fusionkit plugins --json`)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "plugin": self.plugin,
            "version": self.version,
            "distribution": self.distribution,
            "description": self.description,
            "modalities": sorted(self.modalities),
            "tags": {k: v for k, v in vars(self.tags()).items() if v != getattr(Tags(), k)},
        }


@dataclass
class Registry:
    """Components by kind and name; duplicate names within a kind are an error."""

    _components: dict[tuple[str, str], Component] = field(default_factory=dict)

    def add(self, component: Component) -> None:
        """Add a component; raise `PluginError` naming both plugins if the name is taken."""
        key = (component.kind, component.name)
        if key in self._components:
            other = self._components[key]
            raise PluginError(
                f"{component.kind} {component.name!r} is registered by two plugins: "
                f"{other.plugin!r} and {component.plugin!r} (disable one with "
                f"FUSIONKIT_DISABLE_PLUGINS)"
            )
        self._components[key] = component

    def get(self, kind: str, name: str) -> Component:
        """The component of that kind and name; `KeyError` with a suggestion if unknown."""
        try:
            return self._components[(kind, name)]
        except KeyError:
            raise KeyError(self.unknown_message(kind, name)) from None

    def has(self, kind: str, name: str) -> bool:
        """Whether a component of that kind and name is registered."""
        return (kind, name) in self._components

    def names(self, kind: str) -> list[str]:
        """Sorted names of the registered components of one kind."""
        return sorted(name for k, name in self._components if k == kind)

    def unknown_message(self, kinds: str | tuple[str, ...], name: str, label: str = "") -> str:
        """'unknown classifier 'x'' plus the closest name, or the list of known ones."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        known = sorted({n for kind in kinds for n in self.names(kind)})
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or 'none'}"
        return f"unknown {label or kinds[0]} {name!r} ({hint})"

    def __iter__(self) -> Iterator[Component]:
        return iter(sorted(self._components.values(), key=lambda c: (c.kind, c.name)))

    def __len__(self) -> int:
        return len(self._components)


class Registrar:
    """The typed ``register(...)`` callable a hook receives, bound to one kind and one plugin."""

    def __init__(
        self, registry: Registry, kind: str, plugin: str, version: str, distribution: str = ""
    ):
        self._registry = registry
        self.kind = kind
        self.plugin = plugin
        self.version = version
        self.distribution = distribution or plugin

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        description: str,
        params: type[BaseModel] = NoParams,
        modalities: Iterable[str] = MODALITY_KINDS,
        tags: TagsDecl = NO_TAGS,
    ) -> None:
        """Register one component of this hook's kind under ``name``.

        ``modalities``: the modality kinds it accepts (for a classifier: the kinds whose
        features it may be given). ``tags``: what it can do (`fusionkit.api.Tags`), or a
        function of its validated params returning them.
        """
        where = f"plugin {self.plugin!r}: {self.kind} {name!r}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"{where}: name must be lower_snake_case")
        if not callable(factory):
            raise PluginError(f"{where}: factory is not callable")
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise PluginError(f"{where}: params must be a pydantic model class")
        kinds = frozenset(modalities)
        if bad := sorted(kinds - set(MODALITY_KINDS)):
            raise PluginError(f"{where}: unknown modality kinds {bad} (use {MODALITY_KINDS})")
        if not description or "\n" in description.strip():
            raise PluginError(f"{where}: description must be one line")
        if not (isinstance(tags, Tags) or callable(tags)):
            raise PluginError(f"{where}: tags must be fusionkit.api.Tags or a function of params")
        self._registry.add(
            Component(
                name=name,
                kind=self.kind,
                description=description.strip(),
                modalities=kinds,
                params=params,
                factory=factory,
                plugin=self.plugin,
                version=self.version,
                distribution=self.distribution,
                tags_decl=tags,
            )
        )
