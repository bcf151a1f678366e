"""The report's tables as text: each frame formatted for reading (``mean ± sd``, blanks where a
pair has no value), and Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionkit.config import scenario_name

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState


def fusion_methods(state: RunState) -> set[str]:
    """The run's methods that are fusion strategies (not shallow classifiers)."""
    return {m.label for m in state.config.methods if m.component.kind == "fusion"}


def comparison_table(comparison: pd.DataFrame, over_folds: bool = True) -> pd.DataFrame:
    """Each method's best fusion against the best single modality; the fold statistics only
    where there are folds (``over_folds``): one test split has the bootstrap interval alone."""
    rows = comparison[comparison.comparison != "best fusion"]
    external = rows.external_difference.notna().any()
    out = pd.DataFrame(
        {
            "fusion": rows.fusion,
            "score": [f"{v:.3f}" for v in rows.fusion_mean],
            "vs best single": [f"{v:+.3f}" for v in rows.difference],
        }
    )
    if over_folds:
        out["95 % CI (folds)"] = [
            f"{a:+.3f} to {b:+.3f}" for a, b in zip(rows.ci_low, rows.ci_high, strict=True)
        ]
    out["95 % CI (bootstrap)"] = [
        f"{a:+.3f} to {b:+.3f}" for a, b in zip(rows.boot_low, rows.boot_high, strict=True)
    ]
    if over_folds:
        out["p (t, corrected)"] = [f"{v:.2g}" for v in rows.p_corrected_t]
        out["p (Wilcoxon)"] = [f"{v:.2g}" for v in rows.p_wilcoxon]
    out["subjects"] = rows.shared_subjects.astype(int)
    if external:
        out["external"] = [
            "" if pd.isna(d) else f"{d:+.3f} ({a:+.3f} to {b:+.3f})"
            for d, a, b in zip(
                rows.external_difference, rows.external_low, rows.external_high, strict=True
            )
        ]
    return out


REPORT_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "auroc")


def summary_table(state: RunState, summary: pd.DataFrame) -> pd.DataFrame:
    """The report's table: headline metrics only (every metric is in summary.csv)."""
    metrics = [m for m in state.config.evaluation.metrics if m in REPORT_METRICS]
    metrics = metrics or state.config.evaluation.metrics[:4]
    out = summary.reindex(columns=["scenario", "method", "n_subjects"]).copy()
    if summary.empty:
        return out
    fusions = fusion_methods(state)
    out["method"] = [
        f"{m} †" if m in fusions and "+" not in s else m
        for s, m in zip(out.scenario, out.method, strict=True)
    ]
    if summary.folds_failed.sum() or summary.external_failed.fillna(0).sum():
        out["folds ok"] = [
            f"{ok} of {ok + bad}" + (" (external failed)" if ext else "")
            for ok, bad, ext in zip(
                summary.folds_ok,
                summary.folds_failed,
                summary.external_failed.fillna(0),
                strict=True,
            )
        ]
    for metric in metrics:
        mean, sd = summary[f"{metric}_mean"], summary[f"{metric}_std"]
        out[metric] = [
            "" if pd.isna(m) else f"{m:.3f} ± {s:.3f}" if pd.notna(s) else f"{m:.3f}"
            for m, s in zip(mean, sd, strict=True)
        ]
        if summary[f"{metric}_external"].notna().any():
            out[f"{metric} (ext.)"] = [
                "" if pd.isna(v) else f"{v:.3f}" for v in summary[f"{metric}_external"]
            ]
    return out


def robustness_table(robustness: pd.DataFrame, metric: str, order: list[str]) -> pd.DataFrame:
    """scenario x method rows, one column per perturbation setting (CV mean)."""
    part = robustness[(robustness.split == "cv") & (robustness.metric == metric)].copy()
    part["column"] = [
        "none" if p == "none" else f"{p}={s}"
        for p, s in zip(part.perturbation, part.level, strict=True)
    ]
    part["value"] = part.value.astype(float)
    wide = part.pivot_table(
        index=["scenario", "method"], columns="column", values="value", aggfunc="mean", sort=False
    )
    columns = [c for c in dict.fromkeys(part.column) if c != "none"]
    kinds = list(dict.fromkeys([*order, *(c.split("=")[0] for c in columns)]))
    columns.sort(key=lambda c: kinds.index(c.split("=")[0]))  # stable: settings keep their order
    wide = wide[["none", *columns]].round(3)
    wide = wide.astype(object).where(wide.notna(), "").reset_index()  # not applicable: blank
    wide.columns.name = None
    return wide


