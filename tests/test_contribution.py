"""Modality contribution against a known truth: a modality carrying the label and one of noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment


def test_the_informative_modality_ranks_first_and_noise_adds_nothing(known_truth):
    run_dir, _ = known_truth
    table = pd.read_csv(run_dir / "contribution.csv")
    table = table[table.measure == "shapley"]
    means = table[table.fold == "mean"].set_index(["method", "modality"]).value
    for method in ("logistic_regression", "random_forest"):
        assert means[(method, "signal")] > 0.3
        assert abs(means[(method, "noise")]) < 0.05
    assert "Modality contribution (Shapley values)" in (run_dir / "report.md").read_text()
    assert (run_dir / "figures" / "contribution.png").is_file()


def test_shapley_values_of_a_fold_sum_to_full_minus_chance(known_truth):
    """Efficiency, checked against the main table: every subject has both modalities, so the
    shared subjects are the fold's whole test part."""
    run_dir, outcome = known_truth
    table = pd.read_csv(run_dir / "contribution.csv", dtype={"fold": str})
    table = table[table.measure == "shapley"]
    results = pd.read_csv(run_dir / "results.csv", dtype={"fold": str})
    state = outcome.state
    for fold in state.folds:
        index = str(fold.fold)
        full = results.query(
            "scenario == 'signal+noise' and method == 'logistic_regression' and "
            f"metric == 'f1_macro' and fold == '{index}'"
        ).value.iloc[0]
        q = np.bincount(state.cohort.y[fold.train], minlength=3) / len(fold.train)
        p = np.bincount(state.cohort.y[fold.test], minlength=3) / len(fold.test)
        chance_f1 = np.mean(2 * p * q / (p + q))  # random guesses with the training frequencies
        phi = table.query(f"method == 'logistic_regression' and fold == '{index}'").value.sum()
        assert phi == pytest.approx(full - chance_f1, abs=2e-6)


def test_contribution_needs_every_subset(known_truth, tmp_path):
    _, outcome = known_truth
    config = load_config(outcome.state.config.source, ["scenarios=[signal, signal+noise]"])
    result = run_experiment(config, tmp_path / "partial")
    table = pd.read_csv(tmp_path / "partial" / "contribution.csv")
    assert set(table.measure) == {"permutation"}  # no Shapley values without every subset
    manifest = (tmp_path / "partial" / "manifest.json").read_text()
    assert "is not evaluated on every subset of signal+noise" in manifest
    assert any("is not evaluated on every subset" in note for note in result.all_notes)
    assert not result.failures


def test_permuting_the_signal_costs_much_permuting_noise_nothing(known_truth):
    run_dir, outcome = known_truth
    assert outcome.evaluations == 2 * 2 * 3 * 3  # methods x modalities x repeats x folds
    table = pd.read_csv(run_dir / "contribution.csv")
    drops = table[(table.measure == "permutation") & (table.fold == "mean")]
    drops = drops.set_index(["method", "modality"]).value
    for method in ("logistic_regression", "random_forest"):
        assert drops[(method, "signal")] > 0.3
        assert abs(drops[(method, "noise")]) < 0.05
    assert "Permutation: the drop in f1_macro" in (run_dir / "report.md").read_text()
    assert "Permutation: the drop in f1_macro" in (run_dir / "report.html").read_text()


def test_a_method_with_permutation_drops_but_no_shapley_values_is_reported():
    """A method may have permutation drops (full scenario) but no Shapley values (a subset
    without shared subjects): each table lists the methods it has rows for (this crashed the
    report before)."""
    from fusionkit.outputs.contribution import COLUMNS
    from fusionkit.outputs.report_tables import contribution_table

    rows = []
    for method, measures in (("lr", ("shapley", "permutation")), ("knn", ("permutation",))):
        for measure in measures:
            for m, value in (("ehr", 0.2), ("snp", 0.1)):
                rows += [(method, m, measure, "f1_macro", f, value) for f in ("0", "mean")]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    shapley = contribution_table(frame)
    assert shapley.method.tolist() == ["lr"] and list(shapley.columns) == ["method", "ehr", "snp"]
    assert shapley.loc[0, "ehr"] == "+0.200"
    assert contribution_table(frame, "permutation").method.tolist() == ["lr", "knn"]
