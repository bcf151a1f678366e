"""A cell in two steps: fit on the training part -> a `FittedCell`; evaluate it on the test part
under a named variant -> a `CellResult`.

Training subjects are the fold's training part (the whole cohort for the external test and for
a final model); test subjects are the fold's test part (the external cohort). ``missing:
complete_case`` keeps the subjects having every modality of the scenario; ``missing:
available`` keeps those having at least one, and the strategy sees which are absent. Encoder
outputs reach a cell by value (``embeddings``: task name -> (ids, rows)), so a cell runs
wherever its executor puts it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fusionkit.api import (
    ChoosesMethod,
    DecidesPerModality,
    Failure,
    FitsOnTraining,
    Fusion,
    HasHistory,
    Perturbation,
    WeighsModalities,
    conforming,
)
from fusionkit.config import ClassifierSpec, MethodSpec, spec_data
from fusionkit.data.cohort import Cohort
from fusionkit.errors import InputError
from fusionkit.experiment.planner import Cell, EncoderTask
from fusionkit.experiment.records import (
    PLAIN,
    CellOutcome,
    CellResult,
    FittedCell,
    ModalityOutputs,
    Predictions,
    TrainingHistory,
)
from fusionkit.experiment.state import RunState
from fusionkit.fusion.base import FusionInput
from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams

Embeddings = dict[str, tuple[np.ndarray, np.ndarray]]


def build_method(method: MethodSpec) -> Any:
    """The fusion object of a method; a classifier becomes feature-level fusion of raw columns."""
    if method.component.kind != "classifier":
        return method.build()
    return FeatureLevel(FeatureLevelParams(features="raw", classifier=as_classifier(method)))


def as_classifier(method: MethodSpec) -> ClassifierSpec:
    spec = ClassifierSpec(type=method.type, params=method.params)
    spec._component, spec._params = method.component, method.resolved_params
    return spec


def method_data(method: MethodSpec) -> tuple[str, dict]:
    """(kind, spec data) that rebuilds the fitted object of a method from its kept state."""
    if method.component.kind != "classifier":
        return "fusion", spec_data(method)
    params = {"features": "raw", "classifier": spec_data(as_classifier(method))}
    return "fusion", {"type": "feature_level", "params": params}


def _subjects(cohort: Cohort, positions: np.ndarray, scenario, policy: str) -> np.ndarray:
    return positions[cohort.scored(scenario, policy)[positions]]


def make_inputs(
    cohort: Cohort,
    positions: np.ndarray,
    tasks: list[EncoderTask],
    embeddings: Embeddings,
    prefix: str = "",
) -> FusionInput:
    """The `FusionInput` of some subjects of ``cohort`` (external ones looked up with
    ``prefix``); modalities whose encoder output is not given carry only their data."""
    ids = [cohort.ids[p] for p in positions]
    features, available, data = {}, {}, {}
    for task in tasks:
        m = task.modality
        has = cohort.available[m].to_numpy()[positions]
        stored = embeddings.get(task.name)
        if stored is not None:
            row_of = {s: i for i, s in enumerate(stored[0].tolist())}
            block = np.full((len(ids), stored[1].shape[1]), np.nan, dtype=np.float32)
            rows = [
                (r, row_of[prefix + s]) for r, (s, h) in enumerate(zip(ids, has, strict=True)) if h
            ]
            if rows:
                block[[r for r, _ in rows]] = stored[1][[i for _, i in rows]]
        else:  # the method trains this encoder itself
            block = np.full((len(ids), 1), np.nan, dtype=np.float32)
        features[m], available[m] = block, has
        data[m] = cohort.modalities[m].subset([i for i, h in zip(ids, has, strict=True) if h])
    return FusionInput(ids, features, available, data, {t.modality: t.spec for t in tasks})


def _train_test(state: RunState, cell: Cell) -> tuple[np.ndarray, np.ndarray, Cohort, str]:
    """(training positions, test positions, test cohort, id prefix of the test cohort)."""
    policy = state.config.evaluation.missing
    cohort = state.cohort
    everyone = np.arange(len(cohort.ids))
    if cell.split == "final":
        return _subjects(cohort, everyone, cell.scenario, policy), everyone[:0], cohort, ""
    if cell.split == "external":
        assert state.external is not None
        ext = state.external
        test = _subjects(ext, np.arange(len(ext.ids)), cell.scenario, policy)
        return _subjects(cohort, everyone, cell.scenario, policy), test, ext, "external:"
    fold = state.fold(cell.fold_name)
    assert fold is not None
    train = _subjects(cohort, fold.train, cell.scenario, policy)
    return train, _subjects(cohort, fold.test, cell.scenario, policy), cohort, ""


def fit_cell(state: RunState, cell: Cell, embeddings: Embeddings) -> FittedCell:
    """Fit the cell's method on its training subjects only."""
    train, _, _, _ = _train_test(state, cell)
    cohort = state.cohort
    tasks = cell.encoders
    method = cell.spec
    model = conforming(build_method(method), Fusion, f"{method.component.kind} {method.type!r}")
    model.fit(
        make_inputs(cohort, train, tasks, embeddings),
        cohort.y[train],
        state.ctx.derive("cell", cell.id),
    )
    history = model.history_ if isinstance(model, HasHistory) else None
    kind, spec = method_data(method)
    stored = {t.name for t in cell.stored}
    modalities = {}
    for t in tasks:
        data = cohort.modalities[t.modality]
        modalities[t.modality] = {
            "kind": state.config.data.modalities[t.modality].kind,
            "columns": [str(c) for c in getattr(data, "columns", [])],
            "categorical": list(getattr(data, "categorical", [])),
            "encoder": spec_data(t.spec),
            "encoder_task": t.name if t.name in stored else None,
        }
    meta = {
        "cell": cell.id,
        "key": state.keys[cell.id],
        "scenario": list(cell.scenario),
        "method": cell.method,
        "method_kind": kind,
        "method_spec": spec,
        "split": cell.split,
        "classes": list(state.cohort.classes),
        "n_train": len(train),
        "missing": state.config.evaluation.missing,
        "modalities": modalities,
    }
    return FittedCell(meta, model, _history(history))


