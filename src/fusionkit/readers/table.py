"""Readers for tables (CSV / TSV / Parquet) and genotype tables (minor-allele counts 0/1/2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fusionkit.data.modality import TableData, as_id
from fusionkit.errors import DataError
from fusionkit.hookspecs import hookimpl
from fusionkit.readers.base import ReadContext
from fusionkit.readers.longitudinal import all_dates, nearest_visits


class TableParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = Field(None, description="Keep only these feature columns.")
    exclude: list[str] = Field(default_factory=list, description="Never use these as features.")
    categorical: list[str] = Field(
        default_factory=list,
        description="Categorical columns (one-hot encoded). Any other column must hold numbers "
        "only, or text only (then it is categorical too); a column mixing both is an error.",
    )
    visit_column: str | None = Field(
        None, description="A longitudinal table's visit column (e.g. VISCODE); needs visit."
    )
    visit: str | None = Field(
        None,
        description="The visit whose rows are kept (e.g. bl), or `nearest`: each subject's "
        "visit nearest its reference date (data.date_column); needs date_column.",
    )
    date_column: str | None = Field(
        None, description="The visit date column (YYYY-MM-DD), for visit: nearest."
    )
    max_days: int | None = Field(
        None, ge=0, description="visit: nearest: no visit further than this from the date."
    )

    @model_validator(mode="after")
    def _visit_rule(self) -> TableParams:
        if self.visit == "nearest":
            if self.date_column is None:
                raise ValueError("visit: nearest needs date_column (the visit date column)")
        elif self.date_column is not None or self.max_days is not None:
            raise ValueError("date_column and max_days are for visit: nearest")
        elif (self.visit_column is None) != (self.visit is None):
            raise ValueError("visit_column and visit go together")
        return self


class GenotypeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = Field(None, description="Keep only these SNP columns.")
    exclude: list[str] = Field(default_factory=list)


def read_table_file(
    path: Path,
    id_column: str,
    unique_ids: bool = True,
    visit: tuple[str, str] | None = None,
    visits_hint: bool = False,
) -> pd.DataFrame:
    """CSV, TSV or Parquet (by suffix), indexed by the id column read as text; one-line errors.

    With ``unique_ids`` (the default) a repeated id is an error naming both rows. ``visit``
    (column, value): a longitudinal table, one row per visit: only the rows of that visit are
    kept, and the visit column is dropped. ``visits_hint``: a repeated id's error says how to
    read a table with one row per visit (a modality table's reader can).
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith(".parquet"):
            frame = pd.read_parquet(path)
            if id_column in frame.columns:
                frame[id_column] = frame[id_column].astype(str)
        else:
            sep = "\t" if suffix.endswith((".tsv", ".tab", ".tsv.gz")) else ","
            header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0]
            _unique_header([str(h).strip() for h in header], path)
            frame = pd.read_csv(path, sep=sep, dtype={id_column: str}, keep_default_na=True)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file (no header)") from None
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read table: {reason}") from None
    if id_column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:8])) + (", ..." if frame.shape[1] > 8 else "")
        raise DataError(f"{path}: id column {id_column!r} not found (columns: {shown})")
    if frame.empty:
        raise DataError(f"{path}: no rows (only a header)")
    if visit is not None:
        column, value = visit
        if column not in frame.columns:
            raise DataError(f"{path}: visit column {column!r} (params.visit_column) not found")
        keep = np.asarray(as_id(frame[column])) == value
        if not keep.any():
            raise DataError(f"{path}: no row has {value!r} in column {column!r} (params.visit)")
        frame = frame[keep].drop(columns=[column]).reset_index(drop=True)
    ids = pd.Series(as_id(frame[id_column]), index=frame.index)
    blank = ids[(ids == "") | (ids.str.lower() == "nan")]
    if len(blank):
        raise DataError(f"{path}: row {int(blank.index[0]) + 2}: empty {id_column!r}")
    dupes = ids[ids.duplicated(keep=False)]
    if unique_ids and len(dupes):
        first = dupes.iloc[0]
        rows = [int(i) + 2 for i in dupes.index[dupes == first]]
        hint = (
            "; a table with one row per visit needs params.visit (a visit code of "
            "params.visit_column, or nearest by params.date_column)"
            if visits_hint
            else ""
        )
        raise DataError(
            f"{path}: duplicate {id_column} {first!r} (rows {rows[0]} and {rows[1]}){hint}"
        )
    frame.index = pd.Index(ids.tolist(), name=id_column)
    return frame.drop(columns=[id_column])


