"""Predict new images with a checkpoint (``output.checkpoints: true``) of an earlier run.

The checkpoint holds the whole fitted method — for ``deep_concat`` with ``end_to_end: true``
the CNN, its preprocessing (channels, size, training mean, enhancement) and the head — so a file
goes through exactly the preprocessing the model was trained with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusionkit.data.images import SUFFIXES, image_format
from fusionkit.data.modality import ImageData
from fusionkit.errors import DataError
from fusionkit.fusion.base import FusionInput


def load_checkpoint(run_dir: Path, cell: str | None = None) -> dict:
    """The chosen checkpoint: ``cell``, or the best scenario x method of the run's summary."""
    import pandas as pd
    import torch

    folder = run_dir / "checkpoints"
    found = sorted(folder.glob("*.pt")) if folder.is_dir() else []
    if not found:
        raise DataError(f"{run_dir}: no checkpoints/ (run with output.checkpoints: true)")
    if cell is not None:
        path = folder / f"{cell}.pt"
        if not path.is_file():
            raise DataError(f"{path}: no such checkpoint (see {folder})")
    else:
        path = found[0]
        summary_file = run_dir / "summary.csv"
        if summary_file.is_file():
            summary = pd.read_csv(summary_file)
            metric = next((c for c in ("f1_macro_mean", "accuracy_mean") if c in summary), None)
            if metric and not summary[metric].isna().all():
                best = summary.loc[summary[metric].idxmax()]
                prefix = f"{best.scenario}__{best.method}__"
                path = next((p for p in found if p.name.startswith(prefix)), path)
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise DataError(f"{path}: cannot load checkpoint: {str(exc).splitlines()[0]}") from None
    model = bundle["model"]
    if not hasattr(model, "encoders_") or len(bundle["scenario"]) != 1:
        raise DataError(
            f"{path}: predicting from files needs a single-modality model that holds its "
            "encoder (deep_concat with end_to_end: true)"
        )
    bundle["path"] = path
    return bundle


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for image files."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(
                p
                for p in item.rglob("*")
                if p.is_file() and any(p.name.lower().endswith(s) for s in SUFFIXES)
            )
        else:
            files.append(item)
    return files


def predict_files(bundle: dict, files: list[Path]) -> tuple[list[dict], list[str]]:
    """(one row per readable file, one message per file that could not be read)."""
    model, classes = bundle["model"], bundle["classes"]
    modality = bundle["scenario"][0]
    rows, failures = [], []
    for file in files:
        try:
            if not file.exists():
                raise DataError(f"{file}: file not found")
            image_format(file)
            data = ImageData("image", {file.name: (file,)}, file)
            inp = FusionInput(
                [file.name],
                {modality: np.zeros((1, 1), np.float32)},
                {modality: np.array([True])},
                {modality: data},
            )
            proba = model.predict_proba(inp)[0]
        except DataError as exc:
            failures.append(str(exc))
            continue
        row = {"file": str(file), "predicted": classes[int(np.argmax(proba))]}
        row.update({f"p_{c}": float(p) for c, p in zip(classes, proba, strict=True)})
        rows.append(row)
    return rows, failures
