"""Run a config: encoder tasks first (each encoder once per fold), then cells, then outputs.

The driver plans, hands tasks to the executor (``runtime.executor``: ``local``, ``processes``
or a plugin's), and alone writes the run directory through its `RunStore`. Finished work is
skipped on a rerun (a cell whose kept model and result carry the current key, an encoder task
whose output does), so a killed run resumes where it stopped and a finished run only
re-renders its tables and report. Every task is deterministic given its seed, so results do
not depend on the executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionkit.api import Executor, Failure
from fusionkit.config import ExecutorSpec, ExperimentConfig, resolved, spec_data
from fusionkit.errors import DataError
from fusionkit.experiment.cells import perturbs_data
from fusionkit.experiment.planner import Cell
from fusionkit.experiment.preflight import check_before_training
from fusionkit.experiment.records import CellResult, EncoderOutput
from fusionkit.experiment.state import RunState, prepare
from fusionkit.experiment.store import RunLock, RunStore, check_output
from fusionkit.experiment.tasks import (
    cell_task,
    encoder_task,
    evaluation_task,
    remember,
    run_ref,
)
from fusionkit.outputs.tables import RunTables

Progress = Callable[[str, int, int, str], None]
"""``progress(stage, done, total, latest)``: stage ``encoders``, ``cells`` or ``robustness``;
``latest`` names the task that just finished (empty at a stage's start)."""


@dataclass
class RunOutcome:
    """What happened in a run: counts, timings, failures, notes, and the run's tables (built
    once, in memory, from every current cell result, fresh or reused)."""

    state: RunState
    store: RunStore
    cells_reused: int = 0
    cells_run: int = 0
    encoder_trainings: int = 0
    encoder_uses: int = 0
    failures: dict[str, Failure] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0  # evaluations of kept models under perturbations (variants)
    tables: RunTables | None = None

    @property
    def all_notes(self) -> list[str]:
        """What the tables leave out and why, then notes on the run itself."""
        return [*(self.tables.notes if self.tables else []), *self.notes]


def make_executor(config: ExperimentConfig, jobs: int | None = None) -> Executor:
    """The configured executor; ``jobs`` (``--jobs N``) is a shortcut for N worker processes."""
    return _executor_spec(config, jobs).build()


def _executor_spec(config: ExperimentConfig, jobs: int | None) -> ExecutorSpec:
    spec = config.runtime.executor
    if jobs is not None:
        params = {"workers": jobs} if jobs > 1 else {}
        spec = resolved(ExecutorSpec(type="processes" if jobs > 1 else "local", params=params))
    return spec


def _not_the_data(config: ExperimentConfig, run_dir: Path) -> None:
    """A run folder that is the data folder, or holds it, is an error: outputs would mix with
    the data, and a fresh run's clean-up would reach it."""
    if config.data.root is None:
        return
    from fusionkit.data.cohort import data_root

    root = data_root(config)
    out = run_dir.resolve()
    if out == root.resolve() or out in root.resolve().parents:
        raise DataError(
            f"{run_dir}: holds the data (data.root {root}); write the run "
            "elsewhere (--out / output.dir)"
        )


def prepare_run(config: ExperimentConfig, run_dir: Path) -> RunState:
    """Check the run folder, read and check the data, make the plan: every problem of input
    stops here (`DataError`), before anything is written."""
    check_output(run_dir)
    _not_the_data(config, run_dir)
    state = prepare(config, run_dir)
    check_before_training(state)
    return state


def run_prepared(
    state: RunState,
    *,
    fresh: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
    started: float | None = None,
) -> RunOutcome:
    """Run every cell of a prepared run not already finished; write the outputs of the whole
    run. ``started``: when the run began (`time.perf_counter`), for its reported seconds."""
    started = time.perf_counter() if started is None else started
    run_dir = state.run_dir
    assert run_dir is not None, "a worker's prepared run has no run directory"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{run_dir}: cannot be made ({exc.strerror}; --out / output.dir)") from None
    lock = RunLock(run_dir)
    note = lock.acquire()
    try:
        outcome = _run(state, RunStore(run_dir), started, fresh, jobs, progress)
    finally:
        lock.release()
    if note:
        outcome.notes.append(note)
    return outcome


def run_experiment(
    config: ExperimentConfig,
    run_dir: Path,
    *,
    fresh: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Prepare and run ``config`` (`prepare_run`, then `run_prepared`)."""
    started = time.perf_counter()
    state = prepare_run(config, run_dir)
    return run_prepared(state, fresh=fresh, jobs=jobs, progress=progress, started=started)


def _run(
    state: RunState,
    store: RunStore,
    started: float,
    fresh: bool,
    jobs: int | None,
    progress: Progress | None,
) -> RunOutcome:
    config = state.config
    outcome = RunOutcome(state, store)
    executor_spec = _executor_spec(config, jobs)
    ref = run_ref(config, state if executor_spec.tags.remote else None)
    remember(ref, state)
    keys = state.keys
    plain: dict[str, CellResult] = {}  # cell id -> its plain result, fresh or reused
    perturbed: dict[tuple[str, str], CellResult] = {}  # (cell id, variant) -> its result

    def done(cell: Cell) -> bool:
        if store.fitted_key(cell.id) != keys[cell.id]:
            return False
        if cell.split == "final":
            return True
        result = store.read_result(cell.id, keys[cell.id])
        if result is not None:
            plain[cell.id] = result
        return result is not None

    todo = [c for c in state.plan.cells if fresh or not done(c)]
    outcome.cells_reused = len(state.plan.cells) - len(todo)
    all_tasks = state.plan.encoder_tasks
    needed = {t.name: t for c in todo for t in c.stored}
    outcome.encoder_uses = sum(len(c.stored) for c in todo)
    stale = [n for n in needed if fresh or store.encoder_key(n) != state.encoder_keys[n]]

    def report(stage: str, count: int, total: int, latest: str = "") -> None:
        if progress is not None:
            progress(stage, count, total, latest)

    # Cells wait only for their own encoders: each is submitted as soon as the last encoder
    # output it needs is kept, so on a pool or cluster cells run while other encoders train.
    waiting = {c.id: {t.name for t in c.stored} & set(stale) for c in todo}
    cells = {c.id: c for c in todo}
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    counts = {"encoders": 0, "cells": 0}
    n_cells = len(todo)

    fitted_encoders = FittedEncoders(state, store)

    def cell_job(cell_id: str):
        names = [t.name for t in cells[cell_id].stored]
        for name in names:
            if name not in embeddings:
                embeddings[name] = store.load_embeddings(name)
        encoders = fitted_encoders.of(cells[cell_id])
        return cell_task(ref, cell_id, {n: embeddings[n] for n in names}, encoders)

    def ready(finished_encoder: str | None) -> list:
        out = []
        for cell_id, missing in list(waiting.items()):
            missing.discard(finished_encoder)
            if not missing:
                del waiting[cell_id]
                out.append(cell_job(cell_id))
        return out

    def then(name: str, out) -> list:
        """Keep an encoder's output (or its failure), and release the cells now ready."""
        if name not in all_tasks or name in cells:
            return []
        if not isinstance(out, Failure) and out.key != state.encoder_keys[name]:
            out = _mismatch(out.key)
        counts["encoders"] += 1
        report("encoders", counts["encoders"], len(stale), name)
        if isinstance(out, Failure):
            _stop_on_input_error(out)
            outcome.failures[f"encoder {name}"] = out
            for cell_id, missing in list(waiting.items()):
                if name in missing:
                    del waiting[cell_id]
                    outcome.failures[cell_id] = Failure("its encoder failed")
                    counts["cells"] += 1
            return []
        _keep_encoder(store, all_tasks[name], out)
        fitted_encoders.keep(name, out.encoder)
        outcome.timings[f"encoder:{name}"] = out.seconds
        outcome.encoder_trainings += 1
        return ready(name)

    executor = executor_spec.build()
    finished = False
    try:
        report("encoders", 0, len(stale))
        report("cells", 0, n_cells)
        first = [encoder_task(ref, name) for name in stale] + ready(None)
        for name, out in executor.run(first, then=then):
            if name not in cells:
                continue  # an encoder: kept by `then`
            if not isinstance(out, Failure) and out.fitted.meta["key"] != keys[name]:
                out = _mismatch(out.fitted.meta["key"])
            if isinstance(out, Failure):
                _stop_on_input_error(out)
                outcome.failures[name] = out
            else:
                store.write_fitted(out.fitted)  # the model first: a result is only current with it
                if out.result is not None:
                    plain[name] = store.write_result(out.result)
                    outcome.timings[f"cell:{name}"] = out.result.seconds
                for result in out.variants:
                    perturbed[name, result.variant] = store.write_result(result)
                outcome.cells_run += 1
                outcome.evaluations += len(out.variants)
                outcome.failures.update({f"{name}@{v}": f for v, f in out.failed.items()})
            counts["cells"] += 1
            report("cells", counts["cells"], n_cells, name)
        _evaluate_variants(
            state, store, ref, executor, outcome, embeddings, fitted_encoders, report, perturbed
        )
        finished = True
    finally:  # Ctrl-C or an error: stop the workers now; finished cells stay usable
        executor.close(abort=not finished)

    from fusionkit.outputs import build_tables, write_outputs

    outcome.tables = build_tables(
        state,
        [plain[c.id] for c in state.plan.evaluated if c.id in plain],
        [
            perturbed[c.id, v]
            for c in state.plan.evaluated
            for v in c.variants
            if (c.id, v) in perturbed
        ],
        outcome.failures,
    )
    outcome.seconds = time.perf_counter() - started
    invocation = {
        "cells_run": outcome.cells_run,
        "cells_reused": outcome.cells_reused,
        "encoder_trainings": outcome.encoder_trainings,
        "failed": {name: f.message for name, f in outcome.failures.items()},
        "seconds": round(outcome.seconds, 3),
    }
    write_outputs(state, outcome.tables, store, invocation)
    return outcome


class FittedEncoders:
    """The run's fitted encoders, for cells whose perturbation settings change data (they
    re-encode it): kept in memory as they are fitted in this run, read from the run's store
    otherwise, each once. Nothing is kept when no setting of the run changes data."""

    def __init__(self, state: RunState, store: RunStore):
        self.state, self.store = state, store
        self.objects: dict[str, Any] = {}
        self.wanted = any(perturbs_data(state, v) for c in state.plan.evaluated for v in c.variants)

    def keep(self, name: str, encoder: Any) -> None:
        if self.wanted:
            self.objects[name] = encoder

    def of(self, cell: Cell, names: list[str] | None = None) -> dict[str, Any] | None:
        """Modality -> fitted encoder of ``cell`` (None where its method encodes itself), or
        None if none of the settings (``names``; default: all of the cell's) changes data."""
        settings = cell.variants if names is None else names
        if not any(perturbs_data(self.state, v) for v in settings):
            return None
        stored = {t.name for t in cell.stored}
        out: dict[str, Any] = {}
        for task in cell.encoders:
            if task.name not in stored:
                out[task.modality] = None
                continue
            if task.name not in self.objects:
                self.objects[task.name] = self.store.load_encoder(task.name, spec_data(task.spec))
            out[task.modality] = self.objects[task.name]
        return out


def _evaluate_variants(
    state, store, ref, executor, outcome, embeddings, fitted_encoders, report, perturbed
) -> None:
    """Evaluate kept fitted cells under the variants not evaluated yet (read the others)."""
    keys, tasks = state.keys, []
    for cell in state.plan.evaluated:
        if cell.id in outcome.failures or store.fitted_key(cell.id) != keys[cell.id]:
            continue
        names = []
        for v in cell.variants:
            if (cell.id, v) in perturbed:
                continue
            if (kept := store.read_result(cell.id, keys[cell.id], v)) is not None:
                perturbed[cell.id, v] = kept
            else:
                names.append(v)
        if not names:
            continue
        needed = [t.name for t in cell.stored]
        for name in needed:
            if name not in embeddings:
                embeddings[name] = store.load_embeddings(name)
        fitted = store.load_fitted(cell.id)  # the kept model: nothing is refitted
        data = {n: embeddings[n] for n in needed}
        encoders = fitted_encoders.of(cell, names)  # to re-encode perturbed data
        tasks.append(evaluation_task(ref, cell.id, fitted, data, names, encoders))
    if tasks:  # kept cells with settings added since they were fitted
        report("robustness", 0, len(tasks))
    for i, (name, out) in enumerate(executor.run(tasks)):
        if isinstance(out, Failure):
            _stop_on_input_error(out)
            outcome.failures[name] = out
        else:
            scored, failed = out
            for result in scored:
                perturbed[result.id, result.variant] = store.write_result(result)
            outcome.evaluations += len(scored)
            cell_id = name.removesuffix("@robustness")
            outcome.failures.update({f"{cell_id}@{v}": f for v, f in failed.items()})
        report("robustness", i + 1, len(tasks), name)


def _mismatch(key: str) -> Failure:
    """A task computed elsewhere with another identity: never kept under this run's keys."""
    return Failure(
        f"the executor computed it as {key}, not as this run expects (other fusionkit or "
        "plugin versions where the task ran?)"
    )


def _stop_on_input_error(failure: Failure) -> None:
    if failure.input_error:
        raise DataError(failure.message)


def _keep_encoder(store: RunStore, task, out: EncoderOutput) -> None:
    store.write_encoder(out)
    if task.fold == "all" and task.spec.tags.trainable_backbone:  # a TorchEncoder: backbone_
        store.write_transfer_model(task.modality, task.spec.type, out.encoder.backbone_)
