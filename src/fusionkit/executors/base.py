"""What every executor shares: running one task and turning an exception into a `Failure`."""

from __future__ import annotations

import traceback
from typing import Any

from fusionkit.api import Failure, Task
from fusionkit.errors import InputError


def call(task: Task) -> Any:
    """``task.fn(*task.args)``, or a `Failure` with a one-line message and the traceback.

    Bad input (`InputError`) is marked as such, so the driver can stop with exit code 2.
    """
    try:
        return task.fn(*task.args)
    except Exception as exc:
        text = str(exc).strip()
        if isinstance(exc, InputError):
            return Failure(text.splitlines()[0], traceback.format_exc(), input_error=True)
        first = text.splitlines()[0] if text else ""
        return Failure(f"{type(exc).__name__}: {first}", traceback.format_exc())
