"""Turn finished cells into the run's tables: results.csv, summary.csv, predictions.csv, manifest.

``results.csv`` is long: one row per scenario, method, split, repeat, fold and metric.
``summary.csv`` has one row per scenario and method: subjects, and for each metric the
cross-validated mean and standard deviation (over folds, ddof 1) and the external-test value.
Values are written with six decimals (probabilities in full), in plan order, so the same
config and seed give byte-identical files.
"""

from __future__ import annotations

import platform
from importlib import metadata

import numpy as np
import pandas as pd

from fusionkit import __version__
from fusionkit.config import scenario_name
from fusionkit.experiment.cells import robustness_notes
from fusionkit.experiment.comparison import comparison_frame, intervals_frame
from fusionkit.experiment.metrics import headline_metric
from fusionkit.experiment.records import CellResult
from fusionkit.experiment.store import write_atomic, write_json


def _fmt(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.6f}"


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


def results_frame(state, payloads: list[CellResult]) -> pd.DataFrame:
    metrics = state.config.evaluation.metrics
    rows = [(*_where(p), metric, p.metrics.get(metric)) for p in payloads for metric in metrics]
    return _whole_numbers(pd.DataFrame(rows, columns=[*WHERE, "metric", "value"]))


def summary_frame(state, results: pd.DataFrame, failed: set[str] = frozenset()) -> pd.DataFrame:
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
        have = cohort.available[list(scenario)].to_numpy()
        scored = have.all(axis=1) if policy == "complete_case" else have.any(axis=1)
        n = int((scored & tested).sum())
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


def predictions_frame(state, payloads: list[CellResult]) -> pd.DataFrame:
    classes = state.cohort.classes
    rows = []
    for p in payloads:
        pred = p.predictions
        for subject, y, proba in zip(pred.ids, pred.y_true, pred.proba, strict=True):
            rows.append([*_where(p), subject, classes[y], classes[int(np.argmax(proba))], *proba])
    columns = [*WHERE, "subject_id", "y_true", "y_pred"]
    return _whole_numbers(pd.DataFrame(rows, columns=columns + [f"p_{c}" for c in classes]))


def per_class_frame(state, payloads: list[CellResult]) -> pd.DataFrame:
    """Long table of per-class metrics: scenario, method, split, repeat, fold, class, metric,
    value."""
    rows = [
        (*_where(p), name, metric, value)
        for p in payloads
        for name, metrics in p.per_class.items()
        for metric, value in metrics.items()
    ]
    return _whole_numbers(pd.DataFrame(rows, columns=[*WHERE, "class", "metric", "value"]))


def _csv(frame: pd.DataFrame, exact: tuple[str, ...] = (), scheme: str = "kfold") -> bytes:
    """CSV with numbers at six decimals, except the ``exact`` columns (the predictions'
    probabilities), written in full (shortest exact form), so they can be re-scored exactly.
    Under a predefined split the scheme's scored part is called ``test`` (``cv`` in k-fold and
    hold-out), the external cohort ``external``."""
    out = frame.copy()
    if scheme == "predefined" and "split" in out.columns:
        out["split"] = out["split"].replace({"cv": "test"})
    for column in out.columns:
        if column in exact:
            out[column] = [
                "" if v is None or not np.isfinite(v) else repr(float(v)) for v in out[column]
            ]
        elif out[column].dtype.kind == "f" or column == "value":
            out[column] = [_fmt(None if v is None else float(v)) for v in out[column]]
    return out.to_csv(index=False, lineterminator="\n").encode()


