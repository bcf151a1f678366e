"""The ``raw`` encoder: a table's own columns, imputed, scaled and one-hot encoded.

Fitted on the training part of a fold only: medians, means, scales and the category vocabulary
come from training subjects; a category first seen at test time encodes as all zeros.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.modality import TableData
from fusionkit.hookspecs import hookimpl


class RawParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impute: Literal["median", "mean"] = Field("median", description="For numeric columns.")
    scale: bool = Field(True, description="Standardise numeric columns.")
    max_categories: int | None = Field(
        20, ge=2, description="Rarer categories are grouped into one 'infrequent' column."
    )


class RawEncoder:
    """Numeric columns: impute + scale; categorical columns: most-frequent + one-hot."""

    def __init__(self, params: RawParams):
        self.params = params

    def fit(self, data: TableData, y: np.ndarray | None = None, ctx: object = None) -> RawEncoder:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        categorical = [c for c in data.columns if c in data.categorical]
        numeric = [c for c in data.columns if c not in data.categorical]
        numeric_steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy=self.params.impute, keep_empty_features=True))
        ]
        if self.params.scale:
            numeric_steps.append(("scale", StandardScaler()))
        transformers: list[tuple[str, Any, list[str]]] = [
            ("numeric", Pipeline(numeric_steps), numeric)
        ]
        if categorical:
            onehot = OneHotEncoder(
                handle_unknown="infrequent_if_exist" if self.params.max_categories else "ignore",
                max_categories=self.params.max_categories,
                sparse_output=False,
            )
            transformers.append(
                (
                    "categorical",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="most_frequent")),
                            ("onehot", onehot),
                        ]
                    ),
                    categorical,
                )
            )
        frame = _as_object_categories(data)
        self.columns_ = list(data.columns)
        self.transformer_ = ColumnTransformer(transformers, verbose_feature_names_out=False)
        self.transformer_.fit(frame)
        self.feature_names_ = [str(n) for n in self.transformer_.get_feature_names_out()]
        return self

    def get_state(self) -> dict:
        return {
            "columns": self.columns_,
            "feature_names": self.feature_names_,
            "transformer": self.transformer_,
        }

    def set_state(self, state: dict) -> None:
        self.columns_, self.feature_names_ = list(state["columns"]), list(state["feature_names"])
        self.transformer_ = state["transformer"]

    def transform(self, data: TableData) -> np.ndarray:
        frame = _as_object_categories(data)[self.columns_]
        return np.asarray(self.transformer_.transform(frame), dtype=np.float32)


def _as_object_categories(data: TableData):
    frame = data.frame.copy()
    for column in data.categorical:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame


@hookimpl
def register_encoders(register):
    register(
        "raw",
        RawEncoder,
        params=RawParams,
        description="A table's own columns: imputed, standardised, categories one-hot encoded.",
        modalities=("table", "genotype"),
    )
