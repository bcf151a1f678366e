"""Image perturbations reach every kind of image model, and decision-level fusion shows its
per-modality view.

Three image paths are covered: handcrafted features (a classifier on ``img``), a kept CNN
encoder re-encoding the perturbed images (``feature_level``, ``decision_level``,
``deep_concat``) and a network trained end to end reading the images itself (``deep_concat``
with ``end_to_end: true``).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment
from fusionkit.experiment.store import RunStore

ROBUSTNESS = [
    {"type": "image_blur", "params": {"levels": [0, 3]}},
    {"type": "image_noise", "params": {"levels": [0, 2]}},
    {"type": "image_contrast", "params": {"levels": [0, 2]}},
]


@pytest.fixture(scope="module")
def image_run(small_cohort, tmp_path_factory):
    from tests.conftest import BASE_CONFIG

    tmp = tmp_path_factory.mktemp("image_robustness")
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    del config["data"]["modalities"]["snp"]
    config["encoders"] = {
        "ehr": {"type": "raw"},
        "img": {"type": "resnet10", "params": {"widen_factor": 0.125, "train": {"epochs": 1}}},
    }
    config["scenarios"] = ["img", "ehr+img"]
    config["methods"] = [
        "logistic_regression",
        {"type": "feature_level", "params": {"features": "encoded"}},
        {"type": "decision_level", "params": {"features": "encoded", "combine": "weighted"}},
        {"type": "deep_concat", "params": {"train": {"epochs": 2}}},
        {
            "name": "end_to_end",
            "type": "deep_concat",
            "params": {"end_to_end": True, "train": {"epochs": 2}},
        },
    ]
    config["evaluation"] = {"cv_folds": 2, "robustness": ROBUSTNESS}
    path = tmp / "images.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(load_config(path), tmp / "run")
    assert not outcome.failures
    return tmp / "run", path


def test_level_zero_is_the_plain_result_and_each_distortion_changes_every_model(image_run):
    run_dir, _ = image_run
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"fold": str, "level": str})
    keys = ["scenario", "method", "fold", "split", "metric"]
    plain = table[table.perturbation == "none"].set_index(keys).value.sort_index()
    # scenarios x methods x folds, less end_to_end on ehr+img (the raw ehr encoder has no network)
    assert len(plain) == (2 * 5 - 1) * 2 * len(set(table.metric))
    store = RunStore(run_dir)
    for spec in ROBUSTNESS:
        kind, level = spec["type"], spec["params"]["levels"][1]
        zero = table[(table.perturbation == kind) & (table.level == "0")].set_index(keys).value
        assert zero.sort_index().equals(plain), kind
        for cell in sorted(p.stem for p in (run_dir / "cells").glob("*.json") if "@" not in p.stem):
            key = store.fitted_key(cell)
            before = store.read_result(cell, key)
            after = store.read_result(cell, key, f"{kind}={level:g}")
            assert after is not None, (cell, kind)
            assert after.predictions.ids == before.predictions.ids
            changed = np.abs(np.array(after.predictions.proba) - before.predictions.proba).max()
            assert changed > 1e-4, (cell, kind)  # the distortion reached this model


def test_image_perturbations_are_reproducible(image_run, tmp_path):
    run_dir, config = image_run
    again = run_experiment(load_config(config), tmp_path / "again")
    assert not again.failures
    first = (run_dir / "robustness.csv").read_bytes()
    assert first == (tmp_path / "again" / "robustness.csv").read_bytes()


def test_decision_level_exports_what_each_modality_says_and_its_weight(image_run):
    run_dir, _ = image_run
    outputs = pd.read_csv(run_dir / "modality_outputs.csv", dtype={"fold": str})
    weights = pd.read_csv(run_dir / "modality_weights.csv", dtype={"fold": str})
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert set(outputs.method) == set(weights.method) == {"decision_level"}
    sums = weights.groupby(["scenario", "fold"]).weight.sum()
    assert np.allclose(sums, 1.0)
    # the combined probability is the weighted mean of what each modality says
    pair = outputs[outputs.scenario == "ehr+img"]
    w = weights[weights.scenario == "ehr+img"].set_index(["fold", "modality"]).weight
    classes = [c for c in outputs.columns if c.startswith("p_")]
    pair = pair.assign(w=[w[(f, m)] for f, m in zip(pair.fold, pair.modality, strict=True)])
    weighted = pair[classes].mul(pair.w, axis=0).groupby([pair.fold, pair.subject_id]).sum()
    combined = predictions[
        (predictions.scenario == "ehr+img") & (predictions.method == "decision_level")
    ].assign(fold=lambda f: f.fold.astype(str))
    combined = combined.set_index(["fold", "subject_id"])[classes]
    assert np.allclose(weighted.loc[combined.index].to_numpy(), combined.to_numpy(), atol=1e-4)
    report = (run_dir / "report.md").read_text()
    assert "## Modality weights" in report


def test_an_encoder_blind_to_the_perturbation_fails_that_evaluation_loudly(
    small_cohort, tmp_path, cli
):
    """An image encoder reading the files itself would score a 'perturbed' test part that is
    not perturbed: the evaluation is reported failed (exit 1), the plain results stand."""
    import dataclasses
    import types

    from fusionkit.encoders.image_features import ImageFeatureParams, ImageFeatures
    from fusionkit.hookspecs import hookimpl
    from fusionkit.plugins import get_plugins
    from tests.conftest import BASE_CONFIG

    class Blind(ImageFeatures):
        def transform(self, data):
            return super().transform(dataclasses.replace(data, distortion=None))

    module = types.ModuleType("blind_plugin")

    @hookimpl
    def register_encoders(register):
        register(
            "blind",
            Blind,
            params=ImageFeatureParams,
            modalities=("image",),
            description="Image features that read the files themselves.",
        )

    module.register_encoders = register_encoders
    get_plugins().add(module, "blind", "1", "test")
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    config["data"]["modalities"] = {
        "img": {
            "kind": "image",
            "path": "images/{subject_id}.nii.gz",
            "features": {"type": "blind"},
        }
    }
    config["methods"] = ["logistic_regression"]
    config["evaluation"] = {"cv_folds": 2, "robustness": [ROBUSTNESS[1]]}
    path = tmp_path / "blind.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = cli("run", path, "--out", tmp_path / "run")
    assert result.exit_code == 1, result.stderr
    assert "does not see the perturbation" in result.stderr
    assert "@image_noise=2" in result.stderr
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert len(results[results.metric == "f1_macro"]) == 2  # both plain folds stand
    assert "does not see the perturbation" in (tmp_path / "run" / "report.md").read_text()
