"""PLINK 1 binary and VCF genotypes read as the same allele counts as the CSV reader: the same
table, and the same results from a whole run (files written by the test itself)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from fusionkit.readers.base import ReadContext
from fusionkit.readers.genotype_files import write_pgen, write_plink, write_vcf


@pytest.fixture(scope="module")
def genotypes(small_cohort, tmp_path_factory):
    folder = tmp_path_factory.mktemp("genotypes")
    frame = pd.read_csv(small_cohort / "snp.csv", index_col="subject_id")
    frame.index = frame.index.astype(str)
    write_plink(frame, folder / "snp")
    write_pgen(frame, folder / "snp2")
    write_vcf(frame, folder / "snp.vcf")
    return folder, frame


def _read(reader: str, path: str, folder, params=None):
    from fusionkit.plugins import get_registry

    component = get_registry().get("reader", reader)
    ctx = ReadContext("snp", "genotype", folder, "subject_id")
    return component.build(params or {}).read(path, ctx).frame


def test_plink_and_vcf_give_the_csv_counts(genotypes, small_cohort):
    folder, frame = genotypes
    assert np.isnan(frame.to_numpy()).any()  # missing calls are part of the check
    csv = _read("genotype", "snp.csv", small_cohort)
    for reader, path in (
        ("plink", "snp.bed"),
        ("plink", "snp"),
        ("pgen", "snp2"),
        ("pgen", "snp2.pgen"),
        ("vcf", "snp.vcf"),
    ):
        got = _read(reader, path, folder)
        pd.testing.assert_frame_equal(got, csv, check_names=False, obj=f"{reader} {path}")


def test_variants_select_and_a_missing_one_is_named(genotypes):
    from fusionkit.errors import DataError

    folder, frame = genotypes
    wanted = list(frame.columns[[3, 1]])
    got = _read("vcf", "snp.vcf", folder, {"variants": wanted})
    assert list(got.columns) == wanted
    with pytest.raises(DataError, match=r"snp.bed: variant 'rs_nope' \(params.variants\)"):
        _read("plink", "snp", folder, {"variants": ["rs_nope"]})
    with pytest.raises(DataError, match=r"copy.bim: file not found"):
        (folder / "copy.bed").write_bytes((folder / "snp.bed").read_bytes())
        _read("plink", "copy.bed", folder)


def test_a_run_reading_plink_or_vcf_gives_the_csv_results(genotypes, small_cohort, tmp_path):
    from fusionkit.config import load_config
    from fusionkit.experiment.runner import run_experiment
    from tests.conftest import BASE_CONFIG

    folder, _ = genotypes
    results = {}
    for name, snp in (
        ("csv", {"kind": "genotype", "path": str(small_cohort / "snp.csv")}),
        ("plink", {"kind": "genotype", "path": str(folder / "snp"), "reader": "plink"}),
        ("pgen", {"kind": "genotype", "path": str(folder / "snp2"), "reader": "pgen"}),
        ("vcf", {"kind": "genotype", "path": str(folder / "snp.vcf"), "reader": "vcf"}),
    ):
        config = copy.deepcopy(BASE_CONFIG)
        config["data"]["root"] = str(small_cohort)
        del config["data"]["external"]
        config["data"]["modalities"] = {
            "ehr": config["data"]["modalities"]["ehr"],
            "snp": snp,
        }
        config["encoders"] = {"ehr": "raw", "snp": "raw"}
        config["methods"] = ["logistic_regression", "feature_level"]
        config["evaluation"] = {"cv_folds": 3}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        run = run_experiment(load_config(path), tmp_path / name)
        assert not run.failures
        results[name] = (tmp_path / name / "results.csv").read_text()
    assert results["plink"] == results["csv"]
    assert results["vcf"] == results["csv"]
    assert results["pgen"] == results["csv"]


def test_variant_filters_use_the_training_part_only(tmp_path):
    """min_maf and min_call_rate are computed on the subjects the encoder is fitted on: a
    variant polymorphic only among test subjects is dropped, as is one missing too often."""
    from fusionkit.data.modality import TableData
    from fusionkit.encoders.raw import RawEncoder, RawParams

    n = 40
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "common": rng.integers(0, 3, n).astype(float),
            "test_only": np.r_[np.zeros(30), np.full(10, 2.0)],  # monomorphic in training
            "gappy": np.where(np.arange(n) % 3 == 0, np.nan, rng.integers(0, 3, n)),
        },
        index=[f"S{i}" for i in range(n)],
    )
    data = TableData("genotype", frame, tmp_path / "g.csv")
    train = data.subset([f"S{i}" for i in range(30)])
    encoder = RawEncoder(RawParams(min_maf=0.05, min_call_rate=0.9)).fit(train)
    assert encoder.columns_ == ["common"]
    assert encoder.transform(data).shape == (n, 1)
    everyone = RawEncoder(RawParams(min_maf=0.05)).fit(data)  # all subjects: it would pass
    assert "test_only" in everyone.columns_


def test_variant_filters_are_for_genotypes(tmp_path):
    from fusionkit.data.modality import TableData
    from fusionkit.encoders.raw import RawEncoder, RawParams
    from fusionkit.errors import ConfigError

    table = TableData("table", pd.DataFrame({"age": [60.0, 70.0]}, index=["a", "b"]), tmp_path)
    with pytest.raises(ConfigError, match="genotype modalities only"):
        RawEncoder(RawParams(min_maf=0.01)).fit(table)


def test_a_corrupt_plink2_file_set_is_named(genotypes):
    from fusionkit.errors import DataError

    folder, _ = genotypes
    for suffix in (".pvar", ".psam"):
        (folder / f"bad{suffix}").write_text((folder / f"snp2{suffix}").read_text())
    (folder / "bad.pgen").write_bytes(b"not a pgen file at all")
    with pytest.raises(DataError, match=r"bad\.pgen: cannot read as PLINK 2"):
        _read("pgen", "bad", folder)
    (folder / "bad.psam").write_text("IID\nS1\n")  # no '#' header
    with pytest.raises(DataError, match=r"bad\.psam: no header line starting with '#'"):
        _read("pgen", "bad", folder)
    (folder / "bad.psam").unlink()
    with pytest.raises(DataError, match=r"bad\.psam: file not found \(PLINK 2 needs"):
        _read("pgen", "bad", folder)
