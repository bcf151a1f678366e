"""Test-time robustness on kept models, against a known truth (a signal and a noise modality)."""

from __future__ import annotations

import pandas as pd
import pytest

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment

ROBUSTNESS = [
    "evaluation.robustness=[drop_modality, {type: missing_rate, params: {levels: [0, 0.5]}}, "
    "{type: table_noise, params: {levels: [0, 1, 4]}}]"
]


@pytest.fixture(scope="module")
def perturbed(known_truth):
    run_dir, outcome = known_truth
    config = load_config(outcome.state.config.source, ROBUSTNESS)
    again = run_experiment(config, run_dir)  # the same run directory: kept models are reused
    return run_dir, again


def test_adding_perturbations_fits_nothing(perturbed):
    _, again = perturbed
    assert again.cells_run == 0 and again.encoder_trainings == 0
    # methods x folds x settings: the pair has 2 drops, 2 missing rates and 3 noise levels;
    # each single modality has the 3 noise levels (no external set here)
    assert again.evaluations == 2 * 3 * (2 + 2 + 3) + 2 * 2 * 3 * 3
    assert not again.failures


def test_a_setting_that_changes_nothing_gives_the_plain_result_exactly(perturbed):
    run_dir, _ = perturbed
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"fold": str, "level": str})
    keys = ["scenario", "method", "fold", "split", "metric"]
    plain = table[table.perturbation == "none"].set_index(keys).value
    for kind in ("missing_rate", "table_noise"):
        zero = table[(table.perturbation == kind) & (table.level == "0")].set_index(keys).value
        assert len(zero) > 0
        assert zero.sort_index().equals(plain.loc[zero.index].sort_index()), kind
    main = pd.read_csv(run_dir / "results.csv", dtype={"fold": str}).set_index(keys).value
    assert plain.sort_index().equals(main.loc[plain.index].sort_index())


def test_dropping_noise_costs_nothing_dropping_the_signal_costs_much(perturbed):
    run_dir, _ = perturbed
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"level": str})
    f1 = table[(table.metric == "f1_macro") & (table.split == "cv")]
    f1 = f1[f1.scenario == "signal+noise"]
    for method in ("logistic_regression", "random_forest"):
        rows = f1[f1.method == method]
        plain = rows[rows.perturbation == "none"].value.mean()
        no_noise = rows[rows.level == "noise"].value.mean()
        no_signal = rows[rows.level == "signal"].value.mean()
        assert abs(plain - no_noise) < 0.05, method
        assert plain - no_signal > 0.3, method
    assert "## Robustness (test-time perturbations)" in (run_dir / "report.md").read_text()
    assert (run_dir / "figures" / "robustness_missing_rate.png").is_file()


def test_noise_on_the_signal_costs_in_proportion_to_its_size(perturbed):
    run_dir, _ = perturbed
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"level": str})
    f1 = table[(table.metric == "f1_macro") & (table.split == "cv")]
    for method in ("logistic_regression", "random_forest"):
        rows = f1[(f1.method == method) & (f1.scenario == "signal")]
        at = {lvl: rows[rows.level == lvl].value.mean() for lvl in ("0", "1", "4")}
        assert at["0"] > at["1"] > at["4"], (method, at)
        assert at["0"] - at["4"] > 0.2, (method, at)
        noise_only = f1[(f1.method == method) & (f1.scenario == "noise")]
        assert noise_only[noise_only.level == "4"].value.mean() < 0.5  # chance stays chance
    summary = pd.read_csv(run_dir / "robustness_summary.csv")
    row = summary[(summary.scenario == "signal") & (summary.perturbation == "table_noise")]
    assert (row.relative_mean < 0.9).all() and (row.relative_mean > 0).all()
    report = (run_dir / "report.md").read_text()
    assert "Relative robustness" in report and "robustness_table_noise.png" in report
    assert (run_dir / "figures" / "robustness_table_noise.png").is_file()