def versions() -> dict[str, str]:
    out = {"fusionkit": __version__, "python": platform.python_version()}
    for package in ("torch", "monai", "scikit-learn", "xgboost", "numpy", "pandas", "pydantic"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def encoder_summary(state, store) -> tuple[dict[str, int], dict[str, list[str]], dict[str, float]]:
    """Encoder trainings vs uses, named output columns per modality/encoder, seconds per task.

    Each distinct encoder task's stored file is read once (its metadata only).
    """
    from fusionkit.experiment.cells import cell_tasks

    tasks = [t for c in state.plan.cells for t in cell_tasks(state, c)]
    unique = {t.name: t for t in tasks}
    counts = {
        "trainings": len(unique),
        "uses": len(tasks),
        "saved_by_cache": len(tasks) - len(unique),
    }
    names: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for name, task in unique.items():
        took, columns = store.encoder_meta(name)
        if took is not None:
            seconds[f"encoder:{name}"] = round(took, 3)
        if columns:
            names.setdefault(f"{task.modality}/{task.spec.type}", columns)
    return counts, names, seconds


def robustness_frame(state, plain: list[CellResult], perturbed: list[CellResult]) -> pd.DataFrame:
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


def choices_frame(state, payloads: list[CellResult]) -> pd.DataFrame:
    """The method each ``auto`` cell chose by nested CV, with every candidate's inner score."""
    n_folds = state.config.evaluation.cv_folds
    rows = []
    for p in payloads:
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


def modality_frames(state, payloads: list[CellResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fusions' per-modality outputs: each modality's own probabilities per test subject
    (`api.DecidesPerModality`) or its per-subject weight (`gate`, `api.WeighsModalities`), and
    each modality's weight per fold."""
    classes = state.cohort.classes
    n_folds = state.config.evaluation.cv_folds
    outputs, weights = [], []
    for p in payloads:
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


def components(state) -> list[dict[str, str]]:
    """Every component the run uses, with the distribution and version that provided it."""
    from fusionkit.config import spec_identity

    config = state.config
    specs = [*config.methods, *config.encoders.values(), config.runtime.executor]
    for modality in config.data.modalities.values():
        specs += [s for s in (modality.reader, modality.features) if s is not None]
    from fusionkit.experiment.cells import cell_encoders

    for c in state.plan.cells:
        specs += [t.spec for t in cell_encoders(state, c)]
    seen = {tuple(i) for s in specs for i in spec_identity(s)}
    keys = ("kind", "name", "distribution", "version")
    return [dict(zip(keys, i, strict=True)) for i in sorted(seen)]


def write_outputs(outcome) -> dict[str, pd.DataFrame]:
    """Write every table, the manifest and the report for the run's finished cells."""
    state, store = outcome.state, outcome.store
    run_dir = store.root
    scheme = state.config.evaluation.scheme
    payloads = outcome.results
    results = results_frame(state, payloads)
    summary = summary_frame(state, results, set(outcome.failures))
    predictions = predictions_frame(state, payloads)
    write_atomic(run_dir / "results.csv", _csv(results, scheme=scheme))
    write_atomic(run_dir / "summary.csv", _csv(summary, scheme=scheme))
    probabilities = tuple(f"p_{c}" for c in state.cohort.classes)
    write_atomic(run_dir / "predictions.csv", _csv(predictions, probabilities, scheme))
    per_class = per_class_frame(state, payloads)
    write_atomic(run_dir / "per_class.csv", _csv(per_class, scheme=scheme))
    intervals = intervals_frame(state, payloads)
    comparison = comparison_frame(state, summary, payloads)
    write_atomic(run_dir / "intervals.csv", _csv(intervals, scheme=scheme))
    write_atomic(run_dir / "comparison.csv", _csv(comparison, scheme=scheme))
    robustness = relative = None
    configured = {s.type for s in state.config.evaluation.robustness}
    if configured:
        chosen = [r for r in outcome.robustness if r.variant.partition("=")[0] in configured]
        robustness = robustness_frame(state, outcome.results, chosen)
        outcome.notes.extend(robustness_notes(state))  # printed by `fusionkit run` too
        write_atomic(run_dir / "robustness.csv", _csv(robustness, scheme=scheme))
        metric = headline_metric(state.config.evaluation.metrics)
        relative = relative_robustness(robustness, metric).assign(metric=metric)
        write_atomic(run_dir / "robustness_summary.csv", _csv(relative, scheme=scheme))
    choices = choices_frame(state, payloads)
    if not choices.empty:
        write_atomic(run_dir / "choices.csv", _csv(choices, scheme=scheme))
    outputs, weights = modality_frames(state, payloads)
    if not weights.empty or not outputs.empty:
        write_atomic(run_dir / "modality_outputs.csv", _csv(outputs, scheme=scheme))
        write_atomic(run_dir / "modality_weights.csv", _csv(weights, scheme=scheme))
    contribution, notes = None, []
    if state.config.evaluation.contribution:
        from fusionkit.experiment.contribution import contribution_frame

        contribution, notes = contribution_frame(state, payloads, outcome.robustness)
        outcome.notes.extend(notes)  # printed by `fusionkit run` as well as kept in the manifest
        write_atomic(run_dir / "contribution.csv", _csv(contribution, scheme=scheme))
    counts, names, seconds = encoder_summary(state, store)
    cell_seconds = {f"cell:{p.id}": round(p.seconds, 3) for p in payloads}
    write_json(
        run_dir / "manifest.json",
        {
            "config": state.config.model_dump(mode="json"),
            "config_file": str(state.config.source),
            "overrides": list(state.config.overrides),
            "seed": state.config.seed,
            "versions": versions(),
            "data_fingerprints": state.fingerprints,
            "cohort_notes": state.cohort.notes + state.cohort.warnings,
            "contribution_notes": notes,
            "robustness_notes": robustness_notes(state),
            "cells": {"planned": len(state.plan.evaluated), "finished": len(payloads)},
            "final_models": [c.id for c in state.plan.finals],
            "components": components(state),
            "skipped": [list(s) for s in state.plan.skipped],
            "encoders": counts,
            "feature_names": names,
            "timings_seconds": dict(sorted({**seconds, **cell_seconds}.items())),
            "this_invocation": {
                "cells_run": outcome.cells_run,
                "cells_reused": outcome.cells_reused,
                "encoder_trainings": outcome.encoder_trainings,
                "failed": {name: f.message for name, f in outcome.failures.items()},
                "seconds": round(outcome.seconds, 3),
            },
        },
    )
    from fusionkit.experiment.report import write_report

    write_report(
        state,
        run_dir,
        summary,
        payloads,
        names,
        outcome.failures,
        contribution,
        robustness,
        relative,
        weights,
        choices,
        intervals,
        comparison,
    )
    return {
        "results": results,
        "summary": summary,
        "predictions": predictions,
        "comparison": comparison,
    }
