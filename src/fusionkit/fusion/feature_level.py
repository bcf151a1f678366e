"""Feature-level (early) fusion: concatenate the modalities' features, then one classifier.

With ``missing: available`` a subject's absent modality is a block of missing values (imputed by
the classifier's pipeline, fitted on training subjects) plus availability indicator columns.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from fusionkit.api import Tags
from fusionkit.config import ClassifierSpec
from fusionkit.fusion.base import ClassifierField, Features, FeaturesField, FusionInput, full_proba
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext


class FeatureLevelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: Features = FeaturesField
    classifier: ClassifierSpec = ClassifierField


class FeatureLevel:
    def __init__(self, params: FeatureLevelParams):
        self.params = params

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> FeatureLevel:
        self.indicators_ = not all(a.all() for a in inp.available.values())
        self.model_ = self.params.classifier.build(seed=ctx.seed)
        self.model_.fit(inp.concatenated(self.indicators_), y)
        self.n_classes_ = ctx.n_classes
        return self

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        return full_proba(self.model_, inp.concatenated(self.indicators_), self.n_classes_)

    def get_state(self) -> dict:
        return {"indicators": self.indicators_, "n_classes": self.n_classes_, "model": self.model_}

    def set_state(self, state: dict) -> None:
        self.indicators_, self.n_classes_ = bool(state["indicators"]), int(state["n_classes"])
        self.model_ = state["model"]


def features_tags(params: FeatureLevelParams) -> Tags:
    """Fusions with a ``features`` param need embeddings when it says ``encoded``."""
    return Tags(needs_embeddings=params.features == "encoded")


@hookimpl
def register_fusions(register):
    register(
        "feature_level",
        FeatureLevel,
        params=FeatureLevelParams,
        description="Early fusion: concatenated raw or encoded features -> one classifier.",
        tags=features_tags,
    )
