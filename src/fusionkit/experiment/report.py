"""The run report: summary table, plots and a paired test, as Markdown and HTML.

Plots (``figures/``): a grouped bar chart of the headline metric (macro-F1 when measured) per
scenario and method with fold standard deviations; confusion matrices of the three best
scenario x method pairs from out-of-fold predictions; one-vs-rest ROC curves of the best pair.

Paired test: the best multi-modality pair against the best single-modality pair, fold by fold,
with the corrected resampled t-test (Nadeau & Bengio 2003), which widens the variance for the
overlap of training sets across folds, and the Wilcoxon signed-rank test. Under
``missing: complete_case`` the two scenarios may score different subjects of a fold; the report
says so.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit.config import scenario_name
from fusionkit.experiment.cells import robustness_notes
from fusionkit.experiment.metrics import headline_metric
from fusionkit.experiment.records import CellResult
from fusionkit.experiment.stats import corrected_difference

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


def _fold_values(payloads, scenario: str, method: str, metric: str) -> dict[tuple, float]:
    return {
        (p.repeat, p.fold): p.metrics.get(metric)
        for p in payloads
        if p.split == "cv"
        and scenario_name(p.scenario) == scenario
        and p.method == method
        and p.metrics.get(metric) is not None
    }


def paired_test(state, summary: pd.DataFrame, payloads: list[CellResult]) -> dict | None:
    """Best fusion vs best single modality on the headline metric, over shared folds."""
    from scipy import stats

    metric = _headline(state)
    column = f"{metric}_mean"
    if summary.empty or column not in summary:
        return None
    n_mod = summary.scenario.str.count(r"\+") + 1
    fusion, single = summary[n_mod > 1], summary[n_mod == 1]
    if fusion.empty or single.empty or fusion[column].isna().all() or single[column].isna().all():
        return None
    best_f = fusion.loc[fusion[column].idxmax()]
    best_s = single.loc[single[column].idxmax()]
    a = _fold_values(payloads, best_f.scenario, best_f.method, metric)
    b = _fold_values(payloads, best_s.scenario, best_s.method, metric)
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        return None
    d = np.array([a[k] - b[k] for k in shared])
    diff = corrected_difference(
        np.array([a[k] for k in shared]),
        np.array([b[k] for k in shared]),
        state.config.evaluation.cv_folds,
    )
    p_t = diff.p
    try:
        p_w = float(stats.wilcoxon(d).pvalue)
    except ValueError:
        p_w = float("nan")
    return {
        "metric": metric,
        "fusion": f"{best_f.scenario} x {best_f.method}",
        "single": f"{best_s.scenario} x {best_s.method}",
        "fusion_mean": float(best_f[column]),
        "single_mean": float(best_s[column]),
        "mean_difference": float(d.mean()),
        "folds": len(d),
        "ci_low": diff.low,
        "ci_high": diff.high,
        "p_corrected_t": p_t,
        "p_wilcoxon": p_w,
    }


def _plots(state, summary: pd.DataFrame, payloads: list[CellResult], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    metric = _headline(state)
    written = []
    if summary.empty:
        return written
    scenarios = list(dict.fromkeys(summary.scenario))
    methods = list(dict.fromkeys(summary.method))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(9, 1.5 * len(scenarios) + 2), 4.5))
    for i, method in enumerate(methods):
        part = summary[summary.method == method].set_index("scenario").reindex(scenarios)
        x = np.arange(len(scenarios)) + (i - (len(methods) - 1) / 2) * width
        ax.bar(
            x, part[f"{metric}_mean"], width, yerr=part[f"{metric}_std"], label=method, capsize=2
        )
    ax.set_xticks(np.arange(len(scenarios)), scenarios, rotation=20)
    ax.set_ylabel(f"{metric} (mean ± sd over folds)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(folder / "scores.png", dpi=110)
    plt.close(fig)
    written.append("scores.png")

    classes = state.cohort.classes
    top = summary.sort_values(f"{metric}_mean", ascending=False).head(3)
    if len(top):
        fig, axes = plt.subplots(1, len(top), figsize=(4.2 * len(top), 4))
        for ax, (_, row) in zip(np.atleast_1d(axes), top.iterrows(), strict=True):
            y, proba = _oof(payloads, row.scenario, row.method)
            ConfusionMatrixDisplay.from_predictions(
                y,
                proba.argmax(1),
                labels=range(len(classes)),
                display_labels=classes,
                ax=ax,
                colorbar=False,
            )
            ax.set_title(f"{row.scenario} x {row.method}", fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / "confusion.png", dpi=110)
        plt.close(fig)
        written.append("confusion.png")
        best = top.iloc[0]
        y, proba = _oof(payloads, best.scenario, best.method)
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for c, name in enumerate(classes):
            if 0 < np.sum(y == c) < len(y):
                RocCurveDisplay.from_predictions(y == c, proba[:, c], name=name, ax=ax)
        ax.set_title(f"ROC (one vs rest): {best.scenario} x {best.method}", fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / "roc.png", dpi=110)
        plt.close(fig)
        written.append("roc.png")
        curves = [
            p
            for p in payloads
            if p.history is not None
            and p.history.train_loss
            and p.method == best.method
            and scenario_name(p.scenario) == best.scenario
        ]
        if curves:
            history = curves[0].history
            fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
            epochs = np.arange(1, len(history.train_loss) + 1)
            left.plot(epochs, history.train_loss, label="training")
            if history.val_loss:
                left.plot(epochs, history.val_loss, label="validation")
                right.plot(epochs, history.val_accuracy, color="tab:green")
                for ax in (left, right):
                    ax.axvline(history.best_epoch + 1, color="grey", linestyle=":")
            left.set(xlabel="epoch", ylabel="loss", title="loss")
            right.set(
                xlabel="epoch", ylabel="accuracy", title="validation accuracy", ylim=(0, 1.05)
            )
            left.legend()
            fig.suptitle(f"{curves[0].id} (dotted: the kept epoch)", fontsize=9)
            fig.tight_layout()
            fig.savefig(folder / "training.png", dpi=110)
            plt.close(fig)
            written.append("training.png")
    return written


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


def _best_pairs(summary: pd.DataFrame, metric: str) -> tuple[tuple | None, tuple | None]:
    """(best multi-modal, best single-modality) (scenario, method) by the CV mean."""
    column = f"{metric}_mean"
    ranked = summary.dropna(subset=[column]).sort_values(column, ascending=False)
    multi = ranked[ranked.scenario.str.contains("+", regex=False)]
    single = ranked[~ranked.scenario.str.contains("+", regex=False)]
    pick = lambda f: (f.scenario.iloc[0], f.method.iloc[0], float(f[column].iloc[0]))  # noqa: E731
    return (pick(multi) if len(multi) else None), (pick(single) if len(single) else None)


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
    best_fusion, best_single = _best_pairs(summary, metric)
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
) -> None:
    """report.md and report.html (with figures/) of the finished cells; failed cells listed."""
    from fusionkit.experiment.store import write_atomic

    failures = failures or {}
    figures = _plots(state, summary, payloads, run_dir / "figures") if payloads else []
    test = paired_test(state, summary, payloads)
    table = _table(state, summary)
    ev = state.config.evaluation
    kinds = [s.type for s in ev.robustness]  # the config's order of perturbations
    folds = (
        f"{ev.cv_folds}-fold CV x {ev.cv_repeats}"
        if ev.holdout is None
        else (f"hold-out {ev.holdout:.0%}")
    )
    facts = (
        f"Cohort: {len(state.cohort.ids)} subjects, classes {', '.join(state.cohort.classes)}; "
        f"{folds}, seed {state.config.seed}; missing modalities: `{ev.missing}`"
        + (f"; external test cohort: {len(state.external.ids)} subjects" if state.external else "")
        + "."
    )
    lines = [
        f"# fusionkit report: {state.config.name}",
        "",
        facts,
        "",
        *(
            [
                f"**{len(failures)} cells or encoders failed**; the tables cover the rest "
                "(see Failed)."
            ]
            if failures
            else []
        ),
        "",
        "## Summary (mean ± sd over folds; ext. = external test set)",
        "",
        _markdown(table) if len(table) else "No cell finished: see the failures below.",
        "",
    ]
    if test:
        lines += [
            "## Best fusion vs best single modality",
            "",
            f"On {test['metric']}, {test['fusion']} ({test['fusion_mean']:.3f}) vs "
            f"{test['single']} ({test['single_mean']:.3f}): mean fold difference "
            f"{test['mean_difference']:+.3f} (95 % CI {test['ci_low']:+.3f} to "
            f"{test['ci_high']:+.3f}) over {test['folds']} folds; corrected resampled "
            f"t-test p = {test['p_corrected_t']:.3g}, Wilcoxon signed-rank p = "
            f"{test['p_wilcoxon']:.3g}.",
            "",
        ]
        if ev.missing == "complete_case":
            lines += [
                "Under `complete_case`, each scenario scores the fold's subjects having all "
                "of its modalities, so the two may be scored on different subjects.",
                "",
            ]
    robustness_figures = []
    if robustness is not None and not robustness.empty:
        table = _robustness_table(robustness, _headline(state), kinds)
        robustness_figures = _robustness_plots(
            robustness, summary, _headline(state), run_dir / "figures"
        )
        lines += [
            "## Robustness (test-time perturbations)",
            "",
            f"Mean {_headline(state)} over cross-validation folds of the kept models, with test "
            "inputs perturbed (nothing refitted); `none` is the plain result.",
            "",
            _markdown(table),
            "",
            *[f"- {note}" for note in robustness_notes(state)],
            "",
        ]
        if relative is not None and not relative.empty:
            lines += [
                RELATIVE,
                "",
                _markdown(_relative_table(relative, kinds)),
                "",
            ]
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
        lines += [
            "## Modality weights",
            "",
            WEIGHTS,
            "",
            _markdown(_weights_table(weights)),
            "",
        ]
    has = set(contribution.measure) if contribution is not None else set()
    if "shapley" in has:
        table = _contribution_table(contribution)
        if _contribution_plot(table, run_dir / "figures"):
            figures.append("contribution.png")
        metric = contribution.metric.iloc[0]
        lines += [
            "## Modality contribution (Shapley values)",
            "",
            f"Each modality's average marginal gain in {metric} over all orders of adding "
            "modalities, per method, from the cells of every modality subset scored on the "
            "test subjects they share (mean ± sd over folds; the values of a fold sum to the "
            "full scenario's score minus the score of random guessing).",
            "",
            _markdown(table),
            "",
        ]
    if "permutation" in has:
        metric = contribution.metric.iloc[0]
        if "shapley" not in has:
            lines += ["## Modality contribution (permutation)", ""]
        lines += [
            f"Permutation: the drop in {metric} of the full scenario's kept models when one "
            "modality is shuffled across the test subjects (mean over seeded repeats; mean "
            "± sd over folds).",
            "",
            _markdown(_contribution_table(contribution, "permutation")),
            "",
        ]
    for name, title in (
        ("contribution.png", "Modality contribution"),
        ("scores.png", "Scores per scenario"),
        ("confusion.png", "Confusion matrices (out of fold)"),
        ("roc.png", "ROC curves"),
        ("training.png", "Training curves of the best method"),
    ):
        if name in figures:
            lines += [f"## {title}", "", f"![{title}](figures/{name})", ""]
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
    body = [
        f"<h1>fusionkit report: {html.escape(state.config.name)}</h1>",
        f"<p>{html.escape(facts.replace('`', ''))}</p>",
        (
            f"<p style='color:#b00020'><b>{len(failures)} cells or encoders failed</b>; the "
            "tables cover the rest (see Failed, below).</p>"
            if failures
            else ""
        ),
        "<h2>Summary</h2>",
        table.to_html(index=False, border=0, classes="summary"),
    ]
    if test:
        sentence = lines[lines.index("## Best fusion vs best single modality") + 2]
        body.append(f"<h2>Best fusion vs best single modality</h2><p>{html.escape(sentence)}</p>")
    for name in figures:
        body.append(f'<p><img src="figures/{name}" alt="{name}" style="max-width:100%"></p>')
    if "## Robustness (test-time perturbations)" in lines:
        start = lines.index("## Robustness (test-time perturbations)")
        body.append(
            "<h2>Robustness (test-time perturbations)</h2>"
            f"<p>{html.escape(lines[start + 2].replace('`', ''))}</p>"
        )
        table = _robustness_table(robustness, _headline(state), kinds)
        body.append(f"<div class='wide'>{table.to_html(index=False, border=0)}</div>")
        for note in robustness_notes(state):
            body.append(f"<p style='color:#b00020'>{html.escape(note)}</p>")
        if RELATIVE in lines:
            body.append(f"<p>{html.escape(RELATIVE.replace('`', ''))}</p>")
            body.append(_relative_table(relative, kinds).to_html(index=False, border=0))
        for name in robustness_figures:
            body.append(f'<p><img src="figures/{name}" alt="{name}" style="max-width:100%"></p>')
    if "## Chosen by nested cross-validation" in lines:
        sentence = html.escape(CHOICES.replace("`", ""))
        body.append(f"<h2>Chosen by nested cross-validation</h2><p>{sentence}</p>")
        body.append(_choices_table(choices).to_html(index=False, border=0))
    if "## Modality weights" in lines:
        body.append(f"<h2>Modality weights</h2><p>{html.escape(WEIGHTS.replace('`', ''))}</p>")
        body.append(_weights_table(weights).to_html(index=False, border=0))
    if "## Modality contribution (Shapley values)" in lines and "shapley" in has:
        start = lines.index("## Modality contribution (Shapley values)")
        body.append(
            f"<h2>Modality contribution (Shapley values)</h2><p>{html.escape(lines[start + 2])}</p>"
        )
        body.append(_contribution_table(contribution).to_html(index=False, border=0))
    if "permutation" in has:
        sentence = next(line for line in lines if line.startswith("Permutation: the drop"))
        if "shapley" not in has:
            body.append("<h2>Modality contribution (permutation)</h2>")
        body.append(f"<p>{html.escape(sentence)}</p>")
        table = _contribution_table(contribution, "permutation")
        body.append(table.to_html(index=False, border=0))
    for heading in ("## Failed", "## Named features", "## Not run"):
        if heading in lines:
            start = lines.index(heading) + 2
            items = []
            for line in lines[start:]:
                if not line.startswith("- "):
                    break
                items.append(f"<li>{html.escape(line[2:].replace('`', ''))}</li>")
            body.append(f"<h2>{html.escape(heading[3:])}</h2><ul>{''.join(items)}</ul>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>fusionkit report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "div.wide{overflow-x:auto}table{border-collapse:collapse;font-size:13px}"
        "td,th{padding:3px 8px;"
        "border-bottom:1px solid #ddd}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
    write_atomic(run_dir / "report.html", page.encode())
