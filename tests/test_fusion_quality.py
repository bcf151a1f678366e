"""What keeps a fusion from losing to its best modality: cross-fitted training embeddings,
ensemble selection that can drop a modality, and the embedding fusions' per-subject gates."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment
from fusionkit.experiment.store import RunStore


def _run(small_cohort, tmp_path, cross_fit: int, output: str = "probabilities"):
    from tests.conftest import BASE_CONFIG

    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    config["data"]["modalities"] = {"ehr": config["data"]["modalities"]["ehr"]}
    params = {"hidden": [8], "output": output, "train": {"epochs": 5}}
    config["encoders"] = {"ehr": {"type": "mlp", "params": params}}
    config["methods"] = [{"type": "feature_level", "params": {"features": "encoded"}}]
    config["evaluation"] = {"cv_folds": 3, "cross_fit": cross_fit}
    path = tmp_path / f"cf{cross_fit}{output}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(load_config(path), tmp_path / f"run{cross_fit}{output}")
    assert not outcome.failures
    return outcome


def test_cross_fit_embeds_training_subjects_with_encoders_that_never_saw_them(
    small_cohort, tmp_path
):
    plain, crossed = (_run(small_cohort, tmp_path, k) for k in (0, 3))
    state = crossed.state
    for fold in state.folds:
        task = next(
            p.stem for p in (crossed.store.root / "cache" / "encoders").glob(f"*r0f{fold.fold}.npz")
        )
        ids_a, z_a = RunStore(plain.store.root).load_embeddings(task)
        ids_b, z_b = RunStore(crossed.store.root).load_embeddings(task)
        assert list(ids_a) == list(ids_b)
        assert np.allclose(z_b.sum(axis=1), 1.0, atol=1e-5)  # class probabilities
        row = {s: i for i, s in enumerate(ids_a.tolist())}
        test = [row[state.cohort.ids[p]] for p in fold.test]
        train = [row[state.cohort.ids[p]] for p in fold.train]
        # test subjects: the same encoder, fitted on the whole training part
        assert np.array_equal(z_a[test], z_b[test])
        # training subjects: other encoders, which never saw them
        assert not np.allclose(z_a[train], z_b[train])
    assert crossed.encoder_trainings == plain.encoder_trainings  # one task each, more inside


def test_a_latent_embedding_is_not_cross_fitted(small_cohort, tmp_path):
    """Copies of a network fitted on other subjects have other latent spaces: their
    embeddings are not comparable, so cross_fit leaves a latent embedding alone."""
    plain, crossed = (_run(small_cohort, tmp_path, k, "embedding") for k in (0, 3))
    a = pd.read_csv(plain.store.root / "results.csv")
    b = pd.read_csv(crossed.store.root / "results.csv")
    assert a.value.equals(b.value)


def test_ensemble_selection_gives_the_noise_modality_no_weight(known_truth, tmp_path):
    _, outcome = known_truth
    method = "{type: decision_level, params: {combine: ensemble_selection}}"
    overrides = [f"methods=[{method}]", "evaluation.contribution=false", "scenarios=[signal+noise]"]
    run = run_experiment(load_config(outcome.state.config.source, overrides), tmp_path / "run")
    assert not run.failures
    weights = pd.read_csv(tmp_path / "run" / "modality_weights.csv")
    by = weights.groupby("modality").weight
    assert (by.get_group("noise") == 0).all() and (by.get_group("signal") == 1).all()
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert results[results.metric == "f1_macro"].value.mean() > 0.9


@pytest.mark.parametrize("name", ["gated", "attention", "low_rank_tensor"])
def test_embedding_fusions_find_the_signal_and_gated_says_so(known_truth, tmp_path, name):
    _, outcome = known_truth
    encoders = "encoders={signal: raw, noise: raw}"
    method = f"{{type: {name}}}"
    overrides = [
        f"methods=[{method}]",
        encoders,
        "evaluation.contribution=false",
        "scenarios=[signal+noise]",
    ]
    run = run_experiment(load_config(outcome.state.config.source, overrides), tmp_path / "run")
    assert not run.failures
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert results[results.metric == "f1_macro"].value.mean() > 0.85
    if name == "gated":
        weights = pd.read_csv(tmp_path / "run" / "modality_weights.csv")
        mean = weights.groupby("modality").weight.mean()
        assert mean["signal"] > 0.6 > mean["noise"]
        outputs = pd.read_csv(tmp_path / "run" / "modality_outputs.csv")
        sums = outputs.groupby(["fold", "subject_id"]).gate.sum()
        assert np.allclose(sums, 1.0, atol=1e-5)


def test_auto_chooses_on_inner_folds_and_says_what_it_chose(known_truth, tmp_path):
    """Nested CV: a candidate that can hardly learn (kNN voting over most of the inner training
    part) loses to logistic regression in every fold; the choice, with every inner score, is in
    choices.csv and the report, and the refitted choice scores as the plain method does."""
    _, outcome = known_truth
    auto = (
        "{type: auto, params: {candidates: [logistic_regression, "
        "{type: knn, params: {n_neighbors: 60}}]}}"
    )
    overrides = [f"methods=[{auto}, logistic_regression]", "evaluation.contribution=false"]
    run = run_experiment(load_config(outcome.state.config.source, overrides), tmp_path / "run")
    assert not run.failures
    choices = pd.read_csv(tmp_path / "run" / "choices.csv", dtype={"fold": str})
    chosen = choices[choices.chosen]
    assert len(chosen) == 3 * 3  # scenarios x folds
    assert (chosen.candidate == "logistic_regression").all()
    inner = choices.pivot_table(
        index=["scenario", "fold"], columns="candidate", values="inner_score"
    )
    signal = inner.loc["signal"]
    assert (signal.logistic_regression > signal.knn + 0.2).all()
    results = pd.read_csv(tmp_path / "run" / "results.csv", dtype={"fold": str})
    f1 = results[results.metric == "f1_macro"].pivot_table(
        index=["scenario", "fold"], columns="method", values="value"
    )
    # the refitted choice is the plain method, fitted on the same training part
    assert np.allclose(f1["auto"], f1["logistic_regression"])
    assert "## Chosen by nested cross-validation" in (tmp_path / "run" / "report.md").read_text()


def test_the_image_autoencoder_never_looks_at_the_labels(small_cohort):
    """Self-supervised: the same images with shuffled labels give the same embedding."""
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.data.modality import ImageData
    from fusionkit.training.context import FitContext

    files = {p.name.split(".")[0]: (p,) for p in sorted((small_cohort / "images").glob("*.nii.gz"))}
    data = ImageData("image", dict(list(files.items())[:24]), small_cohort / "images")
    y = np.arange(24) % 3
    params = {"spatial_size": [8, 8, 8], "filters": [4, 8], "train": {"epochs": 3}}
    spec = resolved(EncoderSpec(type="image_autoencoder", params=params))
    ctx = FitContext(0, 3, 1, "cpu", 0.2, True)
    a = spec.build().fit(data, y, ctx).transform(data)
    b = spec.build().fit(data, np.random.default_rng(0).permutation(y), ctx).transform(data)
    assert a.shape == (24, 8)
    assert np.array_equal(a, b)


def test_gated_weights_per_fold_sum_to_one_when_subjects_lack_a_modality(small_cohort, tmp_path):
    """Under `missing: available` a subject with one modality puts all its weight there; the
    fold's shares (modality_weights.csv) still sum to 1."""
    from tests.conftest import BASE_CONFIG

    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["encoders"] = {"ehr": "raw", "snp": "raw"}
    config["scenarios"] = ["ehr+snp"]
    config["methods"] = [{"type": "gated", "params": {"train": {"epochs": 5}}}]
    config["evaluation"] = {"cv_folds": 3, "missing": "available"}
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = run_experiment(load_config(path), tmp_path / "run")
    assert not run.failures
    weights = pd.read_csv(tmp_path / "run" / "modality_weights.csv")
    assert np.allclose(weights.groupby("fold").weight.sum(), 1.0, atol=1e-5)
    outputs = pd.read_csv(tmp_path / "run" / "modality_outputs.csv")
    assert outputs.gate.isna().any()  # some subjects lack SNPs
