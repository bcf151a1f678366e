"""The run's tables, built once in memory from its cell results: `RunTables`.

``results`` is long: one row per scenario, method, split, repeat, fold and metric.
``summary`` has one row per scenario and method: subjects, and for each metric the
cross-validated mean and standard deviation (over folds, ddof 1) and the external-test value.
Every output of a run (the CSV files, the manifest, the printed answer, the report) is a view
of `RunTables`; nothing is read back from a file to be understood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionkit.api import Failure
from fusionkit.config import scenario_name
from fusionkit.experiment.planner import robustness_notes
from fusionkit.experiment.records import CellResult
from fusionkit.outputs.comparison import comparison_frame, intervals_frame

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState


@dataclass
class RunTables:
    """Every table of a run (see module docstring). ``cell_results``: the plain evaluation of
    each finished cell, in plan order; ``variant_results``: their evaluations under the
    perturbation settings; the frames are named after their CSV files; ``notes``: what the
    tables leave out and why (printed by `fusionkit run`, kept in the manifest)."""

    cell_results: list[CellResult]
    variant_results: list[CellResult]
    failures: dict[str, Failure]
    results: pd.DataFrame
    summary: pd.DataFrame
    predictions: pd.DataFrame
    per_class: pd.DataFrame
    intervals: pd.DataFrame
    comparison: pd.DataFrame
    choices: pd.DataFrame
    modality_outputs: pd.DataFrame
    modality_weights: pd.DataFrame
    robustness: pd.DataFrame | None = None
    robustness_summary: pd.DataFrame | None = None
    contribution: pd.DataFrame | None = None
    robustness_notes: list[str] = field(default_factory=list)
    contribution_notes: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [*self.robustness_notes, *self.contribution_notes]


def build_tables(
    state,
    cell_results: list[CellResult],
    variant_results: list[CellResult],
    failures: dict[str, Failure],
) -> RunTables:
    """Every table of the run's finished cells, computed once."""
    results = results_frame(state, cell_results)
    summary = summary_frame(state, results, set(failures))
    outputs, weights = modality_frames(state, cell_results)
    tables = RunTables(
        cell_results=cell_results,
        variant_results=variant_results,
        failures=dict(failures),
        results=results,
        summary=summary,
        predictions=predictions_frame(state, cell_results),
        per_class=per_class_frame(state, cell_results),
        intervals=intervals_frame(state, cell_results),
        comparison=comparison_frame(state, summary, cell_results),
        choices=choices_frame(state, cell_results),
        modality_outputs=outputs,
        modality_weights=weights,
    )
    configured = {s.type for s in state.config.evaluation.robustness}
    if configured:
        chosen = [r for r in variant_results if r.variant.partition("=")[0] in configured]
        tables.robustness = robustness_frame(state, cell_results, chosen)
        tables.robustness_notes = robustness_notes(state.config)
        metric = state.task.headline(state.config.evaluation.metrics)
        relative = relative_robustness(tables.robustness, metric).assign(metric=metric)
        tables.robustness_summary = relative
    if state.config.evaluation.contribution:
        from fusionkit.outputs.contribution import contribution_frame

        tables.contribution, tables.contribution_notes = contribution_frame(
            state, cell_results, variant_results
        )
    return tables


WHERE = ["scenario", "method", "split", "repeat", "fold"]
"""The leading columns of every per-cell table: ``repeat`` and ``fold`` are numbers for the
cross-validation folds (``fold`` counts within its repeat) and empty on the external set."""


def _where(p: CellResult) -> tuple:
    cv = p.split == "cv"
    return (scenario_name(p.scenario), p.method, p.split, p.repeat if cv else None,
            p.fold if cv else None)  # fmt: skip


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    frame[["repeat", "fold"]] = frame[["repeat", "fold"]].astype("Int64")
    return frame


def results_frame(state: RunState, results: list[CellResult]) -> pd.DataFrame:
    metrics = state.config.evaluation.metrics
    rows = [(*_where(p), metric, p.metrics.get(metric)) for p in results for metric in metrics]
    return _whole_numbers(pd.DataFrame(rows, columns=[*WHERE, "metric", "value"]))


