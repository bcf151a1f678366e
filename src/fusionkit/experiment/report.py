"""The run report, answer first, as Markdown and as one self-contained HTML page.

At the top, the verdict: the best fusion against the best single modality with the difference,
its 95 % interval and p-values (`fusionkit.experiment.comparison`), and a forest plot of every
scenario x method with its intervals. Then each fusion strategy's comparison, the summary table,
subjects and classes per scenario, per-class scores, row-normalised confusion matrices, ROC
curves and calibration of the best fusion and the best single modality (`report_plots`), and
the robustness, nested-choice, modality-weight and contribution sections when configured.
``report.html`` is ``report.md`` rendered (Python-Markdown), figures embedded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit.config import scenario_name
from fusionkit.experiment.cells import robustness_notes
from fusionkit.experiment.comparison import best_pairs
from fusionkit.experiment.metrics import headline_metric
from fusionkit.experiment.records import CellResult

RELATIVE = (
    "Relative robustness (`robustness_summary.csv`): the mean score over each perturbation's "
    "levels (area under its curve, divided by the range of levels) as a fraction of the plain "
    "score; 1 = nothing lost. Mean ± sd over folds."
)
CHOICES = (
    "`auto` picks, in each fold, the candidate with the best inner cross-validated score on "
    "the training part; every candidate's inner score is in `choices.csv`."
)
WEIGHTS = (
    "Each modality's share of the combined decision (mean over folds) in the fusions that say "
    "it: decision-level (each modality's own probabilities per test subject are in "
    "`modality_outputs.csv`) and gated (the mean of its per-subject weights, which are in "
    "`modality_outputs.csv`, column `gate`); the weights per fold are in `modality_weights.csv`."
)


def _headline(state) -> str:
    return headline_metric(state.config.evaluation.metrics)


def _fusion_methods(state) -> set[str]:
    """The run's methods that are fusion strategies (not shallow classifiers)."""
    return {m.label for m in state.config.methods if m.component.kind == "fusion"}


def _pairs(comparison: pd.DataFrame) -> tuple[str | None, str | None]:
    """(best fusion, best single modality) as "scenario x method", from the comparison."""
    best = comparison[comparison.comparison == "best fusion"] if len(comparison) else comparison
    if len(best):
        return str(best.fusion.iloc[0]), str(best.single.iloc[0])
    return None, None


def _chance(state) -> float:
    """Mean over folds of the headline metric of guessing with the training frequencies."""
    from fusionkit.experiment.contribution import chance_score

    metric = _headline(state)
    values = [
        chance_score(state.cohort, fold, {state.cohort.ids[p] for p in fold.test}, metric)
        for fold in state.folds
    ]
    return float(np.mean(values)) if values else float("nan")


def verdict(comparison: pd.DataFrame) -> str | None:
    """The answer in one sentence: best fusion vs best single modality, with CI and p."""
    best = comparison[comparison.comparison == "best fusion"] if len(comparison) else comparison
    if best.empty:
        return None
    r = best.iloc[0]
    if not np.isfinite(r.difference):
        return None
    if int(r.folds) < 2:  # one split: the paired bootstrap over its test subjects is the CI
        return _one_split_verdict(r)
    significant = np.isfinite(r.p_corrected_t) and r.p_corrected_t < 0.05 and r.ci_low > 0
    if r.difference <= 0:
        outcome, tail = "does not beat", "fusion does not help here"
    elif significant:
        outcome, tail = "beats", "significant at the 5 % level"
    else:
        outcome, tail = "scores above", "not significant at the 5 % level"
    own = ""
    if (
        abs(r.single_mean - r.single_mean_own) > 5e-4
        or abs(r.fusion_mean - r.fusion_mean_own) > 5e-4
    ):
        own = (
            f" on the subjects both scored (on all of their own subjects: "
            f"{r.fusion_mean_own:.3f} and {r.single_mean_own:.3f})"
        )
    return (
        f"**{r.fusion}** ({r.metric} {r.fusion_mean:.3f}) {outcome} the best single modality, "
        f"**{r.single}** ({r.single_mean:.3f}){own}: difference {r.difference:+.3f}, 95 % CI "
        f"{r.ci_low:+.3f} to {r.ci_high:+.3f} (corrected resampled t-test p = "
        f"{r.p_corrected_t:.2g}; Wilcoxon p = {r.p_wilcoxon:.2g}; {int(r.folds)} folds, "
        f"{int(r.shared_subjects)} subjects scored by both): {tail}."
    )