def _history(history: Any) -> TrainingHistory | None:
    if history is None:
        return None
    return TrainingHistory(
        train_loss=history.train_loss,
        val_loss=history.val_loss,
        val_accuracy=history.val_accuracy,
        best_epoch=history.best_epoch,
    )


class TestPart:
    """A cell's test part as inputs, built once and shared by every evaluation of the fitted
    cell: the plain one and each perturbation setting (the training inputs, and each
    perturbation fitted on them, only when a perturbation asks)."""

    def __init__(self, state: RunState, cell: Cell, embeddings: Embeddings):
        self.state, self.cell, self.embeddings = state, cell, embeddings
        self.train, test, cohort, prefix = _train_test(state, cell)
        self.inputs = make_inputs(cohort, test, cell.encoders, embeddings, prefix)
        self.y_of = dict(zip([cohort.ids[p] for p in test], cohort.y[test], strict=True))
        self._train: FusionInput | None = None
        self._perturbations: dict[str, Any] = {}

    def train_inputs(self) -> FusionInput:
        if self._train is None:
            self._train = make_inputs(
                self.state.cohort, self.train, self.cell.encoders, self.embeddings
            )
        return self._train

    def perturbation(self, variant: str) -> Any:
        """The perturbation behind ``variant``, built (and fitted on the training inputs, if
        it `FitsOnTraining`) once per cell."""
        spec = self.state.plan.perturbation(variant)
        if spec.type not in self._perturbations:
            built = conforming(spec.build(), Perturbation, f"perturbation {spec.type!r}")
            if isinstance(built, FitsOnTraining):
                built.fit(self.train_inputs())
            self._perturbations[spec.type] = built
        return self._perturbations[spec.type]


def evaluate(
    state: RunState,
    cell: Cell,
    fitted: FittedCell,
    embeddings: Embeddings,
    variant: str = PLAIN,
    encoders: dict[str, Any] | None = None,
    part: TestPart | None = None,
) -> CellResult:
    """Score a fitted cell on its test part; ``variant`` names how the test part is presented:
    ``plain`` (as it is) or a perturbation setting such as ``missing_rate=0.3``. A perturbation
    of the data (``table_noise``) needs the cell's fitted ``encoders`` (modality -> encoder;
    None where the method encodes itself) to re-encode what it changed. ``part``: the cell's
    `TestPart`, when several variants are evaluated."""
    start = time.perf_counter()
    part = part or TestPart(state, cell, embeddings)
    test_in = part.inputs
    if variant != PLAIN:
        test_in = perturbed(state, cell, part, variant, encoders)
    y_test = np.array(
        [part.y_of[s] for s in test_in.ids], dtype=int
    )  # a perturbation may leave some out
    proba = np.asarray(fitted.model.predict_proba(test_in), dtype=np.float64)
    classes = state.cohort.classes
    metrics, per_class = state.task.score(y_test, proba)
    return CellResult(
        id=cell.id,
        key=fitted.meta["key"],
        variant=variant,
        scenario=list(cell.scenario),
        method=cell.method,
        split=cell.split,  # type: ignore[arg-type]
        repeat=cell.repeat,
        fold=cell.fold,
        n_train=len(part.train),
        n_test=len(test_in.ids),
        metrics=metrics,
        per_class={classes[int(c)]: v for c, v in per_class.items()},
        predictions=Predictions(
            ids=test_in.ids, y_true=y_test.tolist(), proba=np.round(proba, 6).tolist()
        ),
        history=fitted.history,
        seconds=time.perf_counter() - start,
        modalities=_modality_outputs(fitted.model, test_in) if variant == PLAIN else None,
        choice=fitted.model.choice_ if isinstance(fitted.model, ChoosesMethod) else None,
    )


