"""How much each modality contributes: exact Shapley values over modalities.

For a method evaluated on every subset of a cohort's modalities (``scenarios: all``), the value
of a subset is the headline metric of that subset's cell in a fold, computed on the test
subjects that *every* subset's cell of the fold scored — so all subsets are compared on the
same people. The empty subset is a prediction that ignores every input: classes guessed at
random with the training part's class frequencies (the expected score of scikit-learn's
``DummyClassifier(strategy="stratified")``), so a modality of pure noise adds nothing. A modality's
Shapley value is its average marginal gain over all orders in which modalities can be added;
the values of a fold sum to v(all) - v(none) exactly. Reported per fold and as mean and sd over
folds (``evaluation.contribution: true`` -> ``contribution.csv``). Nothing is refitted: the
values come from the cells' own test predictions.

Reference: L. S. Shapley, "A value for n-person games" (1953); per-modality Shapley values as
in HAIM (Soenksen et al., npj Digital Medicine 2022).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionkit.config import scenario_name
from fusionkit.experiment.records import CellResult

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState

COLUMNS = ["method", "modality", "measure", "metric", "fold", "value"]


def shapley_values(values: dict[frozenset[str], float], players: list[str]) -> dict[str, float]:
    """Exact Shapley values from the value of every subset of ``players`` (empty one included).

    >>> v = {frozenset(): 0.0, frozenset("a"): 0.5, frozenset("b"): 0.0, frozenset("ab"): 0.6}
    >>> {k: round(x, 3) for k, x in shapley_values(v, ["a", "b"]).items()}
    {'a': 0.55, 'b': 0.05}
    """
    n = len(players)
    out = {}
    for m in players:
        others = [p for p in players if p != m]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                base = frozenset(subset)
                total += weight * (values[base | {m}] - values[base])
        out[m] = total
    return out


def contribution_frame(
    state, results: list[CellResult], perturbed: list[CellResult] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Shapley rows per method and fold, permutation rows (the drop when one modality is
    shuffled across the test subjects of the full scenario's cells, mean over seeded repeats),
    their mean/sd over folds, and notes on what was left out."""
    config, cohort = state.config, state.cohort
    metric = state.task.headline(config.evaluation.metrics)
    players = list(config.data.modalities)
    subsets = [
        frozenset(c) for k in range(1, len(players) + 1) for c in itertools.combinations(players, k)
    ]
    by_key = {
        (frozenset(r.scenario), r.method, r.repeat, r.fold): r for r in results if r.split == "cv"
    }
    rows, notes = [], []
    if len(players) < 2:
        return pd.DataFrame(rows, columns=COLUMNS), ["contribution: a single modality"]
    n_folds = config.evaluation.cv_folds
    for method in state.plan.methods:
        per_fold = []
        for fold in state.folds:
            cells = [by_key.get((s, method, fold.repeat, fold.fold)) for s in subsets]
            if any(c is None for c in cells):
                break
            shared = set.intersection(*(set(c.predictions.ids) for c in cells))
            if not shared:
                continue
            values = {frozenset(): chance_score(state.task, cohort, fold, shared, metric)}
            for subset, cell in zip(subsets, cells, strict=True):
                values[subset] = _score(state.task, cell, shared, metric)
            per_fold.append((fold, shapley_values(values, players)))
        else:
            if not per_fold:
                notes.append(f"contribution: {method}: no test subject shared by all subsets")
            for fold, phi in per_fold:
                for m, value in phi.items():
                    index = str(fold.repeat * n_folds + fold.fold)
                    rows.append((method, m, "shapley", metric, index, value))
            continue
        notes.append(
            f"contribution: {method} is not evaluated on every subset of "
            f"{scenario_name(players)} (scenarios: all is needed)"
        )
    rows += _permutation_rows(state, results, perturbed, players, metric)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not frame.empty:
        keys = ["method", "modality", "measure"]
        stats = frame.groupby(keys, sort=False).value.agg(["mean", "std"])
        for (method, m, measure), row in stats.iterrows():
            for what in ("mean", "std"):
                rows.append((method, m, measure, metric, what, row[what]))
        frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame, notes


def _permutation_rows(state: RunState, results, perturbed, players, metric) -> list[tuple]:
    full = frozenset(players)
    n_folds = state.config.evaluation.cv_folds
    plain = {
        (r.method, r.repeat, r.fold): r.metrics.get(metric)
        for r in results
        if r.split == "cv" and frozenset(r.scenario) == full
    }
    drops: dict[tuple, list[float]] = {}
    for r in perturbed:
        kind, _, setting = r.variant.partition("=")
        if kind != "permute_modality" or r.split != "cv" or frozenset(r.scenario) != full:
            continue
        base = plain.get((r.method, r.repeat, r.fold))
        value = r.metrics.get(metric)
        if base is None or value is None:
            continue
        m = setting.split("/")[0]
        drops.setdefault((r.method, m, r.repeat * n_folds + r.fold), []).append(base - value)
    return [
        (method, m, "permutation", metric, str(fold), float(np.mean(values)))
        for (method, m, fold), values in drops.items()
    ]


def _score(task, cell: CellResult, shared: set[str], metric: str) -> float:
    keep = [i for i, s in enumerate(cell.predictions.ids) if s in shared]
    y = np.asarray(cell.predictions.y_true)[keep]
    proba = np.asarray(cell.predictions.proba, dtype=float)[keep]
    return float(task.score(y, proba)[0][metric])


def chance_score(task, cohort, fold, shared: set[str], metric: str) -> float:
    """The task's chance level of ``metric`` (e.g. guessing classes with the training part's
    frequencies) on the fold's test subjects in ``shared``."""
    y = cohort.y[[p for p in fold.test if cohort.ids[p] in shared]]
    return task.chance(cohort.y[fold.train], y, metric)