def best_only(intervals: pd.DataFrame) -> str | None:
    """With no fusion to compare (one modality): the best scenario x method and its interval."""
    if intervals.empty:
        return None
    scored = intervals[(intervals.split != "external") & intervals["mean"].notna()]
    if scored.empty:  # (the scheme's scored part: "cv" in memory, "test" in a predefined CSV)
        return None
    r = scored.loc[scored["mean"].idxmax()]
    return (
        f"**{r.scenario} x {r.method}** scores best ({r.metric} {r['mean']:.3f}, 95 % CI "
        f"{r.boot_low:.3f} to {r.boot_high:.3f} by a subject bootstrap); no multi-modality "
        "scenario was run, so there is no fusion to compare."
    )


def _one_split_verdict(r) -> str:
    significant = np.isfinite(r.boot_low) and (r.boot_low > 0 or r.boot_high < 0)
    if r.difference <= 0:
        outcome = "does not beat"
    else:
        outcome = "beats" if significant and r.boot_low > 0 else "scores above"
    tail = "the interval excludes 0" if significant else "the interval includes 0"
    return (
        f"**{r.fusion}** ({r.metric} {r.fusion_mean:.3f}) {outcome} the best single modality, "
        f"**{r.single}** ({r.single_mean:.3f}) on the test split: difference "
        f"{r.difference:+.3f}, 95 % CI {r.boot_low:+.3f} to {r.boot_high:+.3f} (paired "
        f"bootstrap over the {int(r.shared_subjects)} test subjects both scored): {tail}."
    )


def _comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    rows = comparison[comparison.comparison != "best fusion"]
    external = rows.external_difference.notna().any()
    out = pd.DataFrame(
        {
            "fusion": rows.fusion,
            "score": [f"{v:.3f}" for v in rows.fusion_mean],
            "vs best single": [f"{v:+.3f}" for v in rows.difference],
            "95 % CI (folds)": [
                f"{a:+.3f} to {b:+.3f}" for a, b in zip(rows.ci_low, rows.ci_high, strict=True)
            ],
            "95 % CI (bootstrap)": [
                f"{a:+.3f} to {b:+.3f}" for a, b in zip(rows.boot_low, rows.boot_high, strict=True)
            ],
            "p (t, corrected)": [f"{v:.2g}" for v in rows.p_corrected_t],
            "p (Wilcoxon)": [f"{v:.2g}" for v in rows.p_wilcoxon],
            "subjects": rows.shared_subjects.astype(int),
        }
    )
    if external:
        out["external"] = [
            "" if pd.isna(d) else f"{d:+.3f} ({a:+.3f} to {b:+.3f})"
            for d, a, b in zip(
                rows.external_difference, rows.external_low, rows.external_high, strict=True
            )
        ]
    return out


