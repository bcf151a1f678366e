"""The built-in synthetic datasets: real files, deterministic, each modality informative."""

from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(
            path.read_bytes()
            if path.suffix != ".gz"
            else np.asarray(nib.load(path).dataobj).tobytes()
        )
    return h.hexdigest()


@pytest.fixture(scope="module")
def adni(tmp_path_factory):
    from typer.testing import CliRunner

    from fusionkit.cli import app

    out = tmp_path_factory.mktemp("gen") / "adni"
    result = CliRunner().invoke(
        app,
        [
            "demo-data",
            "adni-like",
            "--out",
            str(out),
            "--seed",
            "5",
            "--n-subjects",
            "240",
            "--n-external",
            "60",
            "--image-shape",
            "12,14,12",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_writes_the_documented_files(adni):
    for name in (
        "cohort.csv",
        "ehr.csv",
        "snp.csv",
        "external/cohort.csv",
        "external/ehr.csv",
        "external/snp.csv",
    ):
        assert (adni / name).is_file(), name
    cohort = pd.read_csv(adni / "cohort.csv")
    assert list(cohort.columns) == ["subject_id", "diagnosis", "site"]
    assert set(cohort.diagnosis) == {"CN", "MCI", "AD"}
    shares = cohort.diagnosis.value_counts(normalize=True)
    assert abs(shares["CN"] - 0.35) < 0.08 and abs(shares["MCI"] - 0.45) < 0.08


def test_every_volume_opens_with_nibabel(adni):
    files = sorted((adni / "images").glob("*.nii.gz"))
    assert files
    for file in files:
        image = nib.load(file)
        assert image.shape == (12, 14, 12)
        assert np.isfinite(image.get_fdata()).all()


def test_ehr_and_snp_content(adni):
    ehr = pd.read_csv(adni / "ehr.csv")
    assert 24 <= ehr.shape[1] - 1 <= 26
    missing = ehr.drop(columns=["subject_id"]).isna().to_numpy().mean()
    assert 0.03 <= missing <= 0.08
    assert ehr["sex"].dropna().isin(["F", "M"]).all()
    snp = pd.read_csv(adni / "snp.csv").drop(columns=["subject_id"])
    values = snp.to_numpy()
    assert set(np.unique(values[~np.isnan(values)])) <= {0, 1, 2}
    assert 0.005 < np.isnan(values).mean() < 0.02
    assert "rs429358" in snp.columns


def test_availability_like_adni(adni):
    n = len(pd.read_csv(adni / "cohort.csv"))
    n_snp = len(pd.read_csv(adni / "snp.csv"))
    n_mri = len(list((adni / "images").glob("*.nii.gz")))
    assert abs(n_snp / n - 0.6) < 0.1 and abs(n_mri / n - 0.5) < 0.1


def test_external_site_has_other_intensity_and_older_subjects(adni):
    main = [nib.load(f).get_fdata().mean() for f in sorted((adni / "images").glob("*.nii.gz"))]
    ext = [
        nib.load(f).get_fdata().mean()
        for f in sorted((adni / "external" / "images").glob("*.nii.gz"))
    ]
    assert np.mean(ext) > 1.2 * np.mean(main)
    age = pd.read_csv(adni / "ehr.csv")["age"].mean()
    age_ext = pd.read_csv(adni / "external" / "ehr.csv")["age"].mean()
    assert age_ext > age + 2


def test_same_seed_same_files(tmp_path):
    from fusionkit.data.synthetic.adni_like import generate

    kwargs = dict(n_subjects=40, n_external=10, n_snps=30, n_causal=3, image_shape=(8, 8, 8))
    generate(tmp_path / "a", seed=1, **kwargs)
    generate(tmp_path / "b", seed=1, **kwargs)
    generate(tmp_path / "c", seed=2, **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_each_modality_alone_carries_information(adni):
    """A simple classifier on each modality alone beats chance (cross-validated balanced acc.)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cohort = pd.read_csv(adni / "cohort.csv").set_index("subject_id")
    ehr = pd.read_csv(adni / "ehr.csv").set_index("subject_id").select_dtypes("number")
    snp = pd.read_csv(adni / "snp.csv").set_index("subject_id")
    ids = sorted(p.name.removesuffix(".nii.gz") for p in (adni / "images").glob("*.nii.gz"))
    img = pd.DataFrame(
        [
            np.asarray(nib.load(adni / "images" / f"{i}.nii.gz").dataobj, float)[
                ::2, ::2, ::2
            ].ravel()
            for i in ids
        ],
        index=ids,
    )
    model = make_pipeline(
        SimpleImputer(),
        StandardScaler(),
        LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"),
    )
    scores = {}
    for name, table in {"ehr": ehr, "snp": snp, "img": img}.items():
        y = cohort.loc[table.index, "diagnosis"]
        scores[name] = cross_val_score(
            model, table.to_numpy(), y, cv=3, scoring="balanced_accuracy"
        ).mean()
    assert all(score > 1 / 3 + 0.04 for score in scores.values()), scores
    assert scores["ehr"] > scores["snp"], scores  # cognitive scores say more than genotypes


def test_refuses_to_overwrite_a_non_empty_folder(cli, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    result = cli("demo-data", "adni-like", "--out", out, "--n-subjects", "30")
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"error: {out}: already exists and is not empty; choose a "
        "new --out folder"
    )
    assert (out / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]


def test_imaging_5class_folders(cli, tmp_path):
    out = tmp_path / "five"
    result = cli("demo-data", "imaging-5class", "--out", out, "--per-class", "3", "--size", "32")
    assert result.exit_code == 0, result.output
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct"]
    modes = {Image.open(next((out / f).glob("*.png"))).mode for f in folders}
    assert modes == {"L", "RGB"}
    assert all(len(list((out / f).glob("*.png"))) == 3 for f in folders)
