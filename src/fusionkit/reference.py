"""Field references generated from the pydantic models: the config's sections (the docs'
*Config field reference* page) and a component's params (``fusionkit plugins NAME``), so the
reference is always what the code accepts."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


@dataclass(frozen=True)
class FieldRow:
    """One field: dotted path, type, default (as YAML-ish text) and description."""

    path: str
    type: str
    default: str
    description: str


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def type_name(annotation) -> str:
    """A readable name: ``int | None``, ``list[int]``, ``'loss' | 'accuracy'``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


_REQUIRED = object()


def _default_value(info):
    if info.default is not PydanticUndefined:
        return info.default
    if info.default_factory is not None:
        return info.default_factory()
    return _REQUIRED


def _text(value) -> str:
    if value is _REQUIRED:
        return "required"
    if isinstance(value, BaseModel):
        return "(see below)"
    return "null" if value is None else repr(value)


def _child_prefix(annotation, path: str) -> str:
    """``path.<name>.`` inside a mapping, ``path[].`` inside a list, else ``path.``."""
    for candidate in (annotation, *typing.get_args(annotation)):
        origin = typing.get_origin(candidate)
        if origin is dict:
            key = "<modality>" if path.endswith(("encoders", "modalities")) else "<name>"
            return f"{path}.{key}."
        if origin is list:
            return f"{path}[]."
    return f"{path}."


def fields(model: type[BaseModel], prefix: str = "", defaults=None) -> list[FieldRow]:
    """Every field of ``model``, nested models flattened with dotted paths; a nested model's
    defaults are those of its parent's default (e.g. a fusion's own ``train`` settings)."""
    rows = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        description = (info.description or "").replace("\n", " ")
        value = getattr(defaults, name) if defaults is not None else _default_value(info)
        rows.append(FieldRow(path, type_name(info.annotation), _text(value), description))
        for nested in _models_in(info.annotation):
            if nested is not model:
                inner = value if isinstance(value, nested) else None
                rows += fields(nested, _child_prefix(info.annotation, path), inner)
    return rows


def markdown_table(rows: list[FieldRow]) -> str:
    def cell(text: str) -> str:  # a pipe in a code span is no column break; in prose it is
        return text.replace("|", "\\|")

    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    lines += [f"| `{r.path}` | `{r.type}` | `{r.default}` | {cell(r.description)} |" for r in rows]
    return "\n".join(lines)


def config_reference() -> str:
    """Markdown: one table per top-level section of the experiment config."""
    from fusionkit.config import ExperimentConfig

    out = []
    top = [r for r in fields(ExperimentConfig) if "." not in r.path]
    out += ["## Top level", "", markdown_table(top), ""]
    for name, info in ExperimentConfig.model_fields.items():
        nested = _models_in(info.annotation)
        if not nested:
            continue
        rows = [r for m in nested for r in fields(m, _child_prefix(info.annotation, name))]
        out += [f"## `{name}`", "", markdown_table(rows), ""]
    return "\n".join(out)