def _modality_outputs(model: Any, inputs: FusionInput) -> ModalityOutputs | None:
    if isinstance(model, DecidesPerModality):
        proba = {
            m: [None if np.isnan(row).any() else np.round(row, 6).tolist() for row in p]
            for m, p in model.modality_proba(inputs).items()
        }
        return ModalityOutputs(proba=proba, weights=model.modality_weights())
    if isinstance(model, WeighsModalities):
        gates = model.modality_gates(inputs)
        return ModalityOutputs(
            # a subject lacking a modality gives it weight 0: the shares sum to 1
            weights={
                m: float(np.nan_to_num(g).mean()) if len(g) else 0.0 for m, g in gates.items()
            },
            gates={
                m: [None if np.isnan(v) else round(float(v), 6) for v in g]
                for m, g in gates.items()
            },
        )
    return None


def perturbs_data(state: RunState, variant: str) -> bool:
    """Whether a variant changes the modalities' data (so it needs the fitted encoders)."""
    return state.plan.perturbation(variant).tags.perturbs_data


def perturbed(
    state: RunState,
    cell: Cell,
    part: TestPart,
    variant: str,
    encoders: dict[str, Any] | None = None,
) -> FusionInput:
    """The test inputs under a perturbation setting, seeded by fold and setting: the methods of
    a scenario face the same draw, and every scenario the same distorted image, so their
    curves are paired (and a distorted image is read once per fold). A perturbation that
    `FitsOnTraining` takes its scales from the cell's training inputs; modalities whose data
    it replaced are re-encoded through the fitted ``encoders``."""
    spec = state.plan.perturbation(variant)
    perturbation = part.perturbation(variant)
    test = part.inputs
    rng = np.random.default_rng(state.ctx.derive("perturb", cell.fold_name, variant).seed)
    out = perturbation.apply(test, variant, rng)
    if not spec.tags.perturbs_data:
        return out
    if encoders is None:
        raise ValueError(f"{variant} changes data: it needs the cell's fitted encoders")
    features = dict(out.features)
    tasks = {t.modality: t for t in cell.encoders}
    for m in out.modalities:
        encoder = encoders[m]
        if out.data.get(m) is test.data.get(m) or encoder is None:
            continue  # unchanged, or the method encodes this modality itself
        block = np.full_like(out.features[m], np.nan)
        rows = out.available[m]
        if rows.any():
            # every method of a scenario faces the same perturbed data in a fold: each encoder
            # task re-encodes it once
            key = (cell.scenario, cell.split, cell.fold_name, variant, tasks[m].name)
            if key not in state.reencoded:
                state.reencoded[key] = encoder.transform(out.data[m])
            block[rows] = state.reencoded[key]
            if np.array_equal(block[rows], out.features[m][rows], equal_nan=True):
                raise ValueError(  # a perturbation that cannot reach the model is no result
                    f"{variant}: the fitted encoder of {m!r} gives exactly its unperturbed "
                    "features, so it does not see the perturbation (an image encoder must read "
                    "pixels with ImageData.read)"
                )
        features[m] = block
    return FusionInput(out.ids, features, dict(out.available), dict(out.data), out.encoders)


def run_cell(
    state: RunState,
    cell: Cell,
    embeddings: Embeddings,
    encoders: dict[str, Any] | None = None,
) -> CellOutcome:
    """Fit, evaluate the plain variant, then each perturbation setting on the model just
    fitted (a final model is only fitted). ``encoders``: the cell's fitted encoders, needed
    when a setting perturbs the data (see `evaluate`)."""
    start = time.perf_counter()
    fitted = fit_cell(state, cell, embeddings)
    if cell.split == "final":
        return CellOutcome(fitted, None)
    part = TestPart(state, cell, embeddings)
    result = evaluate(state, cell, fitted, embeddings, part=part)
    result.seconds = time.perf_counter() - start
    scored, failed = evaluate_variants_of(
        state, cell, fitted, embeddings, list(cell.variants), encoders, part
    )
    return CellOutcome(fitted, result, scored, failed)


def evaluate_variants_of(
    state: RunState,
    cell: Cell,
    fitted: FittedCell,
    embeddings: Embeddings,
    settings: list[str],
    encoders: dict[str, Any] | None = None,
    part: TestPart | None = None,
) -> tuple[list[CellResult], dict[str, Failure]]:
    """The fitted cell under each perturbation setting; a setting that fails is returned as a
    `Failure` (reported by the run) and leaves the others, and the plain result, standing.
    Bad input still stops the run."""
    import traceback

    scored, failed = [], {}
    for setting in settings:
        try:
            part = part or TestPart(state, cell, embeddings)
            scored.append(evaluate(state, cell, fitted, embeddings, setting, encoders, part))
        except InputError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            failed[setting] = Failure(f"{type(exc).__name__}: {first}", traceback.format_exc())
    return scored, failed