def summary_frame(
    state: RunState, results: pd.DataFrame, failed: set[str] = frozenset()
) -> pd.DataFrame:
    """One row per planned scenario x method, with the folds it averages (``folds_ok``) and
    those that failed (``folds_failed``, ``external_failed``): a mean is never over fewer folds
    silently, and a pair whose every cell failed still has its row."""
    metrics = state.config.evaluation.metrics
    cohort = state.cohort
    policy = state.config.evaluation.missing
    # subjects in some test part: everyone in k-fold, the test part of a hold-out or split
    tested = np.zeros(len(cohort.ids), dtype=bool)
    for fold in state.folds:
        tested[fold.test] = True
    rows = []
    for scenario in state.plan.scenarios:
        name = scenario_name(scenario)
        n = int((cohort.scored(scenario, policy) & tested).sum())
        for method in state.plan.methods:
            cells = state.plan.cells_for(scenario, method)
            if not cells:
                continue  # skipped by the plan (listed in the report)
            part = results[(results.scenario == name) & (results.method == method)]
            cv = [c for c in cells if c.split == "cv"]
            external_failed = [c for c in cells if c.split == "external" and c.id in failed]
            row: dict = {
                "scenario": name,
                "method": method,
                "missing": policy,
                "n_subjects": n,
                "folds_ok": len(part[part.split == "cv"].groupby(["repeat", "fold"])),
                "folds_failed": sum(c.id in failed for c in cv),
                "external_failed": len(external_failed) if state.plan.external else np.nan,
            }
            for metric in metrics:
                values = part[(part.metric == metric) & (part.split == "cv")]["value"]
                values = values.astype(float).dropna()
                external = part[(part.metric == metric) & (part.split == "external")]["value"]
                row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
                row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
                row[f"{metric}_external"] = (
                    float(external.iloc[0])
                    if len(external) and external.iloc[0] is not None
                    else np.nan
                )
            rows.append(row)
    columns = [
        "scenario",
        "method",
        "missing",
        "n_subjects",
        "folds_ok",
        "folds_failed",
        "external_failed",
    ] + [f"{metric}_{what}" for metric in metrics for what in ("mean", "std", "external")]
    frame = pd.DataFrame(rows, columns=columns)
    counts = ["folds_ok", "folds_failed", "external_failed"]
    frame[counts] = frame[counts].astype("Int64")  # whole numbers; empty without external
    return frame


def predictions_frame(state: RunState, results: list[CellResult]) -> pd.DataFrame:
    classes = state.cohort.classes
    rows = []
    for p in results:
        pred = p.predictions
        for subject, y, proba in zip(pred.ids, pred.y_true, pred.proba, strict=True):
            rows.append([*_where(p), subject, classes[y], classes[int(np.argmax(proba))], *proba])
    columns = [*WHERE, "subject_id", "y_true", "y_pred"]
    return _whole_numbers(pd.DataFrame(rows, columns=columns + [f"p_{c}" for c in classes]))


def per_class_frame(state: RunState, results: list[CellResult]) -> pd.DataFrame:
    """Long table of per-class metrics: scenario, method, split, repeat, fold, class, metric,
    value."""
    rows = [
        (*_where(p), name, metric, value)
        for p in results
        for name, metrics in p.per_class.items()
        for metric, value in metrics.items()
    ]
    return _whole_numbers(pd.DataFrame(rows, columns=[*WHERE, "class", "metric", "value"]))


def robustness_frame(
    state: RunState, plain: list[CellResult], perturbed: list[CellResult]
) -> pd.DataFrame:
    """Long table: scenario, method, split, repeat, fold, perturbation, level, metric, value; each
    perturbed cell next to its plain result (perturbation and level ``none``), the curve's
    reference. A level is a number (``missing_rate``, ``table_noise``...) or a modality
    (``drop_modality``)."""
    metrics = state.config.evaluation.metrics
    scored = {(tuple(r.scenario), r.method, r.split, r.repeat, r.fold) for r in perturbed}
    rows = []
    for r in [
        p for p in plain if (tuple(p.scenario), p.method, p.split, p.repeat, p.fold) in scored
    ] + perturbed:
        kind, _, setting = r.variant.partition("=")
        for metric in metrics:
            rows.append(
                (
                    *_where(r),
                    kind if setting else "none",
                    setting or "none",
                    metric,
                    r.metrics.get(metric),
                )
            )
    columns = [*WHERE, "perturbation", "level", "metric", "value"]
    return _whole_numbers(pd.DataFrame(rows, columns=columns))


