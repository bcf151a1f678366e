"""What a fusion strategy receives: per-modality features, availability, and the raw data.

The runner builds one `FusionInput` (defined with the other contracts in `fusionkit.api`, and
re-exported here) for a cell's training subjects and one for its test subjects.
``features[m]`` holds modality ``m``'s encoder output (NaN rows where the subject lacks ``m``),
``available[m]`` says who has it, ``data[m]`` is the modality's data (for strategies that train
encoders themselves, end to end) and ``encoders[m]`` the encoder section that produced it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from fusionkit.api import FusionInput
from fusionkit.config import ClassifierSpec

__all__ = ["ClassifierField", "Features", "FeaturesField", "FusionInput", "full_proba"]

Features = Literal["raw", "encoded"]


def default_classifier() -> ClassifierSpec:
    return ClassifierSpec(type="logistic_regression")


FeaturesField = Field(
    "raw",
    description="raw: the modality's own columns; encoded: the modality's encoder (encoders.*).",
)
ClassifierField = Field(default_factory=default_classifier)


def full_proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class, even for classes absent from training."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1]))).astype(int)
    out = np.zeros((len(X), n_classes))
    out[:, classes] = proba
    return out
