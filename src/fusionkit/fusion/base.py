"""What a fusion strategy receives: per-modality features, availability, and the raw data.

The runner builds one `FusionInput` for a cell's training subjects and one for its test subjects.
``features[m]`` holds modality ``m``'s encoder output (NaN rows where the subject lacks ``m``),
``available[m]`` says who has it, ``data[m]`` is the modality's data (for strategies that train
encoders themselves, end to end) and ``encoders[m]`` the encoder section that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from fusionkit.config import ClassifierSpec

Features = Literal["raw", "encoded"]


def default_classifier() -> ClassifierSpec:
    return ClassifierSpec(type="logistic_regression")


FeaturesField = Field(
    "raw",
    description="raw: the modality's own columns; encoded: the modality's encoder (encoders.*).",
)
ClassifierField = Field(default_factory=default_classifier)


@dataclass
class FusionInput:
    """One side (training or test subjects) of a cell, modality by modality."""

    ids: list[str]
    features: dict[str, np.ndarray]
    available: dict[str, np.ndarray]
    data: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> list[str]:
        return list(self.features)

    def indicators(self) -> np.ndarray:
        """(n, modalities) 0/1 availability matrix."""
        return np.stack([self.available[m] for m in self.modalities], axis=1).astype(np.float32)

    def concatenated(self, indicators: bool, fill: float = np.nan) -> np.ndarray:
        """All modalities' features side by side; missing blocks ``fill``; optional indicators."""
        blocks = []
        for m in self.modalities:
            block = self.features[m].astype(np.float32, copy=True)
            block[~self.available[m]] = fill
            blocks.append(block)
        if indicators:
            blocks.append(self.indicators())
        return np.concatenate(blocks, axis=1)


def full_proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class, even for classes absent from training."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1]))).astype(int)
    out = np.zeros((len(X), n_classes))
    out[:, classes] = proba
    return out
