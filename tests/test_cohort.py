"""Cohorts: joined by subject id, missing modalities counted, bad data named in one line."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from fusionkit.config import load_config
from fusionkit.data.cohort import load_cohort


@pytest.fixture
def data_copy(small_cohort, tmp_path, base_config):
    """A private copy of the small cohort and a config pointing at it."""
    root = tmp_path / "data"
    shutil.copytree(small_cohort, root)
    config = dict(base_config, data=dict(base_config["data"], root=str(root)))
    return root, config


def cohort_of(write_config, config, *overrides):
    return load_cohort(load_config(write_config(config), list(overrides)))


def test_modalities_are_joined_by_id_not_row_position(data_copy, write_config):
    root, config = data_copy
    before = cohort_of(write_config, config)
    ehr = pd.read_csv(root / "ehr.csv")
    ehr.iloc[::-1].to_csv(root / "ehr.csv", index=False)  # reverse the row order
    after = cohort_of(write_config, config)
    assert before.ids == after.ids
    pd.testing.assert_frame_equal(before.modalities["ehr"].frame, after.modalities["ehr"].frame)
    # and the values really belong to the subject: compare with the file by id
    first = before.ids[0]
    expected = ehr.set_index("subject_id").loc[first, "mmse"]
    assert before.modalities["ehr"].frame.loc[first, "mmse"] == pytest.approx(expected, nan_ok=True)


def test_availability_and_missing_values_are_kept(data_copy, write_config):
    root, config = data_copy
    cohort = cohort_of(write_config, config)
    snp_ids = set(pd.read_csv(root / "snp.csv", dtype={"subject_id": str})["subject_id"])
    assert set(np.array(cohort.ids)[cohort.available["snp"].to_numpy()]) == snp_ids
    assert cohort.available["ehr"].all()
    ehr = cohort.modalities["ehr"]
    assert ehr.frame.isna().to_numpy().any(), "missing cells must stay missing, not be dropped"
    assert {"sex", "ethnicity", "marital_status", "smoking_status"} <= set(ehr.categorical)
    assert "diagnosis" not in ehr.frame.columns
    n_images = len(list((root / "images").glob("*.nii.gz")))
    assert int(cohort.available["img"].sum()) == n_images


def test_missing_image_is_counted_and_marked(data_copy, write_config):
    root, config = data_copy
    victim = sorted((root / "images").glob("*.nii.gz"))[0]
    subject = victim.name.removesuffix(".nii.gz")
    victim.unlink()
    cohort = cohort_of(write_config, config)
    assert not cohort.available.loc[subject, "img"]
    assert any(n.startswith("img: ") and "have no data" in n for n in cohort.notes)


def test_missing_image_of_required_modality_is_an_error(cli, data_copy, write_config):
    _, config = data_copy
    config["data"]["modalities"]["img"]["required"] = True
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: ") and "subjects have no img data" in line
    assert "data.modalities.img.required is true" in line


def test_corrupt_nifti_in_cohort_names_the_file(cli, data_copy, write_config):
    root, config = data_copy
    victim = sorted((root / "images").glob("*.nii.gz"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {victim}: cannot read as NIFTI")


def test_duplicate_subject_ids(cli, data_copy, write_config):
    root, config = data_copy
    ehr = pd.read_csv(root / "ehr.csv", dtype={"subject_id": str})
    ehr.loc[4, "subject_id"] = ehr.loc[1, "subject_id"]
    ehr.to_csv(root / "ehr.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    dup = ehr.loc[1, "subject_id"]
    assert result.stderr.strip() == (
        f"error: {root / 'ehr.csv'}: duplicate subject_id {dup!r} (rows 3 and 6); a table with "
        "one row per visit needs params.visit (a visit code of params.visit_column, or nearest by "
        "params.date_column)"
    )


def test_id_column_missing(cli, data_copy, write_config):
    root, config = data_copy
    snp = pd.read_csv(root / "snp.csv").rename(columns={"subject_id": "sid"})
    snp.to_csv(root / "snp.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        f"error: {root / 'snp.csv'}: id column 'subject_id' not found (columns: sid, "
    )


def test_label_not_among_classes(cli, data_copy, write_config):
    root, config = data_copy
    cohort = pd.read_csv(root / "cohort.csv")
    cohort.loc[2, "diagnosis"] = "FTD"
    cohort.to_csv(root / "cohort.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {root / 'cohort.csv'}: subject {cohort.loc[2, 'subject_id']}: label 'FTD' in "
        "column 'diagnosis' is not one of data.classes ['CN', 'MCI', 'AD'] (add it there or to "
        "data.label_map)"
    )


def test_class_with_fewer_subjects_than_folds(cli, data_copy, write_config):
    root, config = data_copy
    n_ad = int((pd.read_csv(root / "cohort.csv")["diagnosis"] == "AD").sum())
    result = cli("cohort", write_config(config), "--set", f"evaluation.cv_folds={n_ad + 1}")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {root / 'cohort.csv'}: class 'AD' has {n_ad} subjects, fewer than "
        f"evaluation.cv_folds = {n_ad + 1}"
    )


def test_genotype_value_outside_0_1_2(cli, data_copy, write_config):
    root, config = data_copy
    snp = pd.read_csv(root / "snp.csv", dtype=str)
    column = snp.columns[3]
    snp.loc[6, column] = "A/G"
    snp.to_csv(root / "snp.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {root / 'snp.csv'}: row 8, column {column!r}: 'A/G' is not a minor-allele count "
        "(0, 1, 2 or empty)"
    )


def test_ids_only_in_a_modality_are_reported(data_copy, write_config):
    root, config = data_copy
    ehr = pd.read_csv(root / "ehr.csv", dtype={"subject_id": str})
    extra = ehr.iloc[[0]].assign(subject_id="GHOST01")
    pd.concat([ehr, extra]).to_csv(root / "ehr.csv", index=False)
    cohort = cohort_of(write_config, config)
    assert "GHOST01" not in cohort.ids
    assert any("1 ids not in the cohort were ignored (e.g. GHOST01)" in w for w in cohort.warnings)


def test_unlabelled_subjects_are_left_out_with_a_note(data_copy, write_config):
    root, config = data_copy
    table = pd.read_csv(root / "cohort.csv")
    table.loc[[0, 1], "diagnosis"] = np.nan
    table.to_csv(root / "cohort.csv", index=False)
    cohort = cohort_of(write_config, config)
    assert len(cohort.ids) == len(table) - 2
    assert any(w.startswith("2 subjects without a value in 'diagnosis'") for w in cohort.warnings)


def test_external_cohort_has_same_modalities(data_copy, write_config):
    _, config = data_copy
    external = load_cohort(load_config(write_config(config)), external=True)
    assert set(external.modalities) == {"ehr", "snp", "img"}
    assert all(i.startswith("X") for i in external.ids)


def test_cohort_command_summarises_availability(cli, data_copy, write_config):
    root, config = data_copy
    result = cli("cohort", write_config(config))
    assert result.exit_code == 0, result.output
    n = len(pd.read_csv(root / "cohort.csv"))
    assert f"cohort: {root / 'cohort.csv'} ({n} subjects)" in result.stdout
    snp_n = len(pd.read_csv(root / "snp.csv"))
    assert any(
        line.split()[:2] == ["snp", "(genotype)"] and line.split()[2] == str(snp_n)
        for line in result.stdout.splitlines()
    )
    assert "ehr+snp+img" in result.stdout and "external cohort:" in result.stdout


def test_class_folder_cohort(tmp_path, write_config):
    from fusionkit.data.synthetic.imaging_5class import CLASSES, generate

    generate(tmp_path / "imgs", per_class=3, size=24)
    config = {
        "name": "folders",
        "data": {
            "root": str(tmp_path / "imgs"),
            "cohort": ".",
            "classes": list(CLASSES),
            "modalities": {"img": {"kind": "image", "path": "{subject_id}.png"}},
        },
        "methods": ["logistic_regression"],
    }
    cohort = load_cohort(load_config(write_config(config)))
    assert len(cohort.ids) == 15
    assert cohort.class_counts() == dict.fromkeys(CLASSES, 3)
    assert cohort.available["img"].all()
    assert cohort.ids[0] == "chest_xray/chest_xray_0000"


def test_nifti_volumes_have_a_proper_affine(small_cohort):
    files = sorted((small_cohort / "images").glob("*.nii.gz"))
    image = nib.load(files[0])
    assert image.shape == (10, 12, 10)
    assert np.allclose(np.diag(image.affine)[:3], 6.0)
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S")


def test_modality_whose_ids_match_no_subject_is_an_error(cli, data_copy, write_config):
    root, config = data_copy
    snp = pd.read_csv(root / "snp.csv", dtype={"subject_id": str})
    snp["subject_id"] = snp["subject_id"].str.removeprefix("S").str.lstrip("0")  # "S0007" -> "7"
    snp.to_csv(root / "snp.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith(f"error: {root / 'snp.csv'}: none of its")
    assert "subject ids match the cohort's 'subject_id'" in line


def test_a_clinical_table_per_visit_joined_at_the_scan_date(cli, data_copy, write_config):
    """data.date_column (each subject's scan date) + visit: nearest: every subject's EHR row is
    the visit nearest its scan, the date is never a feature, and a bad date is a one-line
    error naming the file, row and column."""
    root, config = data_copy
    cohort = pd.read_csv(root / "cohort.csv", dtype={"subject_id": str})
    cohort["scan_date"] = "2012-03-01"
    cohort.to_csv(root / "cohort.csv", index=False)
    ehr = pd.read_csv(root / "ehr.csv", dtype={"subject_id": str})
    later = ehr.assign(mmse=ehr.mmse - 5, EXAMDATE="2013-03-01")  # a year after the scan
    visits = pd.concat([ehr.assign(EXAMDATE="2012-02-01"), later])
    visits.sample(frac=1.0, random_state=0).to_csv(root / "ehr.csv", index=False)
    config["data"]["date_column"] = "scan_date"
    config["data"]["modalities"]["ehr"]["reader"] = {
        "type": "table",
        "params": {"visit": "nearest", "date_column": "EXAMDATE"},
    }
    read = cohort_of(write_config, config)
    frame = read.modalities["ehr"].frame
    expected = ehr.set_index("subject_id").mmse.reindex(read.ids)
    np.testing.assert_array_equal(frame.mmse.to_numpy(), expected.to_numpy())
    assert "EXAMDATE" not in frame.columns and "scan_date" not in frame.columns
    assert any("a median 29 days from it (most 29)" in n for n in read.notes)

    cohort.loc[3, "scan_date"] = "March 2012"
    cohort.to_csv(root / "cohort.csv", index=False)
    result = cli("cohort", write_config(config))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {root / 'cohort.csv'}: row 5, column 'scan_date': 'March 2012' is not a date "
        "(write dates as YYYY-MM-DD)"
    )
