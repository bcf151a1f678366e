"""The report's figures (matplotlib, Agg; scikit-learn's displays where they exist).

- ``forest.png``: every scenario x method, sorted, with its 95 % intervals (folds, bootstrap),
  the best single modality as a reference line, chance level, the winner marked;
- ``confusion.png``: row-normalised confusion matrices (each row: a true class's share);
- ``roc.png``: one-vs-rest ROC per class, the best fusion and the best single modality overlaid;
- ``calibration.png``: top-label reliability (confidence of the predicted class vs how often it
  is right), with each model's multi-class Brier score;
- ``training.png``: the training curves of the best method; ``robustness_<name>.png``: the
  headline metric against each perturbation's level; ``contribution.png``: Shapley values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionkit.config import scenario_name
from fusionkit.experiment.records import CellResult
from fusionkit.outputs.comparison import best_pairs
from fusionkit.outputs.report_tables import fusion_methods
from fusionkit.outputs.tables import RunTables
from fusionkit.outputs.verdict import best_labels

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState

FUSION, SINGLE, WINNER = "tab:orange", "tab:blue", "tab:red"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forest_plot(
    intervals: pd.DataFrame,
    best_single: str | None,
    winner: str | None,
    chance: float | None,
    path: Path,
    one_modality_fusions: frozenset[str] = frozenset(),
    over_folds: bool = True,
) -> bool:
    """Dot-and-whisker plot of the cross-validated metric of every scenario x method; a label in
    ``one_modality_fusions`` (a fusion strategy on one modality) is marked †. ``over_folds``
    false (one test split): the bootstrap interval alone, drawn and explained."""
    cv = intervals[(intervals.split == "cv") & intervals["mean"].notna()]
    if cv.empty:
        return False
    plt = _pyplot()
    cv = cv.sort_values("mean").reset_index(drop=True)
    labels = [f"{s} x {m}" for s, m in zip(cv.scenario, cv.method, strict=True)]
    fusion = cv.scenario.str.contains("+", regex=False).to_numpy()
    y = np.arange(len(cv))
    fig, ax = plt.subplots(figsize=(9, 0.27 * len(cv) + 1.8))
    for i, row in cv.iterrows():
        colour = WINNER if labels[i] == winner else FUSION if fusion[i] else SINGLE
        if over_folds:
            ax.plot([row.fold_low, row.fold_high], [i, i], color=colour, lw=2.2, alpha=0.8)
            ax.plot([row.boot_low, row.boot_high], [i - 0.28, i - 0.28], color=colour, lw=0.9)
        else:
            ax.plot([row.boot_low, row.boot_high], [i, i], color=colour, lw=1.6)
        ax.plot(row["mean"], i, "o", color=colour, ms=5)
    metric = cv.metric.iloc[0]
    if best_single in labels:
        value = cv["mean"].iloc[labels.index(best_single)]
        ax.axvline(value, color=SINGLE, ls="--", lw=1, label=f"best single modality ({value:.3f})")
    if chance is not None and np.isfinite(chance):
        ax.axvline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.3f})")
    shown = [f"{name} †" if name in one_modality_fusions else name for name in labels]
    ax.set_yticks(y, shown, fontsize=8)
    ax.tick_params(axis="x", labeltop=True, top=True)  # readable at the top of a long plot
    for tick, name in zip(ax.get_yticklabels(), labels, strict=True):
        if name == winner:
            tick.set_color(WINNER)
            tick.set_fontweight("bold")
    ax.plot([], [], color=FUSION, lw=2.2, label="fusion (several modalities)")
    ax.plot([], [], color=SINGLE, lw=2.2, label="single modality")
    if over_folds:
        ax.plot([], [], color="black", lw=2.2, label="thick: 95 % CI over folds")
        ax.plot([], [], color="black", lw=0.9, label="thin: 95 % CI, subject bootstrap")
    else:
        ax.plot([], [], color="black", lw=1.6, label="95 % CI, subject bootstrap")
    ax.set_xlabel(f"{metric} ({'cross-validated mean' if over_folds else 'one test split'})")
    ax.set_ylim(-0.8, len(cv) - 0.4)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(  # above the top tick labels
        fontsize=7,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        borderaxespad=2.2,
        ncol=3,
        frameon=False,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


def _chance(state: RunState, metric: str) -> float:
    """Mean over folds of the task's chance level of ``metric`` (e.g. guessing classes with
    the training frequencies)."""
    y = state.cohort.y
    values = [state.task.chance(y[fold.train], y[fold.test], metric) for fold in state.folds]
    return float(np.mean(values)) if values else float("nan")


def report_figures(state: RunState, tables: RunTables, folder: Path) -> dict[str, object]:
    """The report's main figures; returns what each wrote (Brier scores for
    ``calibration.png``)."""
    summary, results = tables.summary, tables.cell_results
    folder.mkdir(parents=True, exist_ok=True)
    metric = state.task.headline(state.config.evaluation.metrics)
    written: dict[str, object] = {}
    if summary.empty:
        return written
    fusion, single = best_labels(tables.comparison)
    fusions = fusion_methods(state)
    marked = frozenset(
        f"{s} x {m}" for s, m in zip(summary.scenario, summary.method, strict=True)
        if m in fusions and "+" not in s
    )  # fmt: skip
    forest = folder / "forest.png"
    chance = _chance(state, metric)
    over_folds = state.scheme.over_folds
    if forest_plot(tables.intervals, single, fusion, chance, forest, marked, over_folds):
        written["forest.png"] = True
    top = summary.dropna(subset=[f"{metric}_mean"])
    best_first = not state.task.higher_is_better(metric)
    top = top.sort_values(f"{metric}_mean", ascending=best_first).head(3)
    models = [
        (f"{row.scenario} x {row.method}", *_oof(results, row.scenario, row.method))
        for _, row in top.iterrows()
    ]
    pairs = [label for label in (fusion, single) if label]
    if not pairs and len(top):
        pairs = [f"{top.iloc[0].scenario} x {top.iloc[0].method}"]
    compared = [(label, *_oof(results, *label.split(" x ", 1))) for label in pairs]
    written.update(state.task.figures(models, [m for m in compared if len(m[1])], folder))
    best = top.iloc[0] if len(top) else None
    curves = [
        p
        for p in results
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


def _oof(results, scenario: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold labels and probabilities of the first repeat."""
    ys, ps = [], []
    for p in results:
        if (
            p.split == "cv"
            and p.repeat == 0
            and p.method == method
            and scenario_name(p.scenario) == scenario
        ):
            ys += p.predictions.y_true
            ps += p.predictions.proba
    return np.array(ys, dtype=int), np.array(ps, dtype=float).reshape(len(ys), -1)


def _curve(part: pd.DataFrame, scenario: str, method: str | None = None) -> pd.DataFrame:
    """Rows of one scenario (and method) with numeric ``x`` levels; the plain result is
    level 0 of every curve."""
    rows = part[(part.scenario == scenario) & (part.perturbation != "none")]
    clean = part[(part.perturbation == "none") & (part.scenario == scenario)]
    if method is not None:
        rows, clean = rows[rows.method == method], clean[clean.method == method]
    rows = rows.assign(x=rows.level.astype(float))
    return rows if (rows.x == 0).any() else pd.concat([rows, clean.assign(x=0.0)])


def robustness_figures(
    robustness: pd.DataFrame, summary: pd.DataFrame, metric: str, folder: Path
) -> list[str]:
    """One figure per perturbation with numeric levels (``robustness_<name>.png``): the
    headline metric against the level for the scenario of the best fusion (else the one with
    the most modalities), one line per method with a band of ± 1 sd over folds, and the best
    single-modality pair dashed: its own curve where it has one, else its plain score (a
    single modality has nothing to lose to ``missing_rate``). Level 0 is the plain result."""
    plt = _pyplot()

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


def contribution_figure(table: pd.DataFrame, folder: Path) -> bool:
    plt = _pyplot()

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
