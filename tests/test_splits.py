"""Splits: seeded, stratified, grouped; validation carved from training, never from test."""

from __future__ import annotations

import numpy as np
import pytest

from fusionkit.config import EvaluationConfig
from fusionkit.data.splits import holdout, make_folds, validation_part

Y = np.array([0] * 40 + [1] * 25 + [2] * 15)
IDS = np.array([f"s{i}" for i in range(len(Y))])


def test_kfold_partitions_every_subject_once_per_repeat():
    folds = make_folds(Y, IDS, EvaluationConfig(cv_folds=5, cv_repeats=2), seed=0)
    assert len(folds) == 10
    for repeat in (0, 1):
        tests = np.concatenate([f.test for f in folds if f.repeat == repeat])
        assert sorted(tests) == list(range(len(Y)))
    for f in folds:
        assert not set(f.train) & set(f.test)


def test_stratified_folds_keep_class_proportions():
    for f in make_folds(Y, IDS, EvaluationConfig(cv_folds=5), seed=3):
        assert np.bincount(Y[f.test]).tolist() == [8, 5, 3]


def test_same_seed_same_folds_other_seed_other_folds():
    ev = EvaluationConfig(cv_folds=4)
    a = [f.test.tolist() for f in make_folds(Y, IDS, ev, seed=7)]
    b = [f.test.tolist() for f in make_folds(Y, IDS, ev, seed=7)]
    c = [f.test.tolist() for f in make_folds(Y, IDS, ev, seed=8)]
    assert a == b
    assert a != c


def test_repeats_differ():
    folds = make_folds(Y, IDS, EvaluationConfig(cv_folds=4, cv_repeats=2), seed=0)
    assert folds[0].test.tolist() != folds[4].test.tolist()


def test_groups_stay_in_one_fold():
    groups = np.array([f"patient{i // 2}" for i in range(len(Y))])  # two sessions each
    y = np.repeat(np.array([0, 1, 2, 0, 1] * 8), 2)
    for f in make_folds(y, groups, EvaluationConfig(cv_folds=4), seed=1):
        assert not set(groups[f.train]) & set(groups[f.test])


def test_holdout_fraction_and_stratification():
    train, test = holdout(Y, IDS, 0.2, True, seed=0)
    assert len(test) == 16 and len(train) == 64
    assert np.bincount(Y[test]).tolist() == [8, 5, 3]


@pytest.mark.parametrize("fold_index", [0, 3])
def test_validation_part_is_inside_training_part(fold_index):
    fold = make_folds(Y, IDS, EvaluationConfig(cv_folds=5), seed=0)[fold_index]
    fit, val = validation_part(fold.train, Y, IDS, 0.2, True, seed=0)
    assert set(fit) | set(val) == set(fold.train)
    assert not set(fit) & set(val)
    assert not set(val) & set(fold.test)
    assert set(np.unique(Y[val])) == {0, 1, 2}


def test_validation_part_of_a_tiny_training_part_with_every_class_rare():
    """Every class with fewer members than the 5 splits of a 20 % validation part: carved
    without stratification instead of failing (seen on an external cell of few subjects)."""
    from fusionkit.data.splits import validation_part

    y = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
    train = np.arange(len(y))
    fit, val = validation_part(train, y, np.arange(len(y)).astype(str), 0.2, True, 0)
    assert len(val) and not set(fit) & set(val) and set(fit) | set(val) == set(train)
