"""The run's tables as CSV files: numbers at six decimals, probabilities in full, in plan
order, so the same config and seed give byte-identical files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit.experiment.store import write_atomic
from fusionkit.outputs.tables import RunTables


def _fmt(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.6f}"


def to_csv(frame: pd.DataFrame, exact: tuple[str, ...] = (), scheme: str = "kfold") -> bytes:
    """CSV with numbers at six decimals, except the ``exact`` columns (the predictions'
    probabilities), written in full (shortest exact form), so they can be re-scored exactly.
    Under a predefined split the scheme's scored part is called ``test`` (``cv`` in k-fold and
    hold-out), the external cohort ``external``."""
    out = frame.copy()
    if scheme == "predefined" and "split" in out.columns:
        out["split"] = out["split"].replace({"cv": "test"})
    for column in out.columns:
        if column in exact:
            out[column] = [
                "" if v is None or not np.isfinite(v) else repr(float(v)) for v in out[column]
            ]
        elif out[column].dtype.kind == "f" or column == "value":
            out[column] = [_fmt(None if v is None else float(v)) for v in out[column]]
    return out.to_csv(index=False, lineterminator="\n").encode()


def write_tables(tables: RunTables, run_dir: Path, classes: list[str], scheme: str) -> None:
    """Every table of the run as a CSV file in ``run_dir`` (the optional ones when present)."""

    def write(name: str, frame: pd.DataFrame, exact: tuple[str, ...] = ()) -> None:
        write_atomic(run_dir / name, to_csv(frame, exact, scheme))

    write("results.csv", tables.results)
    write("summary.csv", tables.summary)
    write("predictions.csv", tables.predictions, tuple(f"p_{c}" for c in classes))
    write("per_class.csv", tables.per_class)
    write("intervals.csv", tables.intervals)
    write("comparison.csv", tables.comparison)
    if tables.robustness is not None:
        write("robustness.csv", tables.robustness)
        write("robustness_summary.csv", tables.robustness_summary)
    if not tables.choices.empty:
        write("choices.csv", tables.choices)
    if not tables.modality_weights.empty or not tables.modality_outputs.empty:
        write("modality_outputs.csv", tables.modality_outputs)
        write("modality_weights.csv", tables.modality_weights)
    if tables.contribution is not None:
        write("contribution.csv", tables.contribution)
