"""The ``local`` executor: every task in this process, one after the other."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from fusionkit.api import Task, Then
from fusionkit.executors.base import call
from fusionkit.hookspecs import hookimpl
from fusionkit.registry import NoParams


class LocalExecutor:
    """Runs tasks in order, in the calling process."""

    def __init__(self, params: NoParams | None = None):
        self.params = params

    def run(self, tasks: Sequence[Task], then: Then | None = None) -> Iterator[tuple[str, Any]]:
        queue = deque(tasks)
        while queue:
            task = queue.popleft()
            result = call(task)
            if then is not None:
                queue.extend(then(task.name, result))
            yield task.name, result

    def close(self, abort: bool = False) -> None:
        pass


@hookimpl
def register_executors(register):
    register(
        "local",
        LocalExecutor,
        description="Every task in the fusionkit process itself, one after the other.",
    )
