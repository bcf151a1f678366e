"""The ``processes`` executor: tasks in a pool of local worker processes (``--jobs N``).

Workers are started with ``spawn`` (no state inherited from the driver); a task carries
everything it needs by value and its result comes back by value, so workers never read the
config file or write the run directory. Workers never outlive the run: each asks the kernel
to end it when the driver dies (Linux ``PR_SET_PDEATHSIG``) and also watches its parent, so a
``kill -9`` of the driver leaves no process behind; Ctrl-C reaches only the driver, which then
stops the workers (finished cells are kept).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.api import Failure, Task, Then
from fusionkit.executors.base import call
from fusionkit.hookspecs import hookimpl


class ProcessesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workers: int = Field(2, ge=1, description="Worker processes.")


def _tie_to_parent(parent: int) -> None:
    """Worker initializer: die with the driver, and leave Ctrl-C to it."""
    import os
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below does it
    if os.getppid() != parent:
        os._exit(1)  # the driver died before this worker was ready

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="fusionkit-parent-watch").start()


class ProcessExecutor:
    """A `concurrent.futures.ProcessPoolExecutor` (spawned), started on first use."""

    def __init__(self, params: ProcessesParams):
        self.params = params
        self._pool = None
        self._workers: list = []

    def run(self, tasks: Sequence[Task], then: Then | None = None) -> Iterator[tuple[str, Any]]:
        import multiprocessing
        import os
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if not tasks:
            return
        threads = max(t.threads for t in tasks) * self.params.workers
        if self._pool is None and threads > (os.cpu_count() or 1):
            import warnings

            from fusionkit.errors import FusionkitWarning

            warnings.warn(
                f"{self.params.workers} workers x {threads // self.params.workers} threads on "
                f"{os.cpu_count()} CPUs: oversubscribed, expect a slow run (fewer workers, or "
                "runtime.threads: 1, which gives results of another identity)",
                FusionkitWarning,
                stacklevel=2,
            )
        if self._pool is None:
            before = set(multiprocessing.active_children())
            self._pool = ProcessPoolExecutor(
                max_workers=self.params.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_tie_to_parent,
                initargs=(os.getpid(),),
            )
            self._before = before
        futures = {self._pool.submit(call, task): task.name for task in tasks}
        self._workers = [p for p in multiprocessing.active_children() if p not in self._before]
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    name = futures.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # the worker itself died (e.g. killed for memory)
                        result = Failure(f"worker process failed: {type(exc).__name__}: {exc}")
                    for task in then(name, result) if then is not None else ():
                        futures[self._pool.submit(call, task)] = task.name
                    yield name, result
        finally:
            for future in futures:
                future.cancel()

    def close(self, abort: bool = False) -> None:
        if self._pool is None:
            return
        if abort:
            for worker in self._workers:
                worker.terminate()
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