def _plots(
    state,
    summary: pd.DataFrame,
    payloads: list[CellResult],
    intervals: pd.DataFrame,
    comparison: pd.DataFrame,
    folder: Path,
) -> dict[str, object]:
    """The report's figures (`report_plots`); returns what each wrote (Brier scores for
    ``calibration.png``)."""
    from fusionkit.experiment import report_plots

    folder.mkdir(parents=True, exist_ok=True)
    metric = _headline(state)
    written: dict[str, object] = {}
    if summary.empty:
        return written
    fusion, single = _pairs(comparison)
    fusions = _fusion_methods(state)
    marked = frozenset(
        f"{s} x {m}" for s, m in zip(summary.scenario, summary.method, strict=True)
        if m in fusions and "+" not in s
    )  # fmt: skip
    forest = folder / "forest.png"
    if report_plots.forest_plot(intervals, single, fusion, _chance(state), forest, marked):
        written["forest.png"] = True
    classes = state.cohort.classes
    top = summary.dropna(subset=[f"{metric}_mean"])
    top = top.sort_values(f"{metric}_mean", ascending=False).head(3)
    if len(top):
        models = [
            (f"{row.scenario} x {row.method}", *_oof(payloads, row.scenario, row.method))
            for _, row in top.iterrows()
        ]
        report_plots.confusion_plot(models, classes, folder / "confusion.png")
        written["confusion.png"] = True
    pairs = [label for label in (fusion, single) if label]
    if not pairs and len(top):
        pairs = [f"{top.iloc[0].scenario} x {top.iloc[0].method}"]
    models = [(label, *_oof(payloads, *label.split(" x ", 1))) for label in pairs]
    models = [m for m in models if len(m[1])]
    if models:
        if report_plots.roc_plot(models, classes, folder / "roc.png"):
            written["roc.png"] = True
        written["calibration.png"] = report_plots.calibration_plot(
            models, len(classes), folder / "calibration.png"
        )
    best = top.iloc[0] if len(top) else None
    curves = [
        p
        for p in payloads
        if best is not None
        and p.history is not None
        and p.history.train_loss
        and p.method == best.method
        and scenario_name(p.scenario) == best.scenario
    ]
    if curves:
        _training_plot(curves[0], folder / "training.png")
        written["training.png"] = True
    return written


def _training_plot(cell: CellResult, path: Path) -> None:
    from fusionkit.experiment.report_plots import _pyplot

    plt = _pyplot()
    history = cell.history
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    epochs = np.arange(1, len(history.train_loss) + 1)
    left.plot(epochs, history.train_loss, label="training")
    if history.val_loss:
        left.plot(epochs, history.val_loss, label="validation")
        if history.val_accuracy:  # a classifier's (an autoencoder has none)
            right.plot(epochs, history.val_accuracy, color="tab:green")
        for ax in (left, right):
            ax.axvline(history.best_epoch + 1, color="grey", linestyle=":")
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    right.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy", ylim=(0, 1.05))
    left.legend()
    fig.suptitle(f"{cell.id} (dotted: the kept epoch)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _oof(payloads, scenario: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold labels and probabilities of the first repeat."""
    ys, ps = [], []
    for p in payloads:
        if (
            p.split == "cv"
            and p.repeat == 0
            and p.method == method
            and scenario_name(p.scenario) == scenario
        ):
            ys += p.predictions.y_true
            ps += p.predictions.proba
    return np.array(ys, dtype=int), np.array(ps, dtype=float).reshape(len(ys), -1)


REPORT_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "auroc")


def _table(state, summary: pd.DataFrame) -> pd.DataFrame:
    """The report's table: headline metrics only (every metric is in summary.csv)."""
    metrics = [m for m in state.config.evaluation.metrics if m in REPORT_METRICS]
    metrics = metrics or state.config.evaluation.metrics[:4]
    out = summary.reindex(columns=["scenario", "method", "n_subjects"]).copy()
    if summary.empty:
        return out
    fusions = _fusion_methods(state)
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


def _robustness_table(robustness: pd.DataFrame, metric: str, order: list[str]) -> pd.DataFrame:
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


def _contribution_table(contribution: pd.DataFrame, measure: str = "shapley") -> pd.DataFrame:
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
    order = list(dict.fromkeys(contribution.modality))  # the config's modality order
    methods = list(dict.fromkeys(contribution.method))
    pivot = pivot.loc[methods, order].reset_index()
    pivot.columns.name = None
    return pivot


def _relative_table(relative: pd.DataFrame, order: list[str]) -> pd.DataFrame:
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


