"""Metrics against hand-computed values; fusion strategies on inputs with missing modalities."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionkit.config import ClassifierSpec, resolved
from fusionkit.data.modality import TableData
from fusionkit.fusion.base import FusionInput
from fusionkit.fusion.decision_level import DecisionLevel, DecisionLevelParams
from fusionkit.fusion.deep_concat import DeepConcat, DeepConcatParams
from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams
from fusionkit.tasks.classification_metrics import compute_metrics
from fusionkit.training.context import FitContext


def test_metrics_match_hand_computation():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[pred] * 0.8 + 0.2 / 3
    macro, per_class = compute_metrics(y, proba, 3)
    assert macro["accuracy"] == pytest.approx(4 / 6)
    # recalls 2/3, 1/2, 1 -> balanced accuracy = macro recall
    assert macro["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert macro["recall"] == pytest.approx(macro["balanced_accuracy"])
    # precisions 1, 1/2, 1/2
    assert macro["precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    # specificity: class 0 TN=3 FP=0 -> 1; class 1 TN=3 FP=1 -> 3/4; class 2 TN=4 FP=1 -> 4/5
    assert per_class["1"]["specificity"] == pytest.approx(0.75)
    assert macro["specificity"] == pytest.approx((1 + 0.75 + 0.8) / 3)
    assert 0 <= macro["auroc"] <= 1


def test_auroc_is_nan_with_a_single_class_present():
    macro, _ = compute_metrics(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]), 2)
    assert np.isnan(macro["auroc"])


def inputs(n=120, seed=0, missing_b=()):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    a = rng.normal(size=(n, 4)) + y[:, None]  # informative
    b = rng.normal(size=(n, 3))  # noise
    b_av = np.ones(n, bool)
    b_av[list(missing_b)] = False
    b[~b_av] = np.nan
    ids = [f"s{i}" for i in range(n)]
    frames = {"a": a, "b": b}
    data = {m: TableData("table", pd.DataFrame(v, index=ids), Path("x")) for m, v in frames.items()}
    inp = FusionInput(
        ids,
        {"a": a.astype(np.float32), "b": b.astype(np.float32)},
        {"a": np.ones(n, bool), "b": b_av},
        data,
    )
    return inp, y


CTX = FitContext(seed=0, n_classes=3)
LR = resolved(ClassifierSpec(type="logistic_regression"))


@pytest.mark.parametrize("combine", ["mean", "weighted", "vote", "stacking"])
def test_decision_level_combines_and_tolerates_missing_modality(combine):
    train, y = inputs(missing_b=range(0, 120, 4))
    test, y_test = inputs(seed=1, missing_b=range(0, 120, 2))
    model = DecisionLevel(DecisionLevelParams(combine=combine, classifier=LR, meta_classifier=LR))
    proba = model.fit(train, y, CTX).predict_proba(test)
    assert proba.shape == (120, 3)
    assert np.allclose(proba.sum(axis=1), 1)
    assert (proba.argmax(1) == y_test).mean() > 0.6


def test_decision_level_subject_missing_a_modality_is_decided_by_the_other():
    train, y = inputs()
    test, _ = inputs(seed=1, missing_b=[0])
    model = DecisionLevel(DecisionLevelParams(combine="mean", classifier=LR)).fit(train, y, CTX)
    only_a = model.models_["a"].predict_proba(test.features["a"][:1])
    assert np.allclose(model.predict_proba(test)[0], only_a[0])


def test_weighted_gives_the_informative_modality_more_weight():
    train, y = inputs()
    model = DecisionLevel(DecisionLevelParams(combine="weighted", classifier=LR)).fit(train, y, CTX)
    assert model.weights_["a"] > 5 * model.weights_["b"]


def test_feature_level_adds_indicators_when_a_modality_is_missing():
    train, y = inputs(missing_b=range(0, 120, 4))  # not aligned with the classes
    model = FeatureLevel(FeatureLevelParams(classifier=LR)).fit(train, y, CTX)
    assert model.indicators_
    test, y_test = inputs(seed=2, missing_b=range(5))
    assert (model.predict_proba(test).argmax(1) == y_test).mean() > 0.6


@pytest.mark.parametrize("end_to_end", [False, True])
def test_deep_concat_learns(end_to_end):
    from fusionkit.config import EncoderSpec

    train, y = inputs(n=150)
    test, y_test = inputs(n=90, seed=3, missing_b=range(0, 90, 3))
    spec = resolved(EncoderSpec(type="mlp", params={"hidden": [16]}))
    train.encoders = test.encoders = {"a": spec, "b": spec}
    for inp in (train, test):  # end to end reads each modality's own data, for those who have it
        inp.data = {
            m: d.subset([i for i, h in zip(inp.ids, inp.available[m], strict=True) if h])
            for m, d in inp.data.items()
        }
    params = DeepConcatParams(end_to_end=end_to_end, train={"epochs": 60, "patience": 10})
    model = DeepConcat(params).fit(train, y, CTX)
    proba = model.predict_proba(test)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (proba.argmax(1) == y_test).mean() > 0.6


def test_a_deep_ensemble_averages_its_members_and_is_kept_whole(tmp_path):
    """deep_concat members: N trains N networks (the first from the cell's own seed, so it is
    the members: 1 model) and averages their probabilities; the kept state reloads all of
    them."""
    from fusionkit.fusion.deep_concat import DeepConcat, DeepConcatParams
    from fusionkit.persist import load_state, save_state
    from fusionkit.training.context import derived_seed

    train, y = inputs()
    test, _ = inputs(seed=1)
    settings = {"head": {"hidden": [8]}, "train": {"epochs": 5, "patience": 5}}
    ensemble = DeepConcat(DeepConcatParams(**settings, members=3)).fit(train, y, CTX)
    proba = ensemble.predict_proba(test)

    def single(seed: int) -> np.ndarray:
        model = DeepConcat(DeepConcatParams(**settings)).fit(train, y, replace(CTX, seed=seed))
        return model.predict_proba(test)

    seeds = [CTX.seed, derived_seed(CTX.seed, "member", 1), derived_seed(CTX.seed, "member", 2)]
    members = [single(s) for s in seeds]
    np.testing.assert_allclose(proba, np.mean(members, axis=0), rtol=1e-6)
    assert not np.allclose(members[0], members[1])  # the members differ
    save_state(ensemble.get_state(), tmp_path / "kept")
    again = DeepConcat(DeepConcatParams(**settings, members=3))
    again.set_state(load_state(tmp_path / "kept"))
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=1e-6)


def test_counting_metrics_are_scikit_learns_to_the_last_bit():
    """compute_metrics counts from one confusion matrix; every number equals scikit-learn's own
    function exactly (absent classes, predicted-only classes and ties included), so results do
    not move when the implementation does."""
    import warnings

    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    rng = np.random.default_rng(7)
    for trial in range(300):
        k = int(rng.integers(2, 6))
        n = int(rng.integers(2, 80))
        y = rng.integers(0, k - 1 if trial % 3 == 0 else k, n)  # every third: a class absent
        proba = rng.dirichlet(np.ones(k), n)
        if trial % 4 == 0:
            proba = np.round(proba, 1)  # ties
        pred = proba.argmax(1)
        macro, per_class = compute_metrics(y, proba, k)
        labels = list(range(k))
        p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        present = sorted(set(y.tolist()))
        assert macro["accuracy"] == accuracy_score(y, pred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert macro["balanced_accuracy"] == balanced_accuracy_score(y, pred)
        assert macro["f1_macro"] == np.mean(f[present])
        assert macro["precision"] == np.mean(p[present])
        for c in labels:
            row = per_class[str(c)]
            assert (row["precision"], row["recall"], row["f1"], row["support"]) == (
                p[c],
                r[c],
                f[c],
                s[c],
            )
            if len(present) >= 2 and c in present:
                assert row["auroc"] == roc_auc_score(y == c, proba[:, c])
