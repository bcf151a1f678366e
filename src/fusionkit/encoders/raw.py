"""The ``raw`` encoder: a table's own columns, imputed, scaled and one-hot encoded.

Fitted on the training part of a fold only: medians, means, scales and the category vocabulary
come from training subjects; a category first seen at test time encodes as all zeros. For
genotypes, ``min_maf`` and ``min_call_rate`` keep the variants that pass in the training part.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.modality import TableData
from fusionkit.errors import ConfigError, DataError
from fusionkit.hookspecs import hookimpl


class RawParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impute: Literal["median", "mean"] = Field("median", description="For numeric columns.")
    scale: bool = Field(True, description="Standardise numeric columns.")
    max_categories: int | None = Field(
        20, ge=2, description="Rarer categories are grouped into one 'infrequent' column."
    )
    min_maf: float | None = Field(
        None,
        ge=0,
        lt=0.5,
        description="Genotypes: keep variants whose minor-allele frequency in the training "
        "part is at least this (e.g. 0.01).",
    )
    min_call_rate: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Genotypes: keep variants called (not missing) in at least this fraction "
        "of the training part (e.g. 0.95).",
    )


class RawEncoder:
    """Numeric columns: impute + scale; categorical columns: most-frequent + one-hot."""

    def __init__(self, params: RawParams):
        self.params = params

    def _passing(self, data: TableData) -> TableData:
        """The variants passing the filters, by statistics of these (training) subjects."""
        p = self.params
        if p.min_maf is None and p.min_call_rate is None:
            return data
        if data.kind != "genotype":
            raise ConfigError("min_maf and min_call_rate apply to genotype modalities only")
        values = data.frame.to_numpy(dtype=float)
        called = np.isfinite(values)
        keep = np.ones(values.shape[1], dtype=bool)
        if p.min_call_rate is not None:
            keep &= called.mean(axis=0) >= p.min_call_rate
        if p.min_maf is not None:
            with np.errstate(invalid="ignore"):
                freq = np.nanmean(values, axis=0) / 2  # of the counted allele
            keep &= np.nan_to_num(np.minimum(freq, 1 - freq), nan=0.0) >= p.min_maf
        if not keep.any():
            raise DataError(
                f"{data.source}: no variant passes min_maf / min_call_rate in the training part"
            )
        columns = [c for c, k in zip(data.columns, keep, strict=True) if k]
        return TableData(data.kind, data.frame[columns], data.source, data.categorical)

    def fit(self, data: TableData, y: np.ndarray | None = None, ctx: object = None) -> RawEncoder:
        from sklearn.compose import ColumnTransformer

        data = self._passing(data)
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