def _curve(part: pd.DataFrame, scenario: str, method: str | None = None) -> pd.DataFrame:
    """Rows of one scenario (and method) with numeric ``x`` levels; the plain result is
    level 0 of every curve."""
    rows = part[(part.scenario == scenario) & (part.perturbation != "none")]
    clean = part[(part.perturbation == "none") & (part.scenario == scenario)]
    if method is not None:
        rows, clean = rows[rows.method == method], clean[clean.method == method]
    rows = rows.assign(x=rows.level.astype(float))
    return rows if (rows.x == 0).any() else pd.concat([rows, clean.assign(x=0.0)])


def _robustness_plots(
    robustness: pd.DataFrame, summary: pd.DataFrame, metric: str, folder: Path
) -> list[str]:
    """One figure per perturbation with numeric levels (``robustness_<name>.png``): the
    headline metric against the level for the scenario of the best fusion (else the one with
    the most modalities), one line per method with a band of ± 1 sd over folds, and the best
    single-modality pair dashed: its own curve where it has one, else its plain score (a
    single modality has nothing to lose to ``missing_rate``). Level 0 is the plain result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = robustness[(robustness.split == "cv") & (robustness.metric == metric)].copy()
    part["value"] = part.value.astype(float)
    numeric = part[part.perturbation != "none"]
    numeric = numeric[pd.to_numeric(numeric.level, errors="coerce").notna()]
    best_fusion, best_single = best_pairs(summary, metric)
    names = []
    for kind, rows in numeric.groupby("perturbation", sort=False):
        scenarios = list(rows.scenario.unique())
        scenario = max(scenarios, key=lambda s: s.count("+"))
        if best_fusion is not None and best_fusion[0] in scenarios:
            scenario = best_fusion[0]
        rows = _curve(part[part.perturbation.isin([kind, "none"])], scenario)
        folder.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(8.5, 4))
        for method, group in rows.groupby("method", sort=False):
            stats = group.groupby("x").value.agg(["mean", "std"]).fillna(0)
            ax.plot(stats.index, stats["mean"], marker="o", label=method)
            ax.fill_between(
                stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.06
            )
        if best_single is not None:
            single, method, score = best_single
            label = f"best single: {single} x {method}"
            own = _curve(part[part.perturbation.isin([kind, "none"])], single, method)
            if (own.perturbation == kind).any():
                stats = own.groupby("x").value.mean()
                ax.plot(stats.index, stats.values, "k--", label=label)
            else:
                ax.axhline(score, color="black", linestyle="--", label=f"{label} (plain)")
        ax.set(
            xlabel=f"{kind} level (0: plain)",
            ylabel=f"{metric} (mean ± sd over folds)",
            title=f"{kind}: {scenario}",
        )
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        name = f"robustness_{kind}.png"
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def _choices_table(choices: pd.DataFrame) -> pd.DataFrame:
    """scenario x method rows of `auto`: how often each candidate was chosen (CV folds)."""
    part = choices[(choices.split == "cv") & choices.chosen]
    rows = []
    for (scenario, method), group in part.groupby(["scenario", "method"], sort=False):
        counts = group.candidate.value_counts()
        picks = ", ".join(f"{c} ({n} of {len(group)})" for c, n in counts.items())
        rows.append({"scenario": scenario, "method": method, "chosen in the folds": picks})
    return pd.DataFrame(rows)


def _weights_table(weights: pd.DataFrame) -> pd.DataFrame:
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


def _contribution_plot(table: pd.DataFrame, folder: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modalities = [c for c in table.columns if c != "method"]
    means = table[modalities].map(lambda t: float(t.split(" ")[0]))
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(table)), 3.4))
    width = 0.8 / len(modalities)
    x = np.arange(len(table))
    for i, m in enumerate(modalities):
        ax.bar(x + i * width, means[m], width, label=m)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x + width * (len(modalities) - 1) / 2, table["method"], rotation=30, ha="right")
    ax.set(ylabel="Shapley value (mean over folds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "contribution.png", dpi=110)
    plt.close(fig)
    return True


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows])


def _scheme_text(state) -> str:
    """How the estimates were made, in words."""
    ev = state.config.evaluation
    if ev.scheme == "predefined":
        names, splits = ev.split_names, state.cohort.splits
        counts = {n: int((splits == n).sum()) for n in (names.train, names.val, names.test)}
        parts = ", ".join(f"{n} {c}" for n, c in counts.items())
        return f"predefined split in column `{ev.split_column}` ({parts}; scored once on test)"
    if ev.scheme == "leave_out":
        values = sorted(set(state.cohort.splits.tolist()))
        shown = ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")
        return (
            f"leave one group out over column `{ev.leave_out_column}` ({len(values)} folds, "
            f"each testing one of: {shown})"
        )
    if ev.scheme == "holdout":
        return f"hold-out {ev.holdout:.0%}"
    return f"{ev.cv_folds}-fold CV x {ev.cv_repeats}"


def _subjects_table(state) -> pd.DataFrame:
    """Subjects and class counts per scenario under the missing-modality policy."""
    cohort, policy = state.cohort, state.config.evaluation.missing
    rows = []
    for scenario in state.plan.scenarios:
        have = cohort.available[list(scenario)].to_numpy()
        keep = have.all(axis=1) if policy == "complete_case" else have.any(axis=1)
        counts = np.bincount(cohort.y[keep], minlength=len(cohort.classes))
        row = {"scenario": scenario_name(scenario), "subjects": int(keep.sum())}
        if len(scenario) > 1 and policy != "complete_case":
            row["with every modality"] = int(have.all(axis=1).sum())
        rows.append({**row, **dict(zip(cohort.classes, counts.tolist(), strict=True))})
    frame = pd.DataFrame(rows)
    if "with every modality" in frame:
        frame["with every modality"] = [
            "" if pd.isna(v) else str(int(v)) for v in frame["with every modality"]
        ]
    return frame


def _reading_notes(state) -> list[str]:
    """How the cohorts were read (subjects missing a modality, visits chosen, ids ignored) as a
    list under the subjects table; warnings marked as such."""
    items = []
    for cohort, where in ((state.cohort, ""), (state.external, "external set: ")):
        if cohort is not None:
            items += [f"- {where}{note}" for note in cohort.notes]
            items += [f"- **warning**: {where}{warning}" for warning in cohort.warnings]
    return ["How the data was read:", "", *items, ""] if items else []


def _per_class_table(state, payloads, labels: list[str]) -> pd.DataFrame:
    """Per-class precision, recall and F1 (mean over folds) of the given scenario x method."""
    classes = state.cohort.classes
    rows = []
    for label in labels:
        scenario, method = label.split(" x ", 1)
        cells = [
            p
            for p in payloads
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


def _html(text: str, run_dir: Path) -> str:
    """report.md as one self-contained HTML page: Markdown rendered, figures embedded."""
    import base64
    import re

    import markdown

    body = markdown.markdown(text, extensions=["tables"])

    def embed(match: re.Match) -> str:
        path = run_dir / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="(figures/[^"]+\.png)"', embed, body)
    body = body.replace("<table>", "<div class='wide'><table>").replace(
        "</table>", "</table></div>"
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:0 16px;"
        "line-height:1.45}div.wide{overflow-x:auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;white-space:nowrap;"
        "text-align:left}img{max-width:100%}h2{border-bottom:1px solid #ccc;margin-top:1.6em}"
        ".verdict{font-size:17px;background:#f4f7fb;padding:10px 14px;border-left:4px solid"
        " #1f77b4}"
    )
    body = body.replace(
        "<p><strong>Answer:</strong>", "<p class='verdict'><strong>Answer:</strong>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>fusionkit report</title><style>{style}</style></head><body>\n{body}\n"
        "</body></html>\n"
    )


def write_report(
    state,
    run_dir: Path,
    summary: pd.DataFrame,
    payloads: list[CellResult],
    features: dict[str, list[str]] | None = None,
    failures: dict | None = None,
    contribution: pd.DataFrame | None = None,
    robustness: pd.DataFrame | None = None,
    relative: pd.DataFrame | None = None,
    weights: pd.DataFrame | None = None,
    choices: pd.DataFrame | None = None,
    intervals: pd.DataFrame | None = None,
    comparison: pd.DataFrame | None = None,
) -> None:
    """report.md and report.html (one file, figures embedded) of the finished cells, the
    answer first; failed cells listed."""
    from fusionkit.experiment.store import write_atomic

    failures = failures or {}
    intervals = intervals if intervals is not None else pd.DataFrame()
    comparison = comparison if comparison is not None else pd.DataFrame()
    figures = (
        _plots(state, summary, payloads, intervals, comparison, run_dir / "figures")
        if payloads
        else {}
    )
    metric = _headline(state)
    fusion, single = _pairs(comparison)
    table = _table(state, summary)
    ev = state.config.evaluation
    kinds = [s.type for s in ev.robustness]  # the config's order of perturbations
    folds = _scheme_text(state)
    facts = (
        f"Cohort: {len(state.cohort.ids)} subjects, classes {', '.join(state.cohort.classes)}; "
        f"{folds}, seed {state.config.seed}; missing modalities: `{ev.missing}`"
        + (f"; external test cohort: {len(state.external.ids)} subjects" if state.external else "")
        + "."
    )
    lines = [f"# fusionkit report: {state.config.name}", "", facts, ""]
    if failures:
        lines += [
            f"**{len(failures)} cells or encoders failed**; the tables cover the rest "
            "(see Failed).",
            "",
        ]
    answer = verdict(comparison) or best_only(intervals)
    lines += ["## The answer", ""]
    lines += [f"**Answer:** {answer}" if answer else "No cell finished: nothing to compare."]
    lines += [""]
    if "forest.png" in figures:
        several = ev.scheme in ("kfold", "leave_out")
        scored = "cross-validated" if several else "test-split"
        folds_part = (
            "its 95 % interval over folds (thick) and from a subject bootstrap of the pooled "
            "out-of-fold predictions (thin)"
            if several
            else "its 95 % interval from a subject bootstrap of the test predictions"
        )
        lines += [
            f"Every scenario x method, best at the top: the {scored} {metric} with "
            f"{folds_part}, the best single modality (dashed) and chance (dotted); the winner "
            "in red; † a fusion strategy on one modality. Intervals: `intervals.csv`.",
            "",
            "![Every scenario x method](figures/forest.png)",
            "",
        ]
    per_method = comparison[comparison.comparison != "best fusion"] if len(comparison) else None
    if per_method is not None and len(per_method):
        lines += [
            "## Each fusion strategy vs the best single modality",
            "",
            f"Each method's best multi-modality scenario against {single}, on the test "
            "subjects both scored, fold by fold (corrected resampled t-test, Nadeau and Bengio "
            "2003; Wilcoxon signed-rank) and by a paired subject bootstrap: `comparison.csv`.",
            "",
            _markdown(_comparison_table(comparison)),
            "",
        ]
    heading = (
        "## Summary (mean ± sd over folds; ext. = external test set)"
        if ev.scheme in ("kfold", "leave_out")
        else "## Summary (the single test split; ext. = external test set)"
    )
    lines += [
        heading,
        "",
        _markdown(table) if len(table) else "No cell finished: see the failures below.",
        "",
    ]
    if len(table) and table.method.str.endswith(" †").any():
        lines += [
            "† a fusion strategy on a single modality: nothing is fused; it is that "
            "modality's own model through the strategy's classifier or head.",
            "",
        ]
    lines += [
        f"## Subjects per scenario (`missing: {ev.missing}`)",
        "",
        _markdown(_subjects_table(state)),
        "",
        *_reading_notes(state),
    ]
    labels = [label for label in (fusion, single) if label]
    if labels:
        lines += [
            "## Per class (mean over folds)"
            if ev.scheme in ("kfold", "leave_out")
            else "## Per class (the test split)",
            "",
            _markdown(_per_class_table(state, payloads, labels)),
            "",
            "Every class of every scenario x method: `per_class.csv`.",
            "",
        ]
    for name, title in (
        ("confusion.png", "Confusion matrices (row-normalised, out of fold)"),
        ("roc.png", "ROC curves: best fusion and best single modality"),
    ):
        if name in figures:
            lines += [f"## {title}", "", f"![{title}](figures/{name})", ""]
    if "calibration.png" in figures:
        brier = "; ".join(f"{k}: {v:.3f}" for k, v in figures["calibration.png"].items())
        lines += [
            "## Calibration",
            "",
            "How often the predicted class is right against the confidence given to it "
            f"(out of fold). Multi-class Brier score, lower is better: {brier}.",
            "",
            "![Calibration](figures/calibration.png)",
            "",
        ]
    if ev.missing == "complete_case":
        lines += [
            "Under `complete_case` each scenario scores the fold's subjects having all of its "
            "modalities; comparisons re-score both sides on the subjects they share.",
            "",
        ]
    robustness_figures = []
    if robustness is not None and not robustness.empty:
        robustness_figures = _robustness_plots(robustness, summary, metric, run_dir / "figures")
        lines += [
            "## Robustness (test-time perturbations)",
            "",
            f"Mean {metric} over cross-validation folds of the kept models, with test "
            "inputs perturbed (nothing refitted); `none` is the plain result.",
            "",
            _markdown(_robustness_table(robustness, metric, kinds)),
            "",
            *[f"- {note}" for note in robustness_notes(state)],
            "",
        ]
        if relative is not None and not relative.empty:
            lines += [RELATIVE, "", _markdown(_relative_table(relative, kinds)), ""]
        for name in robustness_figures:
            title = f"Robustness curve: {name.removeprefix('robustness_').removesuffix('.png')}"
            lines += [f"![{title}](figures/{name})", ""]
    if choices is not None and not choices.empty:
        lines += [
            "## Chosen by nested cross-validation",
            "",
            CHOICES,
            "",
            _markdown(_choices_table(choices)),
            "",
        ]
    if weights is not None and not _weights_table(weights).empty:
        lines += ["## Modality weights", "", WEIGHTS, "", _markdown(_weights_table(weights)), ""]
    has = set(contribution.measure) if contribution is not None else set()
    if "shapley" in has:
        shapley = _contribution_table(contribution)
        plotted = _contribution_plot(shapley, run_dir / "figures")
        lines += [
            "## Modality contribution (Shapley values)",
            "",
            f"Each modality's average marginal gain in {contribution.metric.iloc[0]} over all "
            "orders of adding modalities, per method, from the cells of every modality subset "
            "scored on the test subjects they share (mean ± sd over folds; the values of a fold "
            "sum to the full scenario's score minus the score of random guessing).",
            "",
            _markdown(shapley),
            "",
            *(["![Modality contribution](figures/contribution.png)", ""] if plotted else []),
        ]
    if "permutation" in has:
        if "shapley" not in has:
            lines += ["## Modality contribution (permutation)", ""]
        lines += [
            f"Permutation: the drop in {contribution.metric.iloc[0]} of the full scenario's kept "
            "models when one modality is shuffled across the test subjects (mean over seeded "
            "repeats; mean ± sd over folds).",
            "",
            _markdown(_contribution_table(contribution, "permutation")),
            "",
        ]
    if "training.png" in figures:
        title = "Training curves of the best method"
        lines += [f"## {title}", "", f"![{title}](figures/training.png)", ""]
    if features:
        lines += ["## Named features", ""]
        for key, names in features.items():
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            lines.append(f"- {key}: {len(names)} features ({shown}); all in `manifest.json`")
        lines.append("")
    if failures:
        lines += ["## Failed", ""]
        lines += [f"- {name}: {f.message}" for name, f in failures.items()]
        lines.append("")
    if state.plan.skipped:
        lines += ["## Not run", ""]
        lines += [f"- {s} x {m}: {why}" for s, m, why in state.plan.skipped]
        lines.append("")
    text = "\n".join(lines)
    write_atomic(run_dir / "report.md", text.encode())
    write_atomic(run_dir / "report.html", _html(text, run_dir).encode())
