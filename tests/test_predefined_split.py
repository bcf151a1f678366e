"""A predefined split (evaluation.split_column): fit on train, stop early on val, score test
once; named as such in the tables and the report."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from fusionkit.config import EvaluationConfig
from fusionkit.data.splits import make_folds
from fusionkit.training.context import FitContext
from fusionkit.training.loop import split_validation


def test_folds_of_a_predefined_split():
    splits = np.array(["train", "val", "test", "train", "train", "val", "test", "train"])
    evaluation = EvaluationConfig(split_column="split")
    (fold,) = make_folds(np.zeros(8, int), np.arange(8).astype(str), evaluation, 0, splits)
    assert fold.train.tolist() == [0, 1, 3, 4, 5, 7]  # train + val: the training part
    assert fold.validation.tolist() == [1, 5]
    assert fold.test.tolist() == [2, 6]


def test_early_stopping_uses_the_predefined_validation_subjects():
    ids = [f"S{i}" for i in range(12)]
    ctx = FitContext(validation_ids=frozenset({"S2", "S7"}))
    fit, val = split_validation(np.arange(12) % 2, ctx, ids)
    assert [ids[i] for i in val] == ["S2", "S7"]
    assert len(fit) == 10
    assert ctx.derive("cell", 1).validation_ids == ctx.validation_ids  # kept by every task


@pytest.fixture()
def split_config(small_cohort, tmp_path):
    from tests.conftest import BASE_CONFIG

    data = tmp_path / "data"
    import shutil

    shutil.copytree(small_cohort, data)
    cohort = pd.read_csv(data / "cohort.csv")
    cohort["split"] = np.where(np.arange(len(cohort)) % 5 == 0, "test", "train")
    cohort.loc[np.arange(len(cohort)) % 5 == 1, "split"] = "val"
    cohort.to_csv(data / "cohort.csv", index=False)
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(data)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["encoders"] = {"ehr": {"type": "mlp", "params": {"hidden": [8], "train": {"epochs": 3}}}}
    config["methods"] = ["logistic_regression", "deep_concat"]
    config["evaluation"] = {"split_column": "split"}
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, cohort


def test_a_run_on_a_predefined_split(cli, split_config, tmp_path):
    path, cohort = split_config
    out = tmp_path / "run"
    result = cli("run", path, "--out", out)
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out / "predictions.csv")
    scored = predictions[predictions.split == "test"]
    test_ids = set(cohort.subject_id[cohort.split == "test"])
    # the test part is scored once, and only the test part
    for _, part in scored.groupby(["scenario", "method"]):
        assert set(part.subject_id) <= test_ids and part.subject_id.is_unique
    assert set(predictions.split) == {"test"}
    results = pd.read_csv(out / "results.csv")
    assert set(results.split) == {"test"}
    summary = pd.read_csv(out / "summary.csv")
    assert (summary[summary.scenario == "ehr"].n_subjects == len(test_ids)).all()
    report = (out / "report.md").read_text()
    assert "predefined split in column `split` (train 36, val 12, test 12" in report
    assert "## Summary (the single test split" in report
    assert "over folds" not in report and "over folds" not in result.output
    assert "best by f1_macro (on the test split):" in result.output
    assert "± " not in report.split("## Summary")[1].split("##")[0]  # no sd of one split
    assert "paired bootstrap over the" in report  # the verdict's interval on one split


def test_unknown_split_value_is_named(cli, split_config):
    path, cohort = split_config
    data = yaml.safe_load(path.read_text())["data"]["root"]
    cohort.loc[3, "split"] = "validation"
    cohort.to_csv(f"{data}/cohort.csv", index=False)
    result = cli("run", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {data}/cohort.csv: subject {cohort.subject_id[3]}: 'validation' in column "
        "'split' (evaluation.split_column) is not one of ['train', 'val', 'test']"
    )


def test_a_predefined_split_and_a_holdout_are_exclusive(cli, split_config):
    path, _ = split_config
    result = cli("validate", path, "--set", "evaluation.holdout=0.2")
    assert result.exit_code == 2
    assert "evaluation.split_column: a predefined split replaces evaluation.holdout" in (
        result.stderr
    )


def test_convert_medmnist_keeps_the_official_split(cli, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        arrays[f"{split}_images"] = rng.integers(0, 255, size=(n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1)
    np.savez(tmp_path / "tiny.npz", **arrays)
    out = tmp_path / "tiny"
    result = cli("convert", "medmnist", tmp_path / "tiny.npz", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{out}: train 6, val 2, test 3"
    cohort = pd.read_csv(out / "cohort.csv")
    assert cohort.split.value_counts().to_dict() == {"train": 6, "test": 3, "val": 2}
    first = np.asarray(Image.open(out / "images" / "test00001.png"))
    assert np.array_equal(first, arrays["test_images"][1])
    assert cohort.set_index("subject_id").label["test00001"] == 1
    again = cli("convert", "medmnist", tmp_path / "tiny.npz", "--out", out)
    assert again.exit_code == 2 and "already exists and is not empty" in again.stderr
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    wrong = cli("convert", "medmnist", tmp_path / "other.npz", "--out", tmp_path / "o")
    assert wrong.exit_code == 2
    assert wrong.stderr.startswith(f"error: {tmp_path / 'other.npz'}: not a MedMNIST file")


def test_one_modality_gets_the_best_method_as_its_answer(cli, split_config, tmp_path):
    path, _ = split_config
    out = tmp_path / "one"
    result = cli("run", path, "--out", out, "--set", "scenarios=[ehr]")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("answer: "))
    assert " scores best (f1_macro " in line and "no fusion to compare" in line
    report = (out / "report.md").read_text()
    assert "test-split f1_macro with its 95 % interval from a subject bootstrap" in report


def test_leave_one_site_out(cli, small_cohort, tmp_path):
    """evaluation.leave_out_column: one fold per site, each testing exactly that site's
    subjects; a site may lack a class; the report names the scheme."""
    from tests.conftest import BASE_CONFIG

    cohort = pd.read_csv(small_cohort / "cohort.csv")
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["encoders"] = {"ehr": "raw", "snp": "raw"}
    config["methods"] = ["logistic_regression", "feature_level"]
    config["evaluation"] = {"leave_out_column": "site"}
    path = tmp_path / "logo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "run"
    result = cli("run", path, "--out", out)
    assert result.exit_code == 0, result.output
    assert "folds (one per value of 'site')" in result.stdout
    predictions = pd.read_csv(out / "predictions.csv", dtype={"subject_id": str})
    site = cohort.set_index("subject_id").site
    sites = sorted(site.unique())
    part = predictions[(predictions.scenario == "ehr") & (predictions.method == "feature_level")]
    assert sorted(part.fold.unique()) == list(range(len(sites)))
    for fold, group in part.groupby("fold"):
        assert set(site[group.subject_id]) == {sites[fold]}  # tests exactly one site
    assert len(part) == len(cohort)  # every subject tested once
    report = (out / "report.md").read_text()
    assert f"leave one group out over column `site` ({len(sites)} folds" in report
    bad = cli("validate", path, "--set", "evaluation.holdout=0.2")
    assert bad.exit_code == 2
    assert "leaving groups out replaces evaluation.holdout" in bad.stderr


def test_a_split_without_val_says_so(cli, split_config, tmp_path):
    """No 'val' subject: the networks fall back to a random validation part, and the run
    says it instead of doing it silently."""
    path, cohort = split_config
    data = yaml.safe_load(path.read_text())["data"]["root"]
    cohort.loc[cohort.split == "val", "split"] = "train"
    cohort.to_csv(f"{data}/cohort.csv", index=False)
    result = cli("run", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "no subject has 'val' in column 'split': networks stop early on a validation part" in (
        result.stderr
    )
