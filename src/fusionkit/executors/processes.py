"""The ``processes`` executor: tasks in a pool of local worker processes (``--jobs N``).

Workers are started with ``spawn`` (no state inherited from the driver); a task carries
everything it needs by value and its result comes back by value, so workers never read the
config file or write the run directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.api import Failure, Task
from fusionkit.executors.base import call
from fusionkit.hookspecs import hookimpl


class ProcessesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workers: int = Field(2, ge=1, description="Worker processes.")


class ProcessExecutor:
    """A `concurrent.futures.ProcessPoolExecutor` (spawned), started on first use."""

    def __init__(self, params: ProcessesParams):
        self.params = params
        self._pool = None

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[str, Any]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if not tasks:
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.params.workers, mp_context=multiprocessing.get_context("spawn")
            )
        futures = {self._pool.submit(call, task): task.name for task in tasks}
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:  # the worker itself died (e.g. killed for memory)
                    result = Failure(f"worker process failed: {type(exc).__name__}: {exc}")
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@hookimpl
def register_executors(register):
    register(
        "processes",
        ProcessExecutor,
        params=ProcessesParams,
        description="Tasks in a pool of local worker processes (spawned); same results as local.",
    )
