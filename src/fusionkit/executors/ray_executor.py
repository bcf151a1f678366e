"""The ``ray`` executor: tasks on a Ray cluster, or a Ray instance started on this machine.

``pip install 'fusionkit[ray]'``. ``address: null`` starts a local Ray instance (``workers``
CPUs); ``address: auto`` joins the cluster this machine belongs to, ``ray://host:10001`` a
remote one. Tasks and their arguments travel through Ray's object store (an argument shared by
many tasks, such as the prepared run, is stored once); results come back by value and only the
driver writes the run directory, so a killed driver resumes as with any executor. Each task
asks for ``num_cpus`` CPUs (default: the run's ``runtime.threads``), and encoder / cell tasks
for ``encoder_gpus`` / ``cell_gpus`` GPUs.
A task that fails is retried ``max_retries`` times (a lost worker or node is retried by Ray
itself), then reported like any failed cell.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.api import Failure, Tags, Task, Then
from fusionkit.errors import ConfigError
from fusionkit.executors.base import call
from fusionkit.hookspecs import hookimpl


class RayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(
        None, description="null: start Ray here; 'auto' or 'ray://host:port': join a cluster."
    )
    workers: int | None = Field(
        None, ge=1, description="CPUs of a Ray instance started here (default: all)."
    )
    num_cpus: float | None = Field(
        None, gt=0, description="CPUs each task asks for (default: its runtime.threads)."
    )
    encoder_gpus: float = Field(0, ge=0, description="GPUs each encoder task asks for.")
    cell_gpus: float = Field(0, ge=0, description="GPUs each cell task asks for.")
    max_retries: int = Field(1, ge=0, description="Retries of a task that failed.")


class RayExecutor:
    """Runs fusionkit tasks as Ray remote functions (see module docstring)."""

    def __init__(self, params: RayParams):
        self.params = params
        self._started = False

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "runtime.executor: type ray needs Ray: pip install 'fusionkit[ray]'"
            ) from None
        if not ray.is_initialized():
            p = self.params
            ray.init(
                address=p.address,
                num_cpus=p.workers if p.address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started = True
        return ray

    def run(self, tasks: Sequence[Task], then: Then | None = None) -> Iterator[tuple[str, Any]]:
        if not tasks:
            return
        ray = self._ray()
        remote = ray.remote(max_retries=self.params.max_retries)(call)
        # a task asking for more CPUs than the whole cluster has would wait forever
        total = float(ray.cluster_resources().get("CPU", 1))
        shared: dict[int, Any] = {}  # an argument object used by several tasks: stored once

        def stored(arg: Any) -> Any:
            if isinstance(arg, str | int | float | type(None)):
                return arg
            if id(arg) not in shared:
                shared[id(arg)] = ray.put(arg)
            return shared[id(arg)]

        def submit(task: Task):
            gpus = self.params.encoder_gpus if task.kind == "encoder" else self.params.cell_gpus
            args = tuple(stored(a) for a in task.args)
            ref = Task(task.name, _resolve_args, (task.fn, args), task.kind)
            cpus = min(self.params.num_cpus or task.threads, total)
            # Ray would set OMP_NUM_THREADS to the CPUs asked for; the task sets its own counts
            env = {"env_vars": {"OMP_NUM_THREADS": str(task.threads)}}
            options = {"num_cpus": cpus, "num_gpus": gpus, "runtime_env": env}
            return remote.options(**options).remote(ref)

        pending = {submit(t): (t, 0) for t in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            task, tries = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as exc:  # the worker or node died and Ray's retries ran out
                result = Failure(f"Ray task failed: {type(exc).__name__}: {str(exc)[:200]}")
            retry = isinstance(result, Failure) and not result.input_error
            if retry and tries < self.params.max_retries:
                pending[submit(task)] = (task, tries + 1)
                continue
            for follow in then(task.name, result) if then is not None else ():
                pending[submit(follow)] = (follow, 0)
            yield task.name, result

    def close(self, abort: bool = False) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _resolve_args(fn, args: tuple) -> Any:
    """Run ``fn`` on arguments fetched from the object store (where a task stored them)."""
    import ray

    values = tuple(ray.get(a) if isinstance(a, ray.ObjectRef) else a for a in args)
    return fn(*values)


@hookimpl
def register_executors(register):
    register(
        "ray",
        RayExecutor,
        params=RayParams,
        description="Tasks on a Ray cluster or a local Ray instance (fusionkit[ray] extra).",
        tags=Tags(remote=True),
    )
