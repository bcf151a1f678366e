"""The report's figures (matplotlib, Agg; scikit-learn's displays where they exist).

- ``forest.png``: every scenario x method, sorted, with its 95 % intervals (folds, bootstrap),
  the best single modality as a reference line, chance level, the winner marked;
- ``confusion.png``: row-normalised confusion matrices (each row: a true class's share);
- ``roc.png``: one-vs-rest ROC per class, the best fusion and the best single modality overlaid;
- ``calibration.png``: top-label reliability (confidence of the predicted class vs how often it
  is right), with each model's multi-class Brier score.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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
) -> bool:
    """Dot-and-whisker plot of the cross-validated metric of every scenario x method; a label in
    ``one_modality_fusions`` (a fusion strategy on one modality) is marked †."""
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
        ax.plot([row.fold_low, row.fold_high], [i, i], color=colour, lw=2.2, alpha=0.8)
        ax.plot([row.boot_low, row.boot_high], [i - 0.28, i - 0.28], color=colour, lw=0.9)
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
    ax.plot([], [], color="black", lw=2.2, label="thick: 95 % CI over folds")
    ax.plot([], [], color="black", lw=0.9, label="thin: 95 % CI, subject bootstrap")
    ax.set_xlabel(
        f"{metric} ({'cross-validated mean' if cv.folds.max() > 1 else 'one test split'})"
    )
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


def confusion_plot(models: list[tuple[str, np.ndarray, np.ndarray]], classes, path: Path) -> None:
    """Row-normalised confusion matrices of (label, y, proba) out-of-fold predictions."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4))
    for ax, (label, y, proba) in zip(np.atleast_1d(axes), models, strict=True):
        ConfusionMatrixDisplay.from_predictions(
            y,
            proba.argmax(1),
            labels=range(len(classes)),
            display_labels=classes,
            normalize="true",
            values_format=".2f",
            ax=ax,
            colorbar=False,
            im_kw={"vmin": 0, "vmax": 1},
        )
        ax.set_title(f"{label}\n(rows: share of each true class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def roc_plot(models: list[tuple[str, np.ndarray, np.ndarray]], classes, path: Path) -> bool:
    """One-vs-rest ROC per class, the models overlaid."""
    from sklearn.metrics import RocCurveDisplay

    shown = [c for c in range(len(classes)) if 0 < np.sum(models[0][1] == c) < len(models[0][1])]
    if not shown:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(3.8 * len(shown), 3.9), squeeze=False)
    for ax, c in zip(axes[0], shown, strict=True):
        for i, (label, y, proba) in enumerate(models):
            RocCurveDisplay.from_predictions(
                y == c, proba[:, c], name=label, ax=ax, plot_chance_level=i == len(models) - 1
            )
        ax.set(xlabel="false positive rate", ylabel="true positive rate")
        ax.set_title(f"{classes[c]} vs rest", fontsize=9)
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def calibration_plot(
    models: list[tuple[str, np.ndarray, np.ndarray]], n_classes: int, path: Path
) -> dict[str, float]:
    """Top-label reliability diagram; returns each model's multi-class Brier score."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    brier = {}
    for label, y, proba in models:
        proba = proba / proba.sum(axis=1, keepdims=True)  # rows stored at float precision
        confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
        brier[label] = float(brier_score_loss(y, proba, labels=list(range(n_classes))))
        if len(np.unique(correct)) > 1:
            right, said = calibration_curve(correct, confidence, n_bins=8, strategy="quantile")
            ax.plot(said, right, "o-", ms=4, label=f"{label} (Brier {brier[label]:.3f})")
    ax.set(
        xlabel="confidence of the predicted class",
        ylabel="fraction predicted correctly",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return brier
