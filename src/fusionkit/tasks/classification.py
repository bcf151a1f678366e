"""The classification task: a class label per subject (``data.classes``, ``data.label_map``),
folds stratified on the class, a softmax head of one output per class trained with
cross-entropy, probabilities scored by macro-averaged metrics (`classification_metrics`), the
chance level of guessing with the training frequencies, and per-class figures (confusion
matrices, ROC curves, calibration)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit import hookimpl
from fusionkit.api import Target
from fusionkit.config import DataConfig, label_text
from fusionkit.errors import DataError
from fusionkit.tasks.classification_metrics import (
    METRICS,
    compute_metrics,
    headline_metric,
    statistic,
)


class Classification:
    """One class per subject (see module docstring); built with the config's ``data``."""

    name = "classification"
    estimator = "classifier"  # shallow methods are scikit-learn classifiers
    metrics = METRICS

    def __init__(self, params=None, data: DataConfig | None = None):
        if data is None:
            raise ValueError("the classification task is built with the config's data section")
        self.classes = list(data.classes)
        self.label_map = data.label_map
        self.column = data.label_column

    @property
    def output_size(self) -> int:
        """Outputs of a network's head: one logit per class."""
        return len(self.classes)

    def target(self, values: Sequence[object], ids: Sequence[str], source: Path) -> Target:
        """Class indices of the labelled subjects; a subject without a label is left out (a
        warning), a label that is not a class is an error naming the file, subject and column."""
        missing = pd.isna(pd.Series(list(values), dtype=object)).to_numpy()
        warnings = []
        if missing.any():
            first = next(i for i, m in zip(ids, missing, strict=True) if m)
            warnings.append(
                f"{int(missing.sum())} subjects without a value in {self.column!r} "
                f"left out (e.g. {first})"
            )
        kept = [(i, v) for i, v, m in zip(ids, values, missing, strict=True) if not m]
        raw = [label_text(v) for _, v in kept]
        names = [self.label_map.get(v, v) if self.label_map else v for v in raw]
        for (subject, _), value, name in zip(kept, raw, names, strict=True):
            if name not in self.classes:
                raise DataError(
                    f"{source}: subject {subject}: label {value!r} in column "
                    f"{self.column!r} is not one of data.classes {self.classes}"
                    " (add it there or to data.label_map)"
                )
        y = np.array([self.classes.index(n) for n in names], dtype=np.int64)
        return Target(y=y, kept=~missing, warnings=warnings)

    def strata(self, y: np.ndarray) -> np.ndarray:
        """What folds are stratified on: the class."""
        return y

    def higher_is_better(self, metric: str) -> bool:
        """Every classification metric is better when higher."""
        return True

    def headline(self, metrics: Sequence[str]) -> str:
        """The metric the answer is given in: macro-F1 when computed, else the first listed."""
        return headline_metric(list(metrics))

    def score(self, y: np.ndarray, prediction: np.ndarray) -> tuple[dict, dict]:
        """(macro metrics, per-class metrics keyed by class index) of class probabilities."""
        return compute_metrics(y, prediction, len(self.classes))

    def chance(self, y_train: np.ndarray, y_test: np.ndarray, metric: str) -> float:
        """Expected ``metric`` of guessing classes at random with the training part's
        frequencies ``q``, on test subjects with class frequencies ``p``."""
        k = len(self.classes)
        q = np.bincount(y_train, minlength=k) / max(len(y_train), 1)
        p = np.bincount(y_test, minlength=k) / max(len(y_test), 1)
        present = p > 0
        if metric == "accuracy":
            return float(np.sum(p * q))
        if metric in ("balanced_accuracy", "recall"):
            return float(np.mean(q[present]))
        if metric == "precision":
            return float(np.mean(p[q > 0]))
        if metric == "specificity":
            return float(np.mean(1 - q[present]))
        if metric == "auroc":
            return 0.5
        f1 = np.where(p + q > 0, 2 * p * q / np.maximum(p + q, 1e-12), 0.0)
        return float(np.mean(f1[present | (q > 0)]))

    def statistic(
        self, y: np.ndarray, predictions: list[np.ndarray], metric: str
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Index resample(s) -> the metric of the first predictions minus that of the second
        (or of the one): the statistic of the (paired) subject bootstrap."""
        return statistic(y, predictions, len(self.classes), metric)

    def figures(self, top: list, compared: list, folder: Path) -> dict:
        """Confusion matrices of the ``top`` models; ROC curves and calibration of the
        ``compared`` ones (the best fusion and the best single modality); each model is
        (label, y, probabilities). Returns what was written (Brier scores for calibration)."""
        from fusionkit.tasks.classification_figures import class_figures

        return class_figures(top, compared, self.classes, folder)


@hookimpl
def register_tasks(register):
    register(
        "classification",
        Classification,
        description="A class label per subject (data.classes), scored by macro-averaged metrics.",
    )
