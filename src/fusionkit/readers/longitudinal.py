"""One row per subject out of a longitudinal table (one row per visit).

Two rules, both set in a table reader's params: a visit code (``visit: bl`` of
``visit_column: VISCODE``), or the visit nearest each subject's reference date
(``visit: nearest`` with the table's ``date_column``; the reference date is the cohort's
``data.date_column``, e.g. the day of the MRI scan). Dates are ISO 8601 (``2010-05-03``): a
day-first or month-first date would be ambiguous, so any other text is an error naming its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit.errors import DataError


def parse_dates(values: pd.Series, path: Path, column: str) -> pd.Series:
    """ISO 8601 dates (``NaT`` where a cell is empty); any other text is an error naming the row."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    dates = pd.to_datetime(text.where(present), errors="coerce", format="ISO8601")
    bad = present & dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: row {row + 2}, column {column!r}: {values.iloc[row]!r} is not a date "
            "(write dates as YYYY-MM-DD)"
        )
    return dates


def all_dates(values: pd.Series) -> bool:
    """Whether every non-empty cell of a text column is an ISO 8601 date (a visit or scan date,
    which is no feature)."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return (
        bool(len(text))
        and text.str.match(r"^\d{4}-\d{2}-\d{2}").all()
        and bool(pd.to_datetime(text, errors="coerce", format="ISO8601").notna().all())
    )


def nearest_visits(
    frame: pd.DataFrame,
    path: Path,
    date_column: str,
    reference: Mapping[str, pd.Timestamp],
    max_days: int | None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Each subject's row whose ``date_column`` is nearest its reference date (ties: the earlier
    visit); notes (how far the chosen visits are from it) and warnings (subjects left without
    a row).

    ``frame`` is indexed by subject id, several rows per subject. ``reference`` maps every
    cohort subject to its reference date (``NaT``: none); rows of ids not in it are kept as
    they are for the cohort to ignore. Rows without a date are never chosen; with ``max_days``
    neither are visits further than that from the reference date.
    """
    if date_column not in frame.columns:
        raise DataError(f"{path}: date column {date_column!r} (params.date_column) not found")
    ids = frame.index.to_series(index=range(len(frame)))
    dates = parse_dates(frame[date_column].reset_index(drop=True), path, date_column)
    ref = pd.to_datetime(ids.map(lambda i: reference.get(i, pd.NaT)))
    gap = (dates - ref).abs().dt.days
    cohort = ids.isin(list(reference))
    near = gap.notna() & (gap <= max_days if max_days is not None else True)
    rows = pd.DataFrame({"id": ids, "gap": gap, "date": dates})[near | ~cohort]
    chosen = rows.sort_values(["id", "gap", "date"], kind="stable").drop_duplicates("id")
    kept = frame.iloc[np.sort(chosen.index.to_numpy())].drop(columns=[date_column])

    warnings = []
    in_table = set(ids[cohort])
    undated = sorted(i for i in in_table if pd.isna(reference[i]))
    if undated:
        warnings.append(
            f"{path}: {len(undated)} subjects have no reference date (data.date_column), so "
            f"no visit (e.g. {undated[0]})"
        )
    far = sorted(in_table - set(undated) - set(chosen.id))
    if far:
        limit = f"within {max_days} days (params.max_days)" if max_days is not None else "date"
        what = "visit" if max_days is not None else "visit with a"
        warnings.append(f"{path}: {len(far)} subjects have no {what} {limit} (e.g. {far[0]})")
    notes = []
    gaps = chosen.gap[chosen.id.isin(in_table)]
    if len(gaps):
        notes.append(
            f"{path}: visits nearest the reference date are a median {gaps.median():.0f} days "
            f"from it (most {gaps.max():.0f})"
        )
    return kept, notes, warnings
