"""Files written atomically: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    """Atomic, stable JSON (sorted keys, NaN as null)."""
    text = json.dumps(_clean(payload), indent=1, sort_keys=True, allow_nan=False)
    write_atomic(path, (text + "\n").encode())


def read_json(path: Path) -> Any | None:
    """The JSON at ``path``, or None if it is missing or unreadable (e.g. from a killed run)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic ``.npz``."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
