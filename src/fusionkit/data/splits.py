"""Seeded, stratified, grouped splits: k-fold with repeats, hold-out, and validation carving.

Folds are assigned once per cohort, over all subjects, so every scenario and method sees the same
fold of each subject: per-fold results are paired, and a scenario's complete cases are simply the
fold's subjects that have its modalities. Subjects sharing a group (``data.group_column``) always
land in the same fold. Repeat ``r`` shuffles with seed ``seed + r``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from fusionkit.config import EvaluationConfig


@dataclass(frozen=True)
class Fold:
    """Positions (into the cohort's subject list) of one fold's training and test parts."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None = None  # a predefined validation part, inside ``train``


def _splitter(n_splits: int, stratify: bool, grouped: bool, seed: int):
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    if stratify and grouped:
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    if stratify:
        return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    if grouped:
        return GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return KFold(n_splits=n_splits, shuffle=True, random_state=seed)


def _split(
    y: np.ndarray, groups: np.ndarray, n_splits: int, stratify: bool, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    grouped = len(np.unique(groups)) < len(groups)
    splitter = _splitter(n_splits, stratify, grouped, seed)
    X = np.zeros((len(y), 1))
    with warnings.catch_warnings():
        # A rare class in a small training part (when carving a validation part) is expected;
        # the cohort-level check (`check_class_sizes`) guards the folds themselves.
        warnings.filterwarnings("ignore", message="The least populated class")
        parts = list(splitter.split(X, y, groups if grouped else None))
    return [(np.sort(a), np.sort(b)) for a, b in parts]


def make_folds(
    y: np.ndarray,
    groups: np.ndarray,
    evaluation: EvaluationConfig,
    seed: int,
    splits: np.ndarray | None = None,
) -> list[Fold]:
    """The cross-validation folds, the single hold-out split, the predefined split (its
    training part is train + val, with val as the validation part), or one fold per group of
    ``leave_out_column`` (in sorted order of its values) of a cohort."""
    if evaluation.split_column is not None:
        assert splits is not None, "the cohort was read without its split column"
        names = evaluation.split_names
        train = np.flatnonzero(np.isin(splits, [names.train, names.val]))
        validation = np.flatnonzero(splits == names.val)
        return [Fold(0, 0, train, np.flatnonzero(splits == names.test), validation)]
    if evaluation.leave_out_column is not None:
        assert splits is not None, "the cohort was read without its leave-out column"
        positions = np.arange(len(splits))
        return [
            Fold(0, i, positions[splits != value], positions[splits == value])
            for i, value in enumerate(sorted(set(splits.tolist())))
        ]
    if evaluation.holdout is not None:
        train, test = holdout(y, groups, evaluation.holdout, evaluation.stratify, seed)
        return [Fold(0, 0, train, test)]
    folds = []
    for repeat in range(evaluation.cv_repeats):
        parts = _split(y, groups, evaluation.cv_folds, evaluation.stratify, seed + repeat)
        folds += [Fold(repeat, k, train, test) for k, (train, test) in enumerate(parts)]
    return folds


def holdout(
    y: np.ndarray, groups: np.ndarray, fraction: float, stratify: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded (stratified, grouped) split into a larger and a ``fraction``-sized part.

    Implemented as the first fold of a ``round(1 / fraction)``-fold split, so stratification and
    grouping hold exactly as for cross-validation.
    """
    n_splits = max(2, round(1 / fraction))
    return _split(y, groups, n_splits, stratify, seed)[0]


def validation_part(
    train: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    fraction: float,
    stratify: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve an early-stopping validation part out of a training part (never the test part).

    Returns (fit, validation) positions, both subsets of ``train``.
    """
    y_train = y[train]
    counts = np.bincount(y_train)[np.unique(y_train)]
    # stratification needs every class twice, and some class at least once per split
    n_splits = max(2, round(1 / fraction))
    can_stratify = stratify and counts.min() >= 2 and counts.max() >= n_splits
    fit, val = holdout(y_train, groups[train], fraction, can_stratify, seed)
    return train[fit], train[val]
