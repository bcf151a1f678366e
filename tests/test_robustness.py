"""Test-time robustness on kept models, against a known truth (a signal and a noise modality)."""

from __future__ import annotations

import pandas as pd
import pytest

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment
from tests.test_contribution import known_truth  # noqa: F401  (the shared fixture)

ROBUSTNESS = [
    "evaluation.robustness=[drop_modality, {type: missing_rate, params: {levels: [0, 0.5]}}]"
]


@pytest.fixture(scope="module")
def perturbed(known_truth):  # noqa: F811
    run_dir, outcome = known_truth
    config = load_config(outcome.state.config.source, ROBUSTNESS)
    again = run_experiment(config, run_dir)  # the same run directory: kept models are reused
    return run_dir, again


def test_adding_perturbations_fits_nothing(perturbed):
    _, again = perturbed
    assert again.cells_run == 0 and again.encoder_trainings == 0
    assert again.evaluations == 2 * 4 * 3  # both methods x 4 settings x 3 folds (no external)
    assert not again.failures


def test_a_setting_that_changes_nothing_gives_the_plain_result_exactly(perturbed):
    run_dir, _ = perturbed
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"fold": str, "setting": str})
    keys = ["scenario", "method", "fold", "split", "metric"]
    plain = table[table.perturbation == "none"].set_index(keys).value
    zero = table[(table.perturbation == "missing_rate") & (table.setting == "0")]
    assert len(zero) == len(plain) > 0
    assert zero.set_index(keys).value.sort_index().equals(plain.sort_index())
    main = pd.read_csv(run_dir / "results.csv", dtype={"fold": str}).set_index(keys).value
    assert plain.sort_index().equals(main.loc[plain.index].sort_index())


def test_dropping_noise_costs_nothing_dropping_the_signal_costs_much(perturbed):
    run_dir, _ = perturbed
    table = pd.read_csv(run_dir / "robustness.csv", dtype={"setting": str})
    f1 = table[(table.metric == "f1_macro") & (table.split == "cv")]
    for method in ("logistic_regression", "random_forest"):
        rows = f1[f1.method == method]
        plain = rows[rows.perturbation == "none"].value.mean()
        no_noise = rows[rows.setting == "noise"].value.mean()
        no_signal = rows[rows.setting == "signal"].value.mean()
        assert abs(plain - no_noise) < 0.05, method
        assert plain - no_signal > 0.3, method
    assert "## Robustness (test-time perturbations)" in (run_dir / "report.md").read_text()
    assert (run_dir / "figures" / "robustness.png").is_file()
