"""How sure is each result: confidence intervals (``intervals.csv``) and paired comparisons of
fusion with the best single modality (``comparison.csv``), on the headline metric.

Intervals, per scenario x method:

- ``fold_low``/``fold_high``: the t-interval of the mean over cross-validation folds (repeats
  included), mean ± t(0.975, n - 1) sd / sqrt(n). The folds' training parts overlap, so this
  interval is on the narrow side; the differences below correct for that.
- ``boot_low``/``boot_high``: the percentile interval of the metric of the pooled out-of-fold
  predictions (first repeat), over subjects resampled with replacement
  (`scipy.stats.bootstrap`, seeded); on the external set, over its subjects.

Comparisons: the best fusion (any multi-modality scenario x method) and, for each method, its
best multi-modality scenario, against the best single-modality scenario x method. Always on
the subjects both sides scored: fold by fold, both are re-scored on the test subjects they
share (under ``missing: complete_case`` two scenarios can score different subjects), then the
mean fold difference with the corrected resampled t-test's interval and p-value (Nadeau and
Bengio 2003, `fusionkit.experiment.stats`) and the Wilcoxon signed-rank p-value; and a paired
subject bootstrap of the pooled difference. On the external set: the difference with its
paired bootstrap interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionkit.api import PredictionTask
from fusionkit.config import scenario_name
from fusionkit.experiment.records import CellResult
from fusionkit.experiment.stats import corrected_difference
from fusionkit.training.context import derived_seed

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState

RESAMPLES = 1000


def bootstrap_interval(
    task: PredictionTask,
    y: np.ndarray,
    probas: list[np.ndarray],
    metric: str,
    seed: int,
    resamples: int = RESAMPLES,
) -> tuple[float, float]:
    """95 % percentile interval of ``metric`` (or of the difference of two predictions' metric)
    over subjects resampled with replacement; NaN with fewer than two subjects."""
    from scipy.stats import bootstrap

    if len(y) < 2:
        return float("nan"), float("nan")
    result = bootstrap(
        (np.arange(len(y)),),
        task.statistic(np.asarray(y), probas, metric),
        n_resamples=resamples,
        vectorized=True,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return float(low), float(high)


def _cells(results: list[CellResult]) -> dict[tuple, CellResult]:
    return {(scenario_name(p.scenario), p.method, p.split, p.repeat, p.fold): p for p in results}


def _pooled(cells: list[CellResult], keep: set[str] | None = None):
    """(ids, y, proba) of the cells' predictions, optionally only the subjects in ``keep``."""
    ids, ys, ps = [], [], []
    for cell in cells:
        for subject, y, p in zip(
            cell.predictions.ids, cell.predictions.y_true, cell.predictions.proba, strict=True
        ):
            if keep is None or subject in keep:
                ids.append(subject)
                ys.append(y)
                ps.append(p)
    proba = np.array(ps, dtype=float).reshape(len(ys), -1)
    return ids, np.array(ys, dtype=int), proba


def intervals_frame(state: RunState, results: list[CellResult]) -> pd.DataFrame:
    """One row per scenario x method x split (cv, external) of the headline metric."""
    from scipy import stats

    task = state.task
    metric = task.headline(state.config.evaluation.metrics)
    groups: dict[tuple, list[CellResult]] = {}
    for p in results:
        groups.setdefault((scenario_name(p.scenario), p.method, p.split), []).append(p)
    rows = []
    for (scenario, method, split), cells in groups.items():
        values = np.array([c.metrics.get(metric, np.nan) for c in cells], dtype=float)
        values = values[np.isfinite(values)]
        first = [c for c in cells if c.repeat == 0]
        _, y, proba = _pooled(first)
        seed = derived_seed(state.config.seed, "bootstrap", scenario, method, split)
        low, high = bootstrap_interval(task, y, [proba], metric, seed)
        row = {
            "scenario": scenario,
            "method": method,
            "split": split,
            "metric": metric,
            "mean": values.mean() if len(values) else np.nan,
            "fold_low": np.nan,
            "fold_high": np.nan,
            "folds": len(values),
            "pooled": task.score(y, proba)[0][metric] if len(y) else np.nan,
            "boot_low": low,
            "boot_high": high,
            "n_subjects": len(y),
        }
        if split == "cv" and len(values) > 1:
            half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
            row["fold_low"], row["fold_high"] = row["mean"] - half, row["mean"] + half
        rows.append(row)
    scenarios = [scenario_name(s) for s in state.plan.scenarios]
    rows.sort(
        key=lambda r: (
            scenarios.index(r["scenario"]),
            state.plan.methods.index(r["method"]),
            r["split"] != "cv",
        )
    )
    return pd.DataFrame(rows)


def _paired(
    state: RunState, cells: dict, a: tuple[str, str], b: tuple[str, str], metric: str
) -> dict:
    """Fold-by-fold and bootstrap comparison of pair ``a`` against pair ``b`` on the subjects
    both scored."""
    from scipy import stats

    task = state.task
    keys = sorted(
        {(r, f) for (s, m, sp, r, f) in cells if (s, m) == a and sp == "cv"}
        & {(r, f) for (s, m, sp, r, f) in cells if (s, m) == b and sp == "cv"}
    )
    fold_a, fold_b, first_a, first_b, shared_first = [], [], [], [], set()
    for r, f in keys:
        ca, cb = cells[(*a, "cv", r, f)], cells[(*b, "cv", r, f)]
        shared = set(ca.predictions.ids) & set(cb.predictions.ids)
        if not shared:
            continue
        for cell, out in ((ca, fold_a), (cb, fold_b)):
            _, y, proba = _pooled([cell], shared)
            out.append(task.score(y, proba)[0][metric])
        if r == 0:
            first_a.append(ca)
            first_b.append(cb)
            shared_first |= shared
    fold_a, fold_b = np.array(fold_a, dtype=float), np.array(fold_b, dtype=float)
    ev = state.config.evaluation
    k = len(state.folds) if ev.scheme == "leave_out" else ev.cv_folds
    diff = corrected_difference(fold_a, fold_b, k)
    try:
        p_wilcoxon = float(stats.wilcoxon(fold_a - fold_b).pvalue)
    except ValueError:  # fewer than two folds, or all differences zero
        p_wilcoxon = float("nan")
    row = {
        "metric": metric,
        "fusion_mean": fold_a.mean() if len(fold_a) else np.nan,
        "single_mean": fold_b.mean() if len(fold_b) else np.nan,
        "difference": diff.mean,
        "ci_low": diff.low,
        "ci_high": diff.high,
        "p_corrected_t": diff.p,
        "p_wilcoxon": p_wilcoxon,
        "folds": diff.folds,
        "shared_subjects": len(shared_first),
    }
    seed = derived_seed(state.config.seed, "compare", *a, *b)
    row["boot_low"], row["boot_high"] = _paired_bootstrap(
        task, first_a, first_b, shared_first, metric, seed
    )
    ext_a = [c for k, c in cells.items() if k[:3] == (*a, "external")]
    ext_b = [c for k, c in cells.items() if k[:3] == (*b, "external")]
    row["external_difference"] = row["external_low"] = row["external_high"] = np.nan
    if ext_a and ext_b:
        shared = set(ext_a[0].predictions.ids) & set(ext_b[0].predictions.ids)
        _, y, pa = _pooled(ext_a, shared)
        _, _, pb = _pooled(ext_b, shared)
        if len(y):
            row["external_difference"] = task.score(y, pa)[0][metric] - task.score(y, pb)[0][metric]
            row["external_low"], row["external_high"] = _paired_bootstrap(
                task, ext_a, ext_b, shared, metric, seed + 1
            )
    return row


def _paired_bootstrap(task, cells_a, cells_b, shared, metric, seed) -> tuple[float, float]:
    ids_a, y, pa = _pooled(cells_a, shared)
    ids_b, _, pb = _pooled(cells_b, shared)
    position = {s: i for i, s in enumerate(ids_b)}
    pb = pb[[position[s] for s in ids_a]] if len(ids_a) else pb
    return bootstrap_interval(task, y, [pa, pb], metric, seed)


def comparison_frame(
    state: RunState, summary: pd.DataFrame, results: list[CellResult]
) -> pd.DataFrame:
    """Best fusion, and each method's best fusion, against the best single modality."""
    metric = state.task.headline(state.config.evaluation.metrics)
    column = f"{metric}_mean"
    columns = ["comparison", "fusion", "single"]
    if summary.empty or column not in summary:
        return pd.DataFrame(columns=columns)
    best, single = best_pairs(summary, metric)
    if best is None or single is None:
        return pd.DataFrame(columns=columns)
    scored = summary.dropna(subset=[column])
    fusions = scored[scored.scenario.str.contains("+", regex=False)]
    per_method = fusions.loc[fusions.groupby("method", sort=False)[column].idxmax()]
    cells = _cells(results)
    rows = []
    for kind, pairs in (
        ("best fusion", [best]),
        (
            "method's best fusion",
            zip(per_method.scenario, per_method.method, per_method[column], strict=True),
        ),
    ):
        for scenario, method, mean in pairs:
            rows.append(
                {
                    "comparison": kind,
                    "fusion": f"{scenario} x {method}",
                    "single": f"{single[0]} x {single[1]}",
                    **_paired(state, cells, (scenario, method), single[:2], metric),
                    "fusion_mean_own": float(mean),
                    "single_mean_own": single[2],
                }
            )
    return pd.DataFrame(rows)


def best_pairs(summary: pd.DataFrame, metric: str) -> tuple[tuple | None, tuple | None]:
    """(best multi-modality, best single-modality) ``(scenario, method, mean)`` by the
    cross-validated mean of ``metric`` (the first listed wins a tie)."""
    column = f"{metric}_mean"
    if summary.empty or column not in summary:
        return None, None
    ranked = summary.dropna(subset=[column]).sort_values(column, ascending=False, kind="stable")
    multi = ranked[ranked.scenario.str.contains("+", regex=False)]
    single = ranked[~ranked.scenario.str.contains("+", regex=False)]

    def pick(f: pd.DataFrame) -> tuple | None:
        return (f.scenario.iloc[0], f.method.iloc[0], float(f[column].iloc[0])) if len(f) else None

    return pick(multi), pick(single)
