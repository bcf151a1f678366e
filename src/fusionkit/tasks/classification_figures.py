"""The classification task's figures: row-normalised confusion matrices, one-vs-rest ROC curves
per class, and calibration (top-label reliability) with each model's multi-class Brier score."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusionkit.outputs.figures import _pyplot

Models = list[tuple[str, np.ndarray, np.ndarray]]


def class_figures(top: Models, compared: Models, classes: list[str], folder: Path) -> dict:
    """``confusion.png`` of the ``top`` models; ``roc.png`` and ``calibration.png`` of the
    ``compared`` ones. Returns what was written (Brier scores for the calibration)."""
    written: dict[str, object] = {}
    if top:
        confusion_plot(top, classes, folder / "confusion.png")
        written["confusion.png"] = True
    if compared:
        if roc_plot(compared, classes, folder / "roc.png"):
            written["roc.png"] = True
        written["calibration.png"] = calibration_plot(
            compared, len(classes), folder / "calibration.png"
        )
    return written


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
