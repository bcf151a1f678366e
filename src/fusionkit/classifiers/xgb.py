"""Gradient-boosted trees from XGBoost (imported inside the factory, never at module top)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.classifiers.preprocessing import tabular_pipeline
from fusionkit.hookspecs import hookimpl


class XGBoostParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(200, gt=0)
    max_depth: int = Field(4, gt=0)
    learning_rate: float = Field(0.1, gt=0, le=1)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    n_jobs: int = Field(1, description="Threads used by XGBoost.")


def make_xgboost(params: XGBoostParams, *, seed: int = 0) -> Any:
    from xgboost import XGBClassifier

    model = XGBClassifier(
        random_state=seed, tree_method="hist", eval_metric="mlogloss", **params.model_dump()
    )
    return tabular_pipeline(model, scale=False)


@hookimpl
def register_classifiers(register):
    register(
        "xgboost",
        make_xgboost,
        params=XGBoostParams,
        description="Gradient-boosted trees (XGBoost, histogram method).",
        modalities=("table", "genotype", "image"),  # images through their features
    )
