"""Classification metrics (scikit-learn), macro-averaged, plus the same per class.

``specificity`` is not in scikit-learn: per class it is TN / (TN + FP) from the confusion matrix.
``auroc`` is one-vs-rest, averaged over the classes present in the test part (a class absent
from it has no defined AUROC); it is NaN when fewer than two classes are present.
"""

from __future__ import annotations

import warnings

import numpy as np


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