def relative_robustness(robustness: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per scenario, method and perturbation (cross-validation folds): the mean score over the
    perturbation's levels as a fraction of the clean score, then mean and sd over folds.

    Numeric levels: the area under the score-vs-level curve divided by the range of levels
    (the clean score counts as level 0 when 0 is not listed); other levels (dropped
    modalities): the plain mean over them. 1 means no loss; 0.8 means a fifth of the score is
    lost on average over the range evaluated."""
    part = robustness[(robustness.split == "cv") & (robustness.metric == metric)].copy()
    part["value"] = pd.to_numeric(part.value, errors="coerce")
    keys = ["scenario", "method", "repeat", "fold"]
    clean = part[part.perturbation == "none"].set_index(keys).value
    rows = []
    for (scenario, method, kind, repeat, fold), group in part[part.perturbation != "none"].groupby(
        ["scenario", "method", "perturbation", "repeat", "fold"], sort=False
    ):
        reference = clean.get((scenario, method, repeat, fold), np.nan)
        levels = pd.to_numeric(group.level, errors="coerce")
        if levels.notna().all():
            curve = dict(zip(levels, group.value, strict=True))
            curve.setdefault(0.0, reference)
            x = np.array(sorted(curve))
            y = np.array([curve[v] for v in x], dtype=float)
            mean = np.trapezoid(y, x) / (x[-1] - x[0]) if len(x) > 1 else y[0]
        else:
            mean = group.value.mean()
        relative = mean / reference if reference and np.isfinite(reference) else np.nan
        rows.append((scenario, method, kind, fold, relative))
    frame = pd.DataFrame(rows, columns=["scenario", "method", "perturbation", "fold", "value"])
    stats = (
        frame.groupby(["scenario", "method", "perturbation"], sort=False)
        .value.agg(["mean", "std"])
        .reset_index()
    )
    return stats.rename(columns={"mean": "relative_mean", "std": "relative_std"})


def choices_frame(state: RunState, results: list[CellResult]) -> pd.DataFrame:
    """The method each ``auto`` cell chose by nested CV, with every candidate's inner score."""
    n_folds = state.config.evaluation.cv_folds
    rows = []
    for p in results:
        if p.choice is None:
            continue
        fold = "external" if p.split == "external" else str(p.repeat * n_folds + p.fold)
        for candidate, score in p.choice["scores"].items():
            chosen = candidate == p.choice["chosen"]
            rows.append(
                (scenario_name(p.scenario), p.method, p.split, fold, candidate, score, chosen)
            )
    columns = ["scenario", "method", "split", "fold", "candidate", "inner_score", "chosen"]
    return pd.DataFrame(rows, columns=columns)


def modality_frames(
    state: RunState, results: list[CellResult]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fusions' per-modality outputs: each modality's own probabilities per test subject
    (`api.DecidesPerModality`) or its per-subject weight (`gate`, `api.WeighsModalities`), and
    each modality's weight per fold."""
    classes = state.cohort.classes
    n_folds = state.config.evaluation.cv_folds
    outputs, weights = [], []
    for p in results:
        if p.modalities is None:
            continue
        fold = "external" if p.split == "external" else str(p.repeat * n_folds + p.fold)
        head = [scenario_name(p.scenario), p.method, p.split, fold]
        for m in dict.fromkeys([*p.modalities.proba, *p.modalities.gates]):
            probas = p.modalities.proba.get(m) or [None] * len(p.predictions.ids)
            gates = p.modalities.gates.get(m) or [None] * len(p.predictions.ids)
            for subject, proba, gate in zip(p.predictions.ids, probas, gates, strict=True):
                values = proba if proba is not None else [np.nan] * len(classes)
                outputs.append([*head, subject, m, *values, np.nan if gate is None else gate])
        for m, weight in p.modalities.weights.items():
            weights.append([*head, m, weight])
    columns = ["scenario", "method", "split", "fold"]
    return (
        pd.DataFrame(
            outputs,
            columns=columns + ["subject_id", "modality"] + [f"p_{c}" for c in classes] + ["gate"],
        ),
        pd.DataFrame(weights, columns=columns + ["modality", "weight"]),
    )
