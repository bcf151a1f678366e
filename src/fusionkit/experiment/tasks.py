"""The tasks a run hands to its executor, and how a worker finds the run they belong to.

A task carries the resolved config *by value* (`RunRef`: the config as data plus the path it
came from, for relative data paths) and names what to do: an encoder task or a cell. A worker
prepares the run once per process (cohort, folds) and returns results by value; it never reads
the YAML file and never writes the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fusionkit.api import Failure, Task
from fusionkit.config import ExperimentConfig, config_from_data
from fusionkit.experiment.cells import Embeddings, evaluate_variants_of, run_cell
from fusionkit.experiment.encoder_tasks import fit_encoder
from fusionkit.experiment.identity import digest
from fusionkit.experiment.records import CellOutcome, CellResult, EncoderOutput, FittedCell
from fusionkit.experiment.state import RunState, prepare


@dataclass(frozen=True)
class RunRef:
    """A run's resolved config as plain data (picklable, JSON-able), and its identity; for a
    remote executor also the driver's prepared run (cohort tables, folds), so workers need not
    read the data tables."""

    config: dict[str, Any]
    source: str | None
    digest: str
    state: RunState | None = field(default=None, compare=False, repr=False)


def run_ref(config: ExperimentConfig, state: RunState | None = None) -> RunRef:
    data = config.model_dump(mode="json")
    source = str(config.source) if config.source else None
    shipped = None
    if state is not None:  # without the driver's run directory: workers never write
        shipped = replace(state, run_dir=None)
    return RunRef(data, source, digest([data, source]), shipped)


_STATES: dict[str, RunState] = {}


def remember(ref: RunRef, state: RunState) -> None:
    """Let tasks run in this process use the driver's prepared state."""
    _STATES[ref.digest] = state


def state_for(ref: RunRef) -> RunState:
    """The prepared run of ``ref`` in this process (prepared on first use)."""
    if ref.digest not in _STATES:
        _STATES.clear()  # one run per worker process at a time
        if ref.state is not None:
            _STATES[ref.digest] = ref.state
        else:
            config = config_from_data(ref.config, ref.source)
            _STATES[ref.digest] = prepare(config, None, verify=False)
    return _STATES[ref.digest]


def fit_encoder_task(ref: RunRef, name: str) -> EncoderOutput:
    state = state_for(ref)
    with _threads(state):
        return fit_encoder(state, state.plan.encoder_tasks[name])


def run_cell_task(
    ref: RunRef, cell_id: str, embeddings: Embeddings, encoders: dict[str, Any] | None = None
) -> CellOutcome:
    state = state_for(ref)
    cell = state.plan.cell(cell_id)
    with _threads(state):
        return run_cell(state, cell, embeddings, encoders)


def evaluate_task_fn(
    ref: RunRef,
    cell_id: str,
    fitted: FittedCell,
    embeddings: Embeddings,
    names: list[str],
    encoders: dict[str, Any] | None = None,
) -> tuple[list[CellResult], dict[str, Failure]]:
    """Evaluate a kept fitted cell under perturbation settings (nothing is refitted); the
    cell's fitted ``encoders`` re-encode what a perturbation of the data changed."""
    state = state_for(ref)
    cell = state.plan.cell(cell_id)
    with _threads(state):
        return evaluate_variants_of(state, cell, fitted, embeddings, names, encoders)


def _threads(state: RunState):
    """Torch sets its own thread count (`seed_everything`); BLAS and OpenMP (numpy, scikit-
    learn) get the same ``runtime.threads`` here, wherever the task runs: their parallel sums
    also round differently with another count."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=state.config.runtime.threads)


def encoder_task(ref: RunRef, name: str) -> Task:
    threads = ref.config["runtime"]["threads"]
    return Task(name, fit_encoder_task, (ref, name), kind="encoder", threads=threads)


def evaluation_task(
    ref: RunRef,
    cell_id: str,
    fitted: FittedCell,
    embeddings: Embeddings,
    names: list[str],
    encoders: dict[str, Any] | None = None,
) -> Task:
    threads = ref.config["runtime"]["threads"]
    args = (ref, cell_id, fitted, embeddings, names, encoders)
    return Task(f"{cell_id}@robustness", evaluate_task_fn, args, kind="evaluate", threads=threads)


def cell_task(
    ref: RunRef, cell_id: str, embeddings: Embeddings, encoders: dict[str, Any] | None = None
) -> Task:
    threads = ref.config["runtime"]["threads"]
    args = (ref, cell_id, embeddings, encoders)
    return Task(cell_id, run_cell_task, args, kind="cell", threads=threads)
