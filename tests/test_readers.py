"""Readers and the raw encoder: file formats, categories, and fitting on training rows only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fusionkit.data.modality import TableData
from fusionkit.errors import DataError
from fusionkit.plugins import get_registry
from fusionkit.readers.base import ReadContext


def ctx(root: Path, kind: str = "table", **kwargs) -> ReadContext:
    return ReadContext(
        modality="m",
        kind=kind,
        root=root,
        id_column="subject_id",
        exclude=frozenset({"diagnosis"}),
        **kwargs,
    )


def reader(name: str, **params):
    return get_registry().get("reader", name).build(params)


FRAME = pd.DataFrame(
    {
        "subject_id": ["007", "008", "009"],
        "age": [70.5, None, 80.0],
        "sex": ["F", "M", None],
        "diagnosis": ["CN", "AD", "MCI"],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_table_formats_keep_ids_as_text_and_missing_as_nan(tmp_path, suffix):
    path = tmp_path / f"ehr{suffix}"
    if suffix == ".parquet":
        FRAME.to_parquet(path)
    else:
        FRAME.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    data = reader("table").read(path.name, ctx(tmp_path))
    assert data.ids == ["007", "008", "009"]  # leading zeros kept: ids are text
    assert data.columns == ["age", "sex"]  # the label column is never a feature
    assert data.categorical == ["sex"]
    assert np.isnan(data.frame.loc["008", "age"]) and pd.isna(data.frame.loc["009", "sex"])


def test_table_column_selection_and_unknown_column(tmp_path):
    FRAME.to_csv(tmp_path / "t.csv", index=False)
    assert reader("table", columns=["age"]).read("t.csv", ctx(tmp_path)).columns == ["age"]
    with pytest.raises(DataError, match=r"t\.csv: column 'weight' \(named in params.columns\)"):
        reader("table", columns=["weight"]).read("t.csv", ctx(tmp_path))


def test_unreadable_table(tmp_path):
    (tmp_path / "t.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"t\.parquet: cannot read table"):
        reader("table").read("t.parquet", ctx(tmp_path))


def test_image_reader_path_column_and_several_views(tmp_path):
    for name in ("a1", "a2", "b1"):
        Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / f"{name}.png")
    pd.DataFrame(
        {"subject_id": ["A", "A", "B", "C"], "file": ["a1.png", "a2.png", "b1.png", "gone.png"]}
    ).to_csv(tmp_path / "images.csv", index=False)
    data = reader("image", path_column="file").read("images.csv", ctx(tmp_path, "image"))
    assert {k: [p.name for p in v] for k, v in data.files.items()} == {
        "A": ["a1.png", "a2.png"],
        "B": ["b1.png"],
    }
    assert [p.name for p in data.missing_files] == ["gone.png"]


def test_image_pattern_prefers_known_ids(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("OAS1_0001_MR1_a", "OAS1_0001_MR1_c", "OAS1_0002_MR1_a"):
        Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).save(
            tmp_path / "img" / f"{name}.jpg"
        )
    data = reader("image").read(
        "img/{subject_id}_*.jpg",
        ctx(tmp_path, "image", known_ids=frozenset({"OAS1_0001_MR1", "OAS1_0002_MR1"})),
    )
    assert sorted(data.files) == ["OAS1_0001_MR1", "OAS1_0002_MR1"]
    assert len(data.files["OAS1_0001_MR1"]) == 2


def test_image_path_without_placeholder_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"needs \{subject_id\} in it"):
        reader("image").read("images/scan.nii.gz", ctx(tmp_path, "image"))


def table(values: dict, index: list[str], categorical=()) -> TableData:
    return TableData("table", pd.DataFrame(values, index=index), Path("t.csv"), list(categorical))


def test_raw_encoder_is_fitted_on_training_rows_only():
    train = table(
        {"x": [1.0, 2.0, 3.0, np.nan], "s": ["a", "b", "a", None]}, ["p", "q", "r", "s"], ["s"]
    )
    encoder = get_registry().get("encoder", "raw").build().fit(train)
    # A test subject with an extreme value and an unseen category: the fitted statistics
    # (median 2, mean 2, categories a/b) must not move, and the new category is all zeros.
    test = table({"x": [1000.0], "s": ["zzz"]}, ["t"], ["s"])
    before = encoder.transform(train)
    out = encoder.transform(test)
    assert encoder.feature_names_ == ["x", "s_a", "s_b"]
    assert out[0, 1:].tolist() == [0.0, 0.0]
    scale = np.std([1.0, 2.0, 3.0, 2.0])
    assert out[0, 0] == pytest.approx((1000.0 - 2.0) / scale)
    assert np.array_equal(before, encoder.transform(train))
    assert before[3, 0] == pytest.approx(0.0)  # the missing value imputed by the training median


def test_infinite_value_is_named(tmp_path):
    frame = FRAME.copy()
    frame.loc[1, "age"] = float("inf")
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"t\.csv: row 3, column 'age': inf is infinite"):
        reader("table").read("t.csv", ctx(tmp_path))


def test_a_longitudinal_table_keeps_one_visit_per_subject(tmp_path):
    """One row per visit (ADNIMERGE-style): visit_column + visit keep the baseline rows;
    without them the repeated subject is an error that says what to set."""
    from fusionkit.errors import DataError
    from fusionkit.plugins import get_registry
    from fusionkit.readers.base import ReadContext

    (tmp_path / "visits.csv").write_text(
        "subject_id,VISCODE,MMSE,age\n"
        "S1,bl,28,70\nS1,m06,27,70.5\nS2,bl,24,66\nS2,m06,22,66.5\nS3,m06,30,80\n"
    )
    reader = get_registry().get("reader", "table")
    ctx = ReadContext("ehr", "table", tmp_path, "subject_id")
    data = reader.build({"visit_column": "VISCODE", "visit": "bl"}).read("visits.csv", ctx)
    assert data.frame.index.tolist() == ["S1", "S2"]
    assert data.frame.columns.tolist() == ["MMSE", "age"]
    assert data.frame.MMSE.tolist() == [28.0, 24.0]
    with pytest.raises(DataError) as info:
        reader.build({}).read("visits.csv", ctx)
    assert str(info.value) == (
        f"{tmp_path / 'visits.csv'}: duplicate subject_id 'S1' (rows 2 and 3); a table with one "
        "row per visit needs params.visit (a visit code of params.visit_column, or nearest by "
        "params.date_column)"
    )
    with pytest.raises(DataError, match="no row has 'sc' in column 'VISCODE'"):
        reader.build({"visit_column": "VISCODE", "visit": "sc"}).read("visits.csv", ctx)


def test_the_visit_nearest_each_subjects_reference_date(tmp_path):
    """visit: nearest keeps, per subject, the visit whose date is nearest its reference date
    (ties: the earlier one); subjects left without a visit are counted in warnings, and
    max_days leaves out visits too far away."""
    (tmp_path / "visits.csv").write_text(
        "subject_id,VISCODE,EXAMDATE,MMSE\n"
        "S1,bl,2010-01-05,28\nS1,m06,2010-07-01,27\n"  # S1's scan: 2010-06-20 -> m06
        "S2,bl,2011-02-01,24\nS2,m12,2012-01-30,22\n"  # S2's scan: 2011-08-01, 181 / 182 days
        "S3,bl,2010-01-01,30\n"  # S3 has no scan date
        "S4,bl,,29\n"  # S4's only visit has no date
        "S5,bl,2009-03-01,25\nS5,m06,2009-09-01,26\n"  # S5: both 92 days away -> the earlier
    )
    reference = {
        "S1": pd.Timestamp("2010-06-20"),
        "S2": pd.Timestamp("2011-08-01"),
        "S3": pd.NaT,
        "S4": pd.Timestamp("2010-01-01"),
        "S5": pd.Timestamp("2009-06-01"),
    }
    reader = get_registry().get("reader", "table")
    ctx = ReadContext("ehr", "table", tmp_path, "subject_id", reference_dates=reference)
    params = {"visit": "nearest", "date_column": "EXAMDATE", "visit_column": "VISCODE"}
    data = reader.build(params).read("visits.csv", ctx)
    assert data.frame.MMSE.to_dict() == {"S1": 27.0, "S2": 24.0, "S5": 25.0}
    assert data.frame.columns.tolist() == ["MMSE"]  # visit code and date are not features
    file = tmp_path / "visits.csv"
    assert data.warnings == [
        f"{file}: 1 subjects have no reference date (data.date_column), so no visit (e.g. S3)",
        f"{file}: 1 subjects have no visit with a date (e.g. S4)",
    ]
    assert data.notes == [
        f"{file}: visits nearest the reference date are a median 92 days from it (most 181)"
    ]

    near = reader.build({**params, "max_days": 100}).read("visits.csv", ctx)
    assert near.frame.index.tolist() == ["S1", "S5"]
    assert f"{file}: 2 subjects have no visit within 100 days (params.max_days) (e.g. S2)" in (
        near.warnings
    )

    with pytest.raises(DataError, match=r"needs data\.date_column"):
        reader.build(params).read("visits.csv", ReadContext("ehr", "table", tmp_path, "subject_id"))
    (tmp_path / "visits.csv").write_text("subject_id,EXAMDATE,MMSE\nS1,05/03/2010,28\n")
    with pytest.raises(DataError) as info:
        reader.build(params | {"visit_column": None}).read("visits.csv", ctx)
    assert str(info.value) == (
        f"{file}: row 2, column 'EXAMDATE': '05/03/2010' is not a date (write dates as YYYY-MM-DD)"
    )
    with pytest.raises(ValueError, match="visit: nearest needs date_column"):
        reader.build({"visit": "nearest"})
