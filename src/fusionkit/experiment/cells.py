"""Run one cell: select its subjects, gather their features, fit on training, score the test.

Training subjects are the fold's training part (the whole cohort for the external test); test
subjects are the fold's test part (the external cohort). ``missing: complete_case`` keeps the
subjects having every modality of the scenario; ``missing: available`` keeps those having at
least one, and the strategy sees which are absent.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fusionkit import __version__
from fusionkit.config import ClassifierSpec, MethodSpec
from fusionkit.data.cohort import Cohort
from fusionkit.experiment.features import EncoderTask, load_embeddings
from fusionkit.experiment.metrics import compute_metrics
from fusionkit.experiment.planner import Cell, method_encoders
from fusionkit.experiment.state import RunState, digest, spec_payload
from fusionkit.fusion.base import FusionInput
from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams


def fold_key(cell: Cell) -> str:
    return "all" if cell.split == "external" else f"r{cell.repeat}f{cell.fold}"


def cell_tasks(state: RunState, cell: Cell) -> list[EncoderTask]:
    """The encoder outputs a cell needs (none for a method training its encoders end to end)."""
    method = state.method(cell.method)
    if getattr(method.resolved_params, "end_to_end", False):
        return []
    specs = method_encoders(method, state.config, cell.scenario)
    assert not isinstance(specs, str)
    return [EncoderTask(m, spec, fold_key(cell)) for m, spec in specs.items()]


def cell_key(state: RunState, cell: Cell) -> str:
    method = state.method(cell.method)
    tasks = cell_tasks(state, cell)
    return digest(
        [
            __version__,
            state.config.seed,
            cell.id,
            spec_payload(method),
            [spec_payload(t.spec) for t in tasks],
            state.folds_key,
            # what changes a cell's fit or predictions; not which metrics are reported
            state.config.evaluation.model_dump(mode="json", exclude={"metrics", "external"}),
            state.config.runtime.threads,
            state.config.output.checkpoints,
            sorted(state.fingerprints.items()),
        ]
    )


def build_method(method: MethodSpec) -> Any:
    """The fusion object of a method; a classifier becomes feature-level fusion of raw columns."""
    if method.component.kind != "classifier":
        return method.build()
    spec = ClassifierSpec(type=method.type, params=method.params)
    spec._component, spec._params = method.component, method.resolved_params
    return FeatureLevel(FeatureLevelParams(features="raw", classifier=spec))


def _subjects(cohort: Cohort, positions: np.ndarray, scenario, policy: str) -> np.ndarray:
    have = cohort.available[list(scenario)].to_numpy()[positions]
    keep = have.all(axis=1) if policy == "complete_case" else have.any(axis=1)
    return positions[keep]


def _inputs(
    cohort: Cohort,
    positions: np.ndarray,
    tasks: list[EncoderTask],
    embeddings: dict[str, dict[str, np.ndarray]],
    prefix: str,
) -> FusionInput:
    ids = [cohort.ids[p] for p in positions]
    features, available, data = {}, {}, {}
    for task in tasks:
        m = task.modality
        has = cohort.available[m].to_numpy()[positions]
        table = embeddings.get(m)  # None: the method trains this encoder itself
        dim = len(next(iter(table.values()))) if table else 1
        block = np.full((len(ids), dim), np.nan, dtype=np.float32)
        for row, (subject, present) in enumerate(zip(ids, has, strict=True)):
            if present and table is not None:
                block[row] = table[prefix + subject]
        features[m], available[m] = block, has
        data[m] = cohort.modalities[m].subset([i for i, h in zip(ids, has, strict=True) if h])
    return FusionInput(ids, features, available, data, {t.modality: t.spec for t in tasks})


def checkpoint_file(state: RunState, cell: Cell):
    return state.run_dir / "checkpoints" / f"{cell.id}.pt"


def save_checkpoint(state: RunState, cell: Cell, model: Any) -> None:
    """The fitted model of a cell with what it needs to predict (a pickle, like a saved
    scikit-learn model: load only checkpoints you made)."""
    import io

    import torch

    from fusionkit.experiment.store import write_atomic

    buffer = io.BytesIO()
    torch.save(
        {
            "model": model,
            "classes": state.cohort.classes,
            "scenario": list(cell.scenario),
            "method": cell.method,
            "cell": cell.id,
        },
        buffer,
    )
    write_atomic(checkpoint_file(state, cell), buffer.getvalue())


def run_cell(state: RunState, cell: Cell) -> dict:
    """Fit and score one cell; returns the payload written to ``cells/<id>.json``."""
    start = time.perf_counter()
    policy = state.config.evaluation.missing
    cohort = state.cohort
    if cell.split == "external":
        assert state.external is not None
        test_cohort = state.external
        train = _subjects(cohort, np.arange(len(cohort.ids)), cell.scenario, policy)
        test = _subjects(test_cohort, np.arange(len(test_cohort.ids)), cell.scenario, policy)
        prefix = "external:"
    else:
        fold = state.fold(fold_key(cell))
        assert fold is not None
        test_cohort = cohort
        train = _subjects(cohort, fold.train, cell.scenario, policy)
        test = _subjects(cohort, fold.test, cell.scenario, policy)
        prefix = ""
    method = state.method(cell.method)
    specs = method_encoders(method, state.config, cell.scenario)
    assert not isinstance(specs, str)
    tasks = [EncoderTask(m, spec, fold_key(cell)) for m, spec in specs.items()]
    cached = {t.name for t in cell_tasks(state, cell)}
    embeddings = {t.modality: load_embeddings(state, t) for t in tasks if t.name in cached}
    train_in = _inputs(cohort, train, tasks, embeddings, "")
    test_in = _inputs(test_cohort, test, tasks, embeddings, prefix)
    model = build_method(state.method(cell.method))
    model.fit(train_in, cohort.y[train], state.ctx.derive("cell", cell.id))
    proba = np.asarray(model.predict_proba(test_in), dtype=np.float64)
    y_test = test_cohort.y[test]
    metrics, per_class = compute_metrics(y_test, proba, len(cohort.classes))
    if state.config.output.checkpoints:
        save_checkpoint(state, cell, model)
    history = getattr(model, "history_", None)
    return {
        "history": None
        if history is None
        else {
            "train_loss": history.train_loss,
            "val_loss": history.val_loss,
            "val_accuracy": history.val_accuracy,
            "best_epoch": history.best_epoch,
        },
        "id": cell.id,
        "key": cell_key(state, cell),
        "scenario": list(cell.scenario),
        "method": cell.method,
        "split": cell.split,
        "repeat": cell.repeat,
        "fold": cell.fold,
        "n_train": len(train),
        "n_test": len(test),
        "metrics": metrics,
        "per_class": {cohort.classes[int(c)]: v for c, v in per_class.items()},
        "predictions": {
            "ids": test_in.ids,
            "y_true": y_test.tolist(),
            "proba": np.round(proba, 6).tolist(),
        },
        "seconds": time.perf_counter() - start,
    }