def contribution_table(contribution: pd.DataFrame, measure: str = "shapley") -> pd.DataFrame:
    """method x modality: 'mean ± sd' of one measure (Shapley values, permutation drops)."""
    stats = contribution[
        contribution.fold.isin(["mean", "std"]) & (contribution.measure == measure)
    ]
    wide = stats.pivot_table(
        index=["method", "modality"], columns="fold", values="value", sort=False
    )
    out = wide.reset_index()
    out["shapley"] = [
        f"{m:+.3f} ± {s:.3f}" if pd.notna(s) else f"{m:+.3f}"
        for m, s in zip(out["mean"], out.get("std", pd.Series([np.nan] * len(out))), strict=True)
    ]
    pivot = out.pivot(index="method", columns="modality", values="shapley")
    # the config's modality and method order, among those this measure has rows for (a
    # method may have permutation drops but no Shapley values, or the other way round)
    order = [m for m in dict.fromkeys(contribution.modality) if m in pivot.columns]
    methods = [m for m in dict.fromkeys(contribution.method) if m in pivot.index]
    pivot = pivot.loc[methods, order].reset_index()
    pivot.columns.name = None
    return pivot


def relative_table(relative: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """scenario x method rows, one 'mean ± sd' column of relative robustness per perturbation."""
    out = relative.copy()
    out["cell"] = [
        f"{m:.3f} ± {s:.3f}" if pd.notna(s) else (f"{m:.3f}" if pd.notna(m) else "")
        for m, s in zip(out.relative_mean, out.relative_std, strict=True)
    ]
    kinds = sorted(
        set(out.perturbation), key=lambda k: order.index(k) if k in order else len(order)
    )
    return _by_scenario_method(out, "perturbation", "cell", kinds, "first")


def choices_table(choices: pd.DataFrame) -> pd.DataFrame:
    """scenario x method rows of `auto`: how often each candidate was chosen (CV folds)."""
    part = choices[(choices.split == "cv") & choices.chosen]
    rows = []
    for (scenario, method), group in part.groupby(["scenario", "method"], sort=False):
        counts = group.candidate.value_counts()
        picks = ", ".join(f"{c} ({n} of {len(group)})" for c, n in counts.items())
        rows.append({"scenario": scenario, "method": method, "chosen in the folds": picks})
    return pd.DataFrame(rows)


def weights_table(weights: pd.DataFrame) -> pd.DataFrame:
    """scenario x method rows of fusions that weigh modalities: each one's mean weight (CV)."""
    part = weights[(weights.split == "cv") & weights.scenario.str.contains("+", regex=False)]
    part = part.assign(weight=part.weight.round(3))
    return _by_scenario_method(part, "modality", "weight", list(dict.fromkeys(part.modality)))


def _by_scenario_method(
    frame: pd.DataFrame, columns: str, values: str, order: list[str], aggfunc: str = "mean"
) -> pd.DataFrame:
    """One row per scenario x method (in order of appearance), one column per ``columns``
    value (in ``order``), blank where a pair has none."""
    wide = frame.pivot_table(
        index=["scenario", "method"], columns=columns, values=values, aggfunc=aggfunc, sort=False
    )
    wide = wide[[c for c in order if c in wide.columns]]
    if aggfunc == "mean":
        wide = wide.round(3)
    wide = wide.astype(object).where(wide.notna(), "").reset_index()
    wide.columns.name = None
    return wide


def markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows])


def subjects_table(state: RunState) -> pd.DataFrame:
    """Subjects and class counts per scenario under the missing-modality policy."""
    cohort, policy = state.cohort, state.config.evaluation.missing
    rows = []
    for scenario in state.plan.scenarios:
        keep = cohort.scored(scenario, policy)
        counts = np.bincount(cohort.y[keep], minlength=len(cohort.classes))
        row = {"scenario": scenario_name(scenario), "subjects": int(keep.sum())}
        if len(scenario) > 1 and policy != "complete_case":
            row["with every modality"] = int(cohort.complete(scenario).sum())
        rows.append({**row, **dict(zip(cohort.classes, counts.tolist(), strict=True))})
    frame = pd.DataFrame(rows)
    if "with every modality" in frame:
        frame["with every modality"] = [
            "" if pd.isna(v) else str(int(v)) for v in frame["with every modality"]
        ]
    return frame


def reading_notes(state: RunState) -> list[str]:
    """How the cohorts were read (subjects missing a modality, visits chosen, ids ignored) as a
    list under the subjects table; warnings marked as such."""
    items = []
    for cohort, where in ((state.cohort, ""), (state.external, "external set: ")):
        if cohort is not None:
            items += [f"- {where}{note}" for note in cohort.notes]
            items += [f"- **warning**: {where}{warning}" for warning in cohort.warnings]
    return ["How the data was read:", "", *items, ""] if items else []


def per_class_table(state: RunState, results, labels: list[str]) -> pd.DataFrame:
    """Per-class precision, recall and F1 (mean over folds) of the given scenario x method."""
    classes = state.cohort.classes
    rows = []
    for label in labels:
        scenario, method = label.split(" x ", 1)
        cells = [
            p
            for p in results
            if p.split == "cv" and p.method == method and scenario_name(p.scenario) == scenario
        ]
        for name in classes:
            values = [p.per_class[name] for p in cells if name in p.per_class]
            if not values:
                continue
            row = {"model": label, "class": name}
            for metric in ("precision", "recall", "f1", "support"):
                v = np.mean([m[metric] for m in values])
                row[metric] = f"{v:.1f}" if metric == "support" else f"{v:.3f}"
            rows.append(row)
    return pd.DataFrame(rows)
