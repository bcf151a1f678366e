"""The worked examples of the format pages (docs/genotype-files.md, longitudinal.md,
splits.md) run as a reader would run them: the study data written by
docs/examples/study_data.py, then `fusionkit run` on each example config."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "docs" / "examples"


@pytest.fixture(scope="module")
def study_data(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("study_data", EXAMPLES / "study_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("study-data")
    module.write(out)
    return out


def run(cli, name: str, data, out, *overrides: str):
    result = cli("run", EXAMPLES / name, "--out", out, "--set", f"data.root={data}", *overrides)
    assert result.exit_code == 0, result.output
    return result


def test_the_study_data_is_what_consortia_ship(study_data):
    cohort = pd.read_csv(study_data / "cohort.csv")
    visits = pd.read_csv(study_data / "adnimerge.csv")
    assert set(cohort.split) == {"train", "val", "test"}
    assert (visits.groupby("subject_id").size() == 4).all()  # one row per visit
    assert {"snp.bed", "snp.bim", "snp.fam", "snp.vcf"} <= {
        p.name for p in (study_data / "genotypes").iterdir()
    }


def test_plink_and_vcf_examples_give_the_same_results(cli, study_data, tmp_path):
    fast = "methods=[logistic_regression, feature_level]"
    run(cli, "genotypes.yaml", study_data, tmp_path / "plink", "--set", fast)
    run(
        cli,
        "genotypes.yaml",
        study_data,
        tmp_path / "vcf",
        *("--set", fast, "--set", "data.modalities.snp.reader=vcf"),
        *("--set", "data.modalities.snp.path=genotypes/snp.vcf"),
    )
    plink = (tmp_path / "plink" / "results.csv").read_text()
    assert plink == (tmp_path / "vcf" / "results.csv").read_text()
    assert "ehr+snp" in plink


def test_the_visit_nearest_the_scan_example(cli, study_data, tmp_path):
    run(cli, "longitudinal.yaml", study_data, tmp_path / "run")
    report = (tmp_path / "run" / "report.md").read_text()
    assert "visits nearest the reference date are a median" in report
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert set(summary.scenario) == {"baseline", "at_scan"}
    assert (summary.n_subjects == 240).all()


def test_the_predefined_split_example(cli, study_data, tmp_path):
    result = run(cli, "splits.yaml", study_data, tmp_path / "run")
    assert "best by f1_macro (on the test split):" in result.output
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert set(results.split) == {"test"}
    cohort = pd.read_csv(study_data / "cohort.csv")
    n_test = int((cohort.split == "test").sum())
    summary = pd.read_csv(tmp_path / "run" / "summary.csv").set_index(["scenario", "method"])
    assert summary.loc[("ehr", "logistic_regression"), "n_subjects"] == n_test


def test_init_reads_the_study_data_as_shipped(cli, study_data, tmp_path):
    """fusionkit init on the study data: the per-visit table gets its visit rule and its date
    left out, the cohort's split column becomes the scheme, and the config validates."""
    import yaml

    out = tmp_path / "study.yaml"
    result = cli("init", study_data, "--out", out)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    reader = config["data"]["modalities"]["adnimerge"]["reader"]
    assert reader["params"] == {"visit_column": "VISCODE", "visit": "bl", "exclude": ["EXAMDATE"]}
    assert config["evaluation"]["split_column"] == "split"
    assert "or visit: nearest, date_column: EXAMDATE" in out.read_text()
    assert cli("validate", out).exit_code == 0
