"""Identities: what a result depends on, as a short hash, so finished work is reused only when
nothing that shaped it changed.

A fitted cell's key covers the fusionkit version, the seed, the prediction task, the cell, its
method's resolved params and the identity (kind, name, distribution, version) of every
component behind it, its encoders, the folds, the evaluation settings that change a fit, the
thread count and the data fingerprints. An encoder task's key covers the same for one encoder
on one fold.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from fusionkit import __version__
from fusionkit.config import ExperimentConfig, spec_data, spec_identity
from fusionkit.data.modality import ImageData, ModalityData


def digest(payload: Any) -> str:
    """A short, stable hash of a JSON-able payload."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(data: ModalityData) -> str:
    """Content hash of a modality: table values, or image file names and bytes.

    Independent of where the files live, so a moved or regenerated identical dataset keeps its
    finished cells.
    """
    h = hashlib.sha256()
    if isinstance(data, ImageData):
        for subject, files in data.files.items():
            for f in files:
                h.update(f"{subject}|{Path(f).name}|".encode())
                with open(f, "rb") as handle:
                    h.update(hashlib.file_digest(handle, "sha256").digest())
    else:
        h.update(pd.util.hash_pandas_object(data.frame, index=True).to_numpy().tobytes())
        h.update("|".join(map(str, data.frame.columns)).encode())
    return h.hexdigest()[:16]


def cell_key(config: ExperimentConfig, cell, folds_key: str, fingerprints: dict) -> str:
    """Identity of a fitted cell: everything that changes its fit (not which metrics are
    reported, nor where it ran)."""
    return digest(
        [
            __version__,
            config.seed,
            [spec_data(config.task), spec_identity(config.task)],
            cell.id,
            spec_data(cell.spec),
            spec_identity(cell.spec),
            [[spec_data(t.spec), spec_identity(t.spec)] for t in cell.encoders],
            folds_key,
            config.evaluation.model_dump(
                mode="json", exclude={"metrics", "external", "contribution", "robustness"}
            ),
            config.runtime.threads,
            sorted(fingerprints.items()),
        ]
    )


def encoder_key(
    config: ExperimentConfig, task, folds_key: str, fingerprints: dict, cross_fit: int
) -> str:
    """Identity of an encoder task's output: code and plugin versions, params, data, folds."""
    prints = [fingerprints[task.modality], fingerprints["labels"]]
    if task.fold == "all" and "external/labels" in fingerprints:
        prints.append(fingerprints.get(f"external/{task.modality}", ""))
    return digest(
        [
            __version__,
            config.seed,
            [spec_data(config.task), spec_identity(config.task)],
            spec_data(task.spec),
            spec_identity(task.spec),
            task.fold,
            folds_key,
            prints,
            config.evaluation.validation_fraction,
            config.runtime.threads,
            cross_fit,
        ]
    )
