"""Classification metrics (scikit-learn), macro-averaged, plus the same per class, and the
vectorised bootstrap statistic of the metrics a confusion matrix gives.

``specificity`` is not in scikit-learn: per class it is TN / (TN + FP) from the confusion matrix.
``auroc`` is one-vs-rest, averaged over the classes present in the test part (a class absent
from it has no defined AUROC); it is NaN when fewer than two classes are present.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "specificity",
    "f1_macro",
    "auroc",
)
COUNT_METRICS = set(METRICS) - {"auroc"}  # the metrics a confusion matrix gives


def headline_metric(metrics: list[str]) -> str:
    """The metric the report leads with: macro-F1 when computed, else the first listed."""
    return "f1_macro" if "f1_macro" in metrics else metrics[0]


def _quiet(metric, *args) -> float:
    """A metric without scikit-learn's warning that a predicted class is absent from the truth
    (normal in a small test part; per-class support is reported)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(metric(*args))


def compute_metrics(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(macro metrics, per-class metrics) of predictions ``proba.argmax(1)`` against ``y_true``."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    labels = list(range(n_classes))
    y_pred = proba.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    fp = cm.sum(axis=0) - np.diag(cm)
    tn = cm.sum() - cm.sum(axis=0) - cm.sum(axis=1) + np.diag(cm)
    specificity = np.divide(tn, tn + fp, out=np.zeros(n_classes), where=(tn + fp) > 0)
    present = [c for c in labels if np.any(y_true == c)]
    aucs = np.full(n_classes, np.nan)
    if len(present) >= 2:
        for c in present:
            aucs[c] = roc_auc_score(y_true == c, proba[:, c])
    macro = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _quiet(balanced_accuracy_score, y_true, y_pred)
        if len(present) > 0
        else float("nan"),
        "precision": float(np.mean(precision[present])) if present else float("nan"),
        "recall": float(np.mean(recall[present])) if present else float("nan"),
        "specificity": float(np.mean(specificity)),
        "f1_macro": float(np.mean(f1[present])) if present else float("nan"),
        "auroc": float(np.nanmean(aucs)) if len(present) >= 2 else float("nan"),
    }
    per_class = {
        str(c): {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "specificity": float(specificity[c]),
            "f1": float(f1[c]),
            "auroc": float(aucs[c]),
            "support": int(np.sum(y_true == c)),
        }
        for c in labels
    }
    return macro, per_class


def count_metric(y: np.ndarray, pred: np.ndarray, n_classes: int, metric: str) -> np.ndarray:
    """``metric`` of each row of (B, n) true and predicted class arrays, from confusion counts,
    with the definitions of `metrics.compute_metrics` (macro over the classes present in the
    truth; specificity over all classes; a zero denominator counts 0)."""
    y, pred = np.atleast_2d(y), np.atleast_2d(pred)
    b, n, k = y.shape[0], y.shape[1], n_classes
    codes = (np.arange(b)[:, None] * k * k + y * k + pred).ravel()
    cm = np.bincount(codes, minlength=b * k * k).reshape(b, k, k).astype(float)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    present = support > 0

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    def over_present(values):
        return (values * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    if metric == "accuracy":
        return tp.sum(axis=1) / max(n, 1)
    if metric in ("balanced_accuracy", "recall"):
        return over_present(ratio(tp, support))
    if metric == "precision":
        return over_present(ratio(tp, predicted))
    if metric == "f1_macro":
        return over_present(ratio(2 * tp, support + predicted))
    if metric == "specificity":
        fp, tn = predicted - tp, n - support - predicted + tp
        return ratio(tn, tn + fp).mean(axis=1)
    raise ValueError(f"{metric} is not computed from confusion counts")


def statistic(
    y: np.ndarray, probas: list[np.ndarray], n_classes: int, metric: str
) -> Callable[[np.ndarray], np.ndarray]:
    """index resample(s) -> the metric of the first predictions minus that of the second (or
    of the one)."""
    if metric in COUNT_METRICS:
        preds = [p.argmax(axis=1) for p in probas]

        def vectorised(index, axis=-1):
            index = np.atleast_2d(index)
            values = [count_metric(y[index], p[index], n_classes, metric) for p in preds]
            return values[0] - values[1] if len(values) == 2 else values[0]

        return vectorised

    def one(index, axis=-1):
        index = np.atleast_2d(index)
        out = []
        for row in index:
            values = [compute_metrics(y[row], p[row], n_classes)[0][metric] for p in probas]
            out.append(values[0] - values[1] if len(values) == 2 else values[0])
        return np.array(out)

    return one
