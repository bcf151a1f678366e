"""Config problems as one line each: a dotted path and a message.

``configs/x.yaml: methods[2].params.n_estimators: input should be greater than 0``
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, Union

from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def format_loc(loc: Sequence[str | int]) -> str:
    """``("methods", 2, "params", "n")`` -> ``"methods[2].params.n"``.

    >>> format_loc(("methods", 2, "params", "n_estimators"))
    'methods[2].params.n_estimators'
    """
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _split_loc(text: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _TOKEN.findall(text)]


def validation_problems(exc: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(dotted path, message) per problem; union branches merged, unknown keys get suggestions."""
    merged: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc, fields = _model_loc(model, error["loc"])
        message = _message(error, fields)
        messages = merged.setdefault(format_loc(loc), [])
        if message not in messages:
            messages.append(message)
    return [(where, "; or ".join(msgs)) for where, msgs in merged.items()]


def _message(error: dict[str, Any], fields: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, fields, n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _model_loc(model: Any, loc: Sequence[str | int]) -> tuple[Loc, list[str]]:
    """Walk ``loc`` through the model's annotations, dropping pydantic's union-branch tags.

    Returns the cleaned location and the field names allowed where it ends (for suggestions).
    """
    clean: list[str | int] = []
    current: Any = model
    fields: list[str] = []
    for i, part in enumerate(loc):
        current = _unwrap(current)
        last = i == len(loc) - 1
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = list(current.model_fields)
            if part in current.model_fields:
                clean.append(part)
                current = current.model_fields[part].annotation
            elif last:
                clean.append(part)  # an unknown key
            continue  # else: a union tag or validator name; skip it
        origin = typing.get_origin(current)
        if origin in (Union, types.UnionType) and isinstance(part, str):
            continue  # a union-branch tag such as "literal['sqrt','log2']" or "float"
        if origin in (list, tuple, Sequence) and isinstance(part, int):
            clean.append(part)
            args = typing.get_args(current)
            current = args[0] if args else Any
        elif origin is dict:
            clean.append(part)
            args = typing.get_args(current)
            current = args[1] if len(args) == 2 else Any
        elif isinstance(part, int) or current is Any or last:
            clean.append(part)
            current = Any
    return tuple(clean), fields


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None -> X; a union of several models -> the first model."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        containers = [a for a in args if typing.get_origin(a) in (list, dict)]
        if len(args) == 1:
            return _unwrap(args[0])
        if models:
            return models[0]
        if containers:
            return containers[0]
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation
