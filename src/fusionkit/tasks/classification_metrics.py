"""Classification metrics (scikit-learn), macro-averaged, plus the same per class, and the
vectorised bootstrap statistic of the metrics a confusion matrix gives.

``specificity`` is not in scikit-learn: per class it is TN / (TN + FP) from the confusion matrix.
``auroc`` is one-vs-rest, averaged over the classes present in the test part (a class absent
from it has no defined AUROC); it is NaN when fewer than two classes are present.
"""

from __future__ import annotations

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


def compute_metrics(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(macro metrics, per-class metrics) of predictions ``proba.argmax(1)`` against ``y_true``.

    The counting metrics come from one confusion matrix, with scikit-learn's definitions
    (``precision_recall_fscore_support`` with ``zero_division=0``, ``balanced_accuracy_score``:
    the same numbers to the last bit, tested), as is the AUROC of each present class
    (``roc_auc_score``'s). A run scores thousands of test parts, so the argument
    checks scikit-learn repeats on every call are skipped (the inputs are ours), and each
    class's AUROC is ``auc(roc_curve(...))``, the computation ``roc_auc_score`` makes for a
    binary target, without its target-type inference."""
    import sklearn
    from sklearn.metrics import auc, roc_curve

    y_true = np.asarray(y_true, dtype=int)
    y_pred = proba.argmax(axis=1)
    k = n_classes
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1).astype(float), cm.sum(axis=0).astype(float)
    fp, n = predicted - tp, float(len(y_true))
    tn = n - support - predicted + tp

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros(k), where=den > 0)

    precision, recall = ratio(tp, predicted), ratio(tp, support)
    f1, specificity = ratio(2 * tp, support + predicted), ratio(tn, tn + fp)
    present = [c for c in range(k) if support[c] > 0]
    aucs = np.full(k, np.nan)
    if len(present) >= 2:
        with sklearn.config_context(skip_parameter_validation=True):
            for c in present:
                fpr, tpr, _ = roc_curve(y_true == c, proba[:, c])
                aucs[c] = auc(fpr, tpr)
    nan = float("nan")
    macro = {
        "accuracy": float(tp.sum() / n) if n else nan,
        "balanced_accuracy": float(np.mean(recall[present])) if present else nan,
        "precision": float(np.mean(precision[present])) if present else nan,
        "recall": float(np.mean(recall[present])) if present else nan,
        "specificity": float(np.mean(specificity)),
        "f1_macro": float(np.mean(f1[present])) if present else nan,
        "auroc": float(np.nanmean(aucs)) if len(present) >= 2 else nan,
    }
    per_class = {
        str(c): {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "specificity": float(specificity[c]),
            "f1": float(f1[c]),
            "auroc": float(aucs[c]),
            "support": int(support[c]),
        }
        for c in range(k)
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
