"""``auto``: nested cross-validation picks, per cell, the best of several candidate methods.

On the cell's training part only, each candidate (a fusion strategy or a classifier) is fitted
and scored on ``inner_folds`` stratified inner folds; the one with the best mean inner score
(``metric``) is refitted on the whole training part and is what the outer test part scores. So
the table gets an honest "best pipeline" row: the choice never sees the test part. The choice
and the inner scores of every fold go to ``choices.csv`` and the report (`api.ChoosesMethod`).

All candidates see the same inputs: the modalities' own features (``features: raw``) or their
encoders' outputs (``encoded``); a candidate that needs the other route is a config error. With
``encoded`` inputs from networks, the inner scores are only honest if the encoders' training
subjects are encoded out of fold (``evaluation.cross_fit`` with ``output: probabilities``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fusionkit.api import Tags
from fusionkit.config import ClassifierSpec, MethodSpec, build_spec_data, spec_data
from fusionkit.fusion.base import Features, FeaturesField, FusionInput
from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext


class AutoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: list[MethodSpec] = Field(
        default_factory=lambda: [
            MethodSpec(type="logistic_regression"),
            MethodSpec(type="random_forest"),
            MethodSpec(type="xgboost"),
        ],
        min_length=2,
        description="Methods to choose among (fusions or classifiers).",
    )
    features: Features = FeaturesField
    inner_folds: int = Field(3, ge=2, description="Inner stratified folds of the training part.")
    metric: Literal["f1_macro", "balanced_accuracy", "accuracy"] = "f1_macro"

    @model_validator(mode="after")
    def _distinct(self) -> AutoParams:
        labels = [c.label for c in self.candidates]
        if len(set(labels)) != len(labels):
            raise ValueError("candidates need distinct names (give repeated types a `name`)")
        return self


def _score(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    if metric == "f1_macro":
        return float(f1_score(y, pred, average="macro", zero_division=0))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(y, pred))
    return float(accuracy_score(y, pred))


class Auto:
    def __init__(self, params: AutoParams):
        self.params = params

    def _candidate(self, index: int) -> Any:
        spec = self.params.candidates[index]
        if spec.component.kind == "classifier":
            classifier = ClassifierSpec(type=spec.type, params=spec.params)
            classifier._component, classifier._params = spec.component, spec.resolved_params
            return FeatureLevel(
                FeatureLevelParams(features=self.params.features, classifier=classifier)
            )
        tags = spec.tags
        if tags.trains_encoders or tags.needs_embeddings != (self.params.features == "encoded"):
            raise ValueError(
                f"auto: candidate {spec.label!r} does not take `features: "
                f"{self.params.features}` inputs like the others"
            )
        return build_spec_data("fusion", spec_data(spec))

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> Auto:
        from sklearn.model_selection import KFold, StratifiedKFold

        counts = np.bincount(y)
        k = self.params.inner_folds
        stratify = counts[counts > 0].min() >= k
        splitter = (StratifiedKFold if stratify else KFold)(k, shuffle=True, random_state=ctx.seed)
        splits = list(splitter.split(np.zeros(len(y)), y if stratify else None))
        scores = {}
        for i, spec in enumerate(self.params.candidates):
            values = []
            for j, (train, held) in enumerate(splits):
                model = self._candidate(i).fit(inp.take(train), y[train], ctx.derive("auto", i, j))
                proba = model.predict_proba(inp.take(held))
                values.append(_score(self.params.metric, y[held], proba.argmax(axis=1)))
            scores[spec.label] = float(np.mean(values))
        self.index_ = int(np.argmax(list(scores.values())))  # ties: the first listed
        self.choice_ = {"chosen": self.params.candidates[self.index_].label, "scores": scores}
        self.model_ = self._candidate(self.index_).fit(inp, y, ctx)
        if hasattr(self.model_, "history_"):
            self.history_ = self.model_.history_
        return self

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        return self.model_.predict_proba(inp)

    def get_state(self) -> dict:
        return {"index": self.index_, "choice": self.choice_, "model": self.model_.get_state()}

    def set_state(self, state: dict) -> None:
        self.index_ = int(state["index"])
        self.choice_ = {
            "chosen": str(state["choice"]["chosen"]),
            "scores": {k: float(v) for k, v in state["choice"]["scores"].items()},
        }
        self.model_ = self._candidate(self.index_)
        self.model_.set_state(state["model"])


def _tags(params: AutoParams) -> Tags:
    gaps = all(c.tags.handles_missing for c in params.candidates)
    return Tags(needs_embeddings=params.features == "encoded", handles_missing=gaps)


@hookimpl
def register_fusions(register):
    register(
        "auto",
        Auto,
        params=AutoParams,
        description="Nested CV: the best of several candidate methods on inner folds, per cell.",
        tags=_tags,
    )
