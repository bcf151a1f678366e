"""Checks made after the data are read and before anything trains: each problem is one line
naming the file and the config field (exit code 2), so a run never fails half-way for a reason
that was visible at the start."""

from __future__ import annotations

import numpy as np

from fusionkit.api import ChecksData
from fusionkit.errors import DataError
from fusionkit.experiment.planner import fold_name
from fusionkit.experiment.state import RunState


def check_before_training(state: RunState) -> None:
    """Every fold can be scored, and every encoder can take its modality's data."""
    problems = _fold_problems(state) + _encoder_problems(state)
    if problems:
        raise DataError(problems)


def _fold_problems(state: RunState) -> list[str]:
    config, cohort = state.config, state.cohort
    field = state.scheme.field
    out = []
    # a held-out group (a site) may simply have no subject of some class: its metrics are
    # macro-averaged over the classes it has
    parts = ("training",) if state.scheme.kind == "leave_out" else ("test", "training")
    for fold in state.folds:
        for part, rows in ((p, fold.test if p == "test" else fold.train) for p in parts):
            present = set(np.unique(cohort.y[rows]).tolist())
            missing = [c for i, c in enumerate(cohort.classes) if i not in present]
            if missing:
                out.append(
                    f"{config.source}: {field}: the {part} part of split "
                    f"{fold_name(fold.repeat, fold.fold)}"
                    f" ({len(rows)} subjects) has no {missing[0]!r} subject; use a larger "
                    "hold-out or fewer folds"
                )
                return out
    return out


def _encoder_problems(state: RunState) -> list[str]:
    seen, out = set(), []
    for cell in state.plan.cells:
        for task in cell.encoders:
            key = (task.modality, task.spec.type, str(task.spec.params))
            if key in seen:
                continue
            seen.add(key)
            encoder = task.spec.build()
            if not isinstance(encoder, ChecksData):
                continue
            where = "encoders" if task.spec is state.config.encoders.get(task.modality) else None
            field = f"{where}.{task.modality}" if where else f"data.modalities.{task.modality}"
            for problem in encoder.check_data(state.cohort.modalities[task.modality]):
                out.append(f"{state.config.source}: {field}: {problem}")
    return out
