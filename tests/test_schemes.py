"""The evaluation scheme is one object (`fusionkit.experiment.scheme.Scheme`): `fusionkit cohort`
and `fusionkit run` ask it the same question, so they accept and reject the same cohorts; and
every view of a run with one test split shows no fold statistics."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

SCHEMES = {
    "kfold": {"cv_folds": 5},
    "holdout": {"holdout": 0.2},
    "predefined": {"split_column": "split"},
    "leave_out": {"leave_out_column": "site"},
}


@pytest.fixture()
def rare_class(small_cohort, tmp_path):
    """The small cohort with only four AD subjects: too few for 5 folds or a 1/5 hold-out, enough
    for a predefined split (two in train) and for leaving one of two sites out."""
    from tests.conftest import BASE_CONFIG

    data = tmp_path / "data"
    shutil.copytree(small_cohort, data)
    cohort = pd.read_csv(data / "cohort.csv")
    ad = cohort.index[cohort.diagnosis == "AD"]
    cohort = cohort.drop(ad[4:]).reset_index(drop=True)
    rows = np.arange(len(cohort))
    cohort["split"] = np.where(rows % 5 == 0, "test", np.where(rows % 5 == 1, "val", "train"))
    cohort["site"] = np.where(rows % 2 == 0, "site_a", "site_b")
    rare = cohort.index[cohort.diagnosis == "AD"]
    cohort.loc[rare, "split"] = ["train", "train", "val", "test"]
    cohort.loc[rare, "site"] = ["site_b", "site_a", "site_a", "site_b"]  # two AD per site
    cohort.to_csv(data / "cohort.csv", index=False)
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(data)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["methods"] = ["logistic_regression"]
    return config, tmp_path


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_cohort_and_run_agree_on_every_scheme(rare_class, cli, scheme):
    config, tmp = rare_class
    config["evaluation"] = SCHEMES[scheme]
    path = tmp / f"{scheme}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cohort = cli("cohort", path)
    run = cli("run", path, "--out", tmp / "run", "--dry-run")
    expected = 2 if scheme in ("kfold", "holdout") else 0  # four AD subjects
    assert cohort.exit_code == run.exit_code == expected, (cohort.stderr, run.stderr)
    if expected:
        assert cohort.stderr.strip() == run.stderr.strip()
        assert "class 'AD' has 4 subjects" in run.stderr
    else:
        assert "1 fold" in run.stdout or "2 folds" in run.stdout


def test_a_one_split_report_shows_no_fold_statistics(rare_class, cli):
    """A predefined split is scored once: the report gives the paired bootstrap interval only,
    never an interval or p-value over folds (which would be NaN, or a Wilcoxon p of 1)."""
    config, tmp = rare_class
    config["scenarios"] = ["ehr", "snp", "ehr+snp"]
    config["methods"] = ["logistic_regression", {"type": "feature_level"}]
    config["evaluation"] = SCHEMES["predefined"]
    path = tmp / "one_split.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = cli("run", path, "--out", tmp / "run")
    assert result.exit_code == 0, result.output
    report = (tmp / "run" / "report.md").read_text()
    section = report.split("## Each fusion strategy vs the best single modality")[1]
    table = section.split("\n\n")[2]
    header = table.splitlines()[0]
    assert "95 % CI (bootstrap)" in header
    for fold_column in ("95 % CI (folds)", "p (t, corrected)", "p (Wilcoxon)"):
        assert fold_column not in header
    assert "nan" not in table
    assert "± sd over folds" not in report and "mean over folds" not in report
    assert "paired subject bootstrap" in section.split("\n\n")[1]