def _unique_header(names: list[str], path: Path) -> None:
    """A column named twice is an error (pandas would silently rename it ``name.1``)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{path}: column {name!r} appears twice in the header (columns {seen[name] + 1} "
                f"and {i + 1})"
            )
        seen[name] = i


FLOAT32_MAX = float(np.finfo(np.float32).max)


def numeric_column(values: pd.Series, path: Path, column: str) -> pd.Series | None:
    """The column as float if it holds numbers, None if it holds only text (a category).

    A column mixing numbers and text (``thirty`` among ages, a decimal comma ``82,5``) is an
    error naming the row: guessing would silently turn a typo into categories. Values must be
    finite and within the float32 range networks compute in.
    """
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
    else:
        present = values.notna() & (values.astype(str).str.strip() != "")
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        text = present & numbers.isna()
        if not numbers.notna().any():
            return None
        if text.any():
            row = list(values.index).index(text.idxmax()) + 2
            raise DataError(
                f"{path}: row {row}, column {column!r}: {values[text].iloc[0]!r} is not a number "
                "but the column's other values are (fix the value, or list the column in the "
                "reader's params.categorical)"
            )
    bad = ~np.isfinite(numbers.fillna(0.0).to_numpy()) | (numbers.abs() > FLOAT32_MAX).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = float(numbers.iloc[row])
        raise DataError(
            f"{path}: row {row + 2}, column {column!r}: {value!r} is infinite or beyond the "
            "float32 range (leave the cell empty for a missing value)"
        )
    return numbers


def select_columns(
    frame: pd.DataFrame, path: Path, keep: list[str] | None, drop: set[str]
) -> pd.DataFrame:
    """Apply ``columns`` / ``exclude``; an unknown column name is an error naming the file."""
    missing = [c for c in keep or [] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: column {missing[0]!r} (named in params.columns) not found")
    return frame[[c for c in keep or list(frame.columns) if c not in drop]]


def read_features(
    path: str,
    ctx: ReadContext,
    params,
    what: str,
    visit: tuple[str, str] | None = None,
    visits_hint: bool = False,
) -> tuple[Path, pd.DataFrame]:
    """The modality's table with the params' column selection, never the excluded columns;
    ``visit``, ``visits_hint``: see `read_table_file`."""
    file = ctx.root / path
    frame = read_table_file(file, ctx.id_column, visit=visit, visits_hint=visits_hint)
    return file, feature_columns(frame, file, ctx, params, what)


def feature_columns(frame: pd.DataFrame, file: Path, ctx: ReadContext, params, what: str):
    """``frame`` with the params' column selection, never the excluded columns; none left is an
    error."""
    frame = select_columns(frame, file, params.columns, set(params.exclude) | ctx.exclude)
    if frame.shape[1] == 0:
        raise DataError(f"{file}: no {what} columns left for modality {ctx.modality!r}")
    return frame


class TableReader:
    """Numeric and categorical columns; missing cells stay missing (NaN)."""

    kind = "table"

    def __init__(self, params: TableParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        p = self.params
        if p.visit == "nearest":
            file, frame, notes, warnings = self._nearest(path, ctx)
        else:
            visit = (p.visit_column, p.visit) if p.visit is not None else None
            file, frame = read_features(path, ctx, p, "feature", visit, visits_hint=visit is None)
            notes, warnings = [], []
        categorical = []
        for column in frame.columns:
            values = frame[column]
            numbers = None
            if column not in self.params.categorical:
                numbers = numeric_column(values, file, column)
            if numbers is None and column not in self.params.categorical and all_dates(values):
                raise DataError(
                    f"{file}: column {column!r} holds dates, which are no feature: list it in "
                    "params.exclude (or, for a visit date, use it as params.date_column)"
                )
            if numbers is None:  # declared categorical, or text only
                frame[column] = values.map(lambda v: np.nan if pd.isna(v) else str(v).strip())
                categorical.append(column)
            else:
                frame[column] = numbers
        return TableData(self.kind, frame, file, categorical, notes, warnings)

    def _nearest(self, path: str, ctx: ReadContext):
        """(file, frame, notes, warnings) with each subject's visit nearest its reference date."""
        p = self.params
        file = ctx.root / path
        if ctx.reference_dates is None:
            raise DataError(
                f"{file}: params.visit nearest of modality {ctx.modality!r} needs data.date_column "
                "(each subject's reference date in the cohort table)"
            )
        frame = read_table_file(file, ctx.id_column, unique_ids=False)
        assert p.date_column is not None
        frame, notes, warnings = nearest_visits(
            frame, file, p.date_column, ctx.reference_dates, p.max_days
        )
        if p.visit_column is not None:
            if p.visit_column not in frame.columns:
                raise DataError(
                    f"{file}: visit column {p.visit_column!r} (params.visit_column) not found"
                )
            frame = frame.drop(columns=[p.visit_column])
        return file, feature_columns(frame, file, ctx, p, "feature"), notes, warnings


class GenotypeReader:
    """Minor-allele counts 0/1/2 per SNP column; missing calls stay missing."""

    kind = "genotype"

    def __init__(self, params: GenotypeParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        file, frame = read_features(path, ctx, self.params, "SNP")
        numeric = frame.apply(pd.to_numeric, errors="coerce")
        bad = (frame.notna() & ~numeric.isin([0, 1, 2])).to_numpy()
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            value = frame.iat[row, col]
            raise DataError(
                f"{file}: row {row + 2}, column {frame.columns[col]!r}: {value!r} is not a "
                "minor-allele count (0, 1, 2 or empty)"
            )
        return TableData(self.kind, numeric.astype(float), file)


@hookimpl
def register_readers(register):
    register(
        "table",
        TableReader,
        params=TableParams,
        description="CSV / TSV / Parquet table keyed by subject id; categorical columns kept.",
        modalities=("table",),
    )
    register(
        "genotype",
        GenotypeReader,
        params=GenotypeParams,
        description="Genotype table of minor-allele counts 0/1/2 per SNP, keyed by subject id.",
        modalities=("genotype",),
    )