def test_table_noise_is_scaled_by_the_training_part_only():
    """The test subjects' own spread never sets the noise: a wild test part gets noise of the
    training part's SD."""
    import numpy as np

    from fusionkit.api import FusionInput
    from fusionkit.data.modality import TableData
    from fusionkit.perturbations import TableNoise, TableNoiseParams

    def inputs(values, n):
        ids = [f"s{i}" for i in range(n)]
        frame = pd.DataFrame(
            {"x": values, "site": ["a"] * n}, index=pd.Index(ids, name="subject_id")
        )
        table = TableData("table", frame, __file__, ["site"])
        have = np.ones(n, bool)
        return FusionInput(ids, {"t": np.zeros((n, 1))}, {"t": have}, {"t": table})

    rng = np.random.default_rng(0)
    train = inputs(rng.normal(0, 2.0, 500), 500)
    test = inputs(rng.normal(0, 50.0, 2000), 2000)
    noise = TableNoise(TableNoiseParams(levels=[0.5]))
    noise.fit(train)
    before = test.data["t"].frame.copy()
    out = noise.apply(test, "table_noise=0.5", np.random.default_rng(1))
    added = out.data["t"].frame.x - test.data["t"].frame.x
    assert abs(added.std() - 0.5 * train.data["t"].frame.x.std(ddof=0)) < 0.1
    assert (out.data["t"].frame.site == "a").all()  # categories are left as they are
    assert test.data["t"].frame.equals(before)  # the inputs themselves are left as they are


def test_a_method_that_cannot_take_a_gap_is_reported_not_imputed(known_truth, tmp_path):
    """A fusion declaring ``handles_missing=False`` is not evaluated with modalities taken away;
    the run says so (manifest, report, notes), and its other perturbations still run."""
    import types

    from fusionkit.api import Tags
    from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams
    from fusionkit.hookspecs import hookimpl
    from fusionkit.plugins import get_plugins

    module = types.ModuleType("gapless_plugin")

    @hookimpl
    def register_fusions(register):
        register(
            "gapless",
            FeatureLevel,
            params=FeatureLevelParams,
            description="Early fusion that cannot take a missing modality.",
            tags=Tags(handles_missing=False),
        )

    module.register_fusions = register_fusions
    get_plugins().add(module, "gapless", "1", "test")
    _, outcome = known_truth
    overrides = [
        "methods=[logistic_regression, gapless]",
        "evaluation.contribution=false",
        "evaluation.robustness=[drop_modality, {type: table_noise, params: {levels: [0, 1]}}]",
    ]
    run = run_experiment(load_config(outcome.state.config.source, overrides), tmp_path / "run")
    assert not run.failures
    table = pd.read_csv(tmp_path / "run" / "robustness.csv")
    pair = table[table.scenario == "signal+noise"]
    assert set(pair[pair.method == "gapless"].perturbation) == {"none", "table_noise"}
    assert set(pair[pair.method == "logistic_regression"].perturbation) == {
        "none",
        "drop_modality",
        "table_noise",
    }
    note = "gapless: not evaluated under drop_modality"
    assert any(n.startswith(note) for n in run.all_notes)
    assert note in (tmp_path / "run" / "report.md").read_text()
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert note in manifest


def test_dropping_the_only_modality_of_some_subjects_scores_the_rest(small_cohort, tmp_path):
    """Under `missing: available` a subject may have EHR only; dropping EHR leaves it with
    nothing to predict from: that evaluation scores the subjects left with a modality."""
    import copy

    import yaml

    from fusionkit.experiment.store import RunStore
    from tests.conftest import BASE_CONFIG

    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["scenarios"] = ["ehr+snp"]
    config["methods"] = [{"type": "decision_level", "params": {"combine": "weighted"}}]
    config["evaluation"] = {"cv_folds": 3, "missing": "available", "robustness": ["drop_modality"]}
    path = tmp_path / "available.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = run_experiment(load_config(path), tmp_path / "run")
    assert not run.failures
    store = RunStore(tmp_path / "run")
    state = run.state
    for result in run.tables.cell_results:
        key = store.fitted_key(result.id)
        dropped = store.read_result(result.id, key, "drop_modality=ehr")
        with_snp = [s for s in result.predictions.ids if state.cohort.available["snp"][s]]
        assert dropped.predictions.ids == with_snp and dropped.n_test == len(with_snp)
        assert 0 < len(with_snp) < result.n_test  # some subjects had EHR only
