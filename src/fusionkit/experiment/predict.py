"""Predict new subjects with a kept model of an earlier run, for any method.

The model is a final model (``output.final_models``: refitted on every subject after
cross-validation) or, by name, any kept cell model (``models/cells/<cell>/``). Its encoders
(``models/encoders/<task>/``) and the fitted method are rebuilt through the registry from safe
formats, so a subject goes through exactly the preprocessing the model was trained with.

Inputs: image files or folders, for a model of one image modality; or one table (CSV, TSV,
Parquet) with an id column and, per modality of the model, its columns (tables, genotypes) or
a column named after the modality holding image paths (relative to the table). Subjects are
predicted in batches drawn by a torch ``DataLoader``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionkit.data.images import image_format, is_image_name, load_image
from fusionkit.data.modality import ImageData, ModalityData, TableData
from fusionkit.errors import DataError
from fusionkit.experiment.records import FittedCell
from fusionkit.experiment.store import RunStore
from fusionkit.fusion.base import FusionInput

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".csv.gz", ".tsv.gz")


@dataclass
class KeptModel:
    """A fitted cell and the fitted encoders that feed it (None: the method encodes itself)."""

    fitted: FittedCell
    encoders: dict[str, Any]

    @property
    def name(self) -> str:
        return self.fitted.meta["cell"]

    @property
    def classes(self) -> list[str]:
        return list(self.fitted.meta["classes"])

    @property
    def modalities(self) -> dict[str, dict]:
        """Per modality, in the order the method was fitted with (the scenario's order)."""
        info = self.fitted.meta["modalities"]
        return {m: info[m] for m in self.fitted.meta["scenario"]}


def kept_models(run_dir: Path) -> list[str]:
    """Names of the final models kept in a run directory."""
    folder = RunStore(run_dir).root / "models" / "cells"
    return sorted(p.name for p in folder.glob("*__final") if (p / "state.json").is_file())


def load_model(run_dir: Path, name: str | None = None) -> KeptModel:
    """The named kept model (a cell id, or ``scenario__method`` for its final model), or the
    run's only final model, or the best of its final models by macro-F1 in summary.csv."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    store = RunStore(run_dir)
    finals = kept_models(run_dir)
    if name is not None:
        if not (store.model_dir(name) / "state.json").is_file():
            name = _final_named(name, finals)
        if not (store.model_dir(name) / "state.json").is_file():
            shown = ", ".join(finals) or "none"
            raise DataError(f"{store.model_dir(name)}: no such kept model (final models: {shown})")
    elif not finals:
        raise DataError(
            f"{run_dir}: no final models; list pairs in output.final_models and run again "
            "(or name a cell's kept model with --model)"
        )
    else:
        name = _best(run_dir, finals)
    fitted = store.load_fitted(name)
    return KeptModel(fitted, store.load_cell_encoders(fitted))


def _final_named(name: str, finals: list[str]) -> str:
    """``scenario__method`` (modalities in any order) -> the id of that final model."""
    scenario, _, method = name.removesuffix("__final").partition("__")
    wanted = (frozenset(scenario.split("+")), method)
    for final in finals:
        s, m, _ = final.split("__")
        if (frozenset(s.split("+")), m) == wanted:
            return final
    return f"{name.removesuffix('__final')}__final"


def _best(run_dir: Path, finals: list[str]) -> str:
    summary_file = run_dir / "summary.csv"
    if len(finals) == 1 or not summary_file.is_file():
        return finals[0]
    summary = pd.read_csv(summary_file)
    if "f1_macro_mean" not in summary:
        return finals[0]
    scores = {
        f"{row.scenario}__{row.method}__final": row.f1_macro_mean for row in summary.itertuples()
    }
    return max(finals, key=lambda f: -np.inf if pd.isna(scores.get(f)) else scores[f])


# -- inputs ---------------------------------------------------------------------------------
def read_inputs(
    model: KeptModel, inputs: list[Path], id_column: str
) -> tuple[list[str], dict[str, ModalityData], dict[str, np.ndarray], list[str]]:
    """(subject ids, data per modality, availability per modality, unreadable inputs)."""
    if len(inputs) == 1 and inputs[0].name.lower().endswith(TABLE_SUFFIXES):
        return (*_from_table(model, inputs[0], id_column), [])
    modalities = model.modalities
    if len(modalities) != 1 or next(iter(modalities.values()))["kind"] != "image":
        raise DataError(
            f"{model.name} takes {', '.join(modalities)}: give one table with an "
            f"{id_column!r} column and the modalities' columns or image paths"
        )
    files, failures = [], []
    for file in expand_inputs(inputs):
        try:
            if not file.exists():
                raise DataError(f"{file}: file not found")
            image_format(file)
            load_image(file)  # an unreadable file is named and left out, not fatal to the rest
            files.append(file)
        except DataError as exc:
            failures.append(str(exc))
    m = next(iter(modalities))
    ids = [str(f) for f in files]
    data = ImageData("image", {i: (f,) for i, f in zip(ids, files, strict=True)}, Path("."))
    return ids, {m: data}, {m: np.ones(len(ids), bool)}, failures


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for image files."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file() and is_image_name(p))
        else:
            files.append(item)
    return files


def _from_table(model: KeptModel, path: Path, id_column: str):
    from fusionkit.readers.table import numeric_column, read_table_file

    frame = read_table_file(path, id_column)
    ids = list(frame.index)
    data: dict[str, ModalityData] = {}
    available: dict[str, np.ndarray] = {}
    for m, info in model.modalities.items():
        if info["kind"] == "image":
            if m not in frame.columns:
                raise DataError(f"{path}: column {m!r} (image paths of modality {m}) not found")
            paths = {}
            for subject, value in frame[m].items():
                if isinstance(value, str) and value.strip():
                    file = Path(value.strip())
                    file = file if file.is_absolute() else path.parent / file
                    if not file.exists():
                        raise DataError(f"{path}: {m} of {subject!r}: {file}: file not found")
                    paths[subject] = (file,)
            available[m] = np.array([s in paths for s in ids])
            data[m] = ImageData("image", {s: paths[s] for s in ids if s in paths}, path)
            continue
        columns, categorical = info["columns"], set(info["categorical"])
        if missing := [c for c in columns if c not in frame.columns]:
            raise DataError(f"{path}: column {missing[0]!r} of modality {m} not found")
        part = frame[columns].copy()
        for column in columns:
            if column in categorical:
                part[column] = part[column].astype(object).where(part[column].notna(), np.nan)
                continue
            values = numeric_column(part[column], path, column)
            if values is None and part[column].notna().any():
                raise DataError(f"{path}: column {column!r} holds text; the model takes numbers")
            part[column] = np.nan if values is None else values
        has = part.notna().any(axis=1).to_numpy()
        available[m] = has
        data[m] = TableData(info["kind"], part[has], path, sorted(categorical))
    return ids, data, available


# -- prediction -------------------------------------------------------------------------------
def complete_only(
    model: KeptModel, ids: list[str], data: dict, available: dict
) -> tuple[list[str], dict, dict, list[str]]:
    """A model fitted on complete cases (``missing: complete_case``) predicts only subjects
    having all its modalities; the others are returned by id, to be reported."""
    if model.fitted.meta.get("missing") != "complete_case" or len(available) < 2:
        return ids, data, available, []
    keep = np.all(np.stack([available[m] for m in model.modalities]), axis=0)
    left_out = [s for s, k in zip(ids, keep, strict=True) if not k]
    kept_ids = [s for s, k in zip(ids, keep, strict=True) if k]
    data = {m: d.subset([s for s in kept_ids if s in set(d.ids)]) for m, d in data.items()}
    return kept_ids, data, {m: a[keep] for m, a in available.items()}, left_out


def predict(
    model: KeptModel,
    ids: list[str],
    data: dict[str, ModalityData],
    available: dict[str, np.ndarray],
    batch_size: int = 64,
) -> np.ndarray:
    """Class probabilities of every subject, batch by batch (a torch `DataLoader` of rows)."""
    from torch.utils.data import DataLoader

    if not ids:
        return np.zeros((0, len(model.classes)))
    missing = [i for i, s in enumerate(ids) if not any(available[m][i] for m in data)]
    if missing:
        raise DataError(f"subject {ids[missing[0]]!r}: none of the model's modalities given")
    widths = {}  # embedding width per modality, for batches in which nobody has it
    for m, encoder in model.encoders.items():
        first = np.flatnonzero(available[m])[:1]
        if encoder is not None and len(first):
            widths[m] = encoder.transform(data[m].subset([ids[first[0]]])).shape[1]
    loader = DataLoader(np.arange(len(ids)), batch_size=batch_size, shuffle=False)
    parts = []
    for batch in loader:
        inputs = _batch_input(model, ids, data, available, batch.numpy(), widths)
        parts.append(model.fitted.model.predict_proba(inputs))
    return np.concatenate(parts).astype(np.float64)


def _batch_input(model, ids, data, available, rows, widths) -> FusionInput:
    batch_ids = [ids[r] for r in rows]
    features, have, subsets = {}, {}, {}
    for m in model.modalities:
        has = available[m][rows]
        present = [s for s, h in zip(batch_ids, has, strict=True) if h]
        subsets[m] = data[m].subset(present)
        encoder = model.encoders[m]
        block = np.full((len(rows), widths.get(m, 1)), np.nan, dtype=np.float32)
        if encoder is not None and present:
            block[has] = encoder.transform(subsets[m])
        features[m], have[m] = block, has
    return FusionInput(batch_ids, features, have, subsets)
