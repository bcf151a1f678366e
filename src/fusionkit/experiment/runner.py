"""Run a config: encoder tasks first (each encoder once per fold), then cells, then outputs.

Finished work is skipped on a rerun (cells whose ``cells/<id>.json`` carries the current key,
encoder outputs whose cache key matches), so a killed run resumes where it stopped and a
finished run only re-renders its tables and report. ``--jobs N`` runs encoder tasks and cells in
N worker processes; every task is deterministic given its seed, so results do not depend on N.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from fusionkit.config import ExperimentConfig, load_config
from fusionkit.errors import InputError
from fusionkit.experiment.cells import cell_key, cell_tasks, run_cell
from fusionkit.experiment.features import EncoderTask, fit_encoder, is_cached
from fusionkit.experiment.planner import Cell
from fusionkit.experiment.state import RunState, prepare
from fusionkit.experiment.store import read_json, write_json


@dataclass
class RunOutcome:
    """What happened in a run: counts, timings and failures."""

    state: RunState
    cells_reused: int = 0
    cells_run: int = 0
    encoder_trainings: int = 0
    encoder_uses: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def cell_file(state: RunState, cell: Cell) -> Path:
    return state.run_dir / "cells" / f"{cell.id}.json"


def finished(state: RunState, cell: Cell) -> dict | None:
    """The stored result of a cell if it is complete and computed with the current inputs."""
    payload = read_json(cell_file(state, cell))
    if payload and payload.get("key") == cell_key(state, cell) and "metrics" in payload:
        return payload
    return None


# -- worker processes -------------------------------------------------------------------------
_STATE: RunState | None = None


def _init_worker(source: str, overrides: tuple[str, ...], run_dir: str) -> None:
    global _STATE
    config = load_config(source, list(overrides))
    _STATE = prepare(config, Path(run_dir), verify=False)


@functools.cache
def _worker_tasks() -> dict[str, EncoderTask]:
    assert _STATE is not None
    return {t.name: t for c in _STATE.plan.cells for t in cell_tasks(_STATE, c)}


def _encoder_job(name: str) -> dict:
    assert _STATE is not None
    return fit_encoder(_STATE, _worker_tasks()[name])


def _cell_job(cell_id: str) -> dict:
    assert _STATE is not None
    cell = next(c for c in _STATE.plan.cells if c.id == cell_id)
    payload = run_cell(_STATE, cell)
    write_json(cell_file(_STATE, cell), payload)
    return {"id": cell_id, "seconds": payload["seconds"]}


# -- the run ------------------------------------------------------------------------------------
def run_experiment(
    config: ExperimentConfig,
    run_dir: Path,
    *,
    fresh: bool = False,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunOutcome:
    """Run every cell of ``config`` not already finished; write the outputs of the whole run."""
    started = time.perf_counter()
    state = prepare(config, run_dir)  # bad input stops here, before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    outcome = RunOutcome(state)
    jobs = jobs or config.runtime.jobs

    todo = [c for c in state.plan.cells if fresh or finished(state, c) is None]
    outcome.cells_reused = len(state.plan.cells) - len(todo)
    needed: dict[str, EncoderTask] = {}
    for cell in todo:
        for task in cell_tasks(state, cell):
            needed.setdefault(task.name, task)
            outcome.encoder_uses += 1
    tasks = [t for t in needed.values() if fresh or not is_cached(state, t)]

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    failed_tasks: set[str] = set()
    for name, result in _execute(
        state,
        [t.name for t in tasks],
        _encoder_job,
        lambda n: fit_encoder(state, needed[n]),
        jobs,
        "encoders",
        report,
        outcome,
    ):
        if isinstance(result, dict):
            outcome.timings[f"encoder:{name}"] = result["seconds"]
            outcome.encoder_trainings += 1
        else:
            failed_tasks.add(name)
            outcome.failures[f"encoder {name}"] = result

    runnable = [c for c in todo if not {t.name for t in cell_tasks(state, c)} & failed_tasks]
    for c in todo:
        if c not in runnable:
            outcome.failures[c.id] = "its encoder failed"

    def run_here(cell_id: str) -> dict:
        cell = next(c for c in runnable if c.id == cell_id)
        payload = run_cell(state, cell)
        write_json(cell_file(state, cell), payload)
        return {"id": cell_id, "seconds": payload["seconds"]}

    for cell_id, result in _execute(
        state, [c.id for c in runnable], _cell_job, run_here, jobs, "cells", report, outcome
    ):
        if isinstance(result, dict):
            outcome.timings[f"cell:{cell_id}"] = result["seconds"]
            outcome.cells_run += 1
        else:
            outcome.failures[cell_id] = result

    from fusionkit.experiment.results import write_outputs

    outcome.seconds = time.perf_counter() - started
    write_outputs(outcome)
    return outcome


def _execute(
    state: RunState,
    names: list[str],
    remote: Callable[[str], dict],
    local: Callable[[str], dict],
    jobs: int,
    stage: str,
    report: Callable[[str, int, int], None],
    outcome: RunOutcome,
) -> Iterable[tuple[str, dict | str]]:
    """Run ``names`` here or in ``jobs`` processes; yield (name, result or error message)."""
    total = len(names)
    report(stage, 0, total)
    if not names:
        return
    if jobs <= 1:
        for i, name in enumerate(names):
            yield name, _guard(local, name)
            report(stage, i + 1, total)
        return
    config = state.config
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(config.source), config.overrides, str(state.run_dir)),
    ) as pool:
        futures = {pool.submit(_guard, remote, name): name for name in names}
        for i, future in enumerate(as_completed(futures)):
            yield futures[future], future.result()
            report(stage, i + 1, total)


def _guard(func: Callable[[str], dict], name: str) -> dict | str:
    """Run one task; bad input propagates (exit 2), any other failure becomes a message."""
    try:
        return func(name)
    except InputError:
        raise
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
