"""An encoder of its own: principal components of a table's standardised columns."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.encoders.raw import RawEncoder, RawParams


class PCAParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_components: int = Field(8, ge=1, description="At most this many components.")


class PCAEncoder:
    """`fusionkit.api.Encoder`: fit on the training part, embed any subjects, keep its state."""

    def __init__(self, params: PCAParams):
        self.params = params

    def fit(self, data, y: np.ndarray, ctx) -> PCAEncoder:
        from sklearn.decomposition import PCA  # heavy imports inside methods

        self.raw_ = RawEncoder(RawParams()).fit(data)  # impute, scale, one-hot (training only)
        x = self.raw_.transform(data)
        n = min(self.params.n_components, *x.shape)
        self.pca_ = PCA(n_components=n, random_state=ctx.seed).fit(x)
        self.feature_names_ = [f"pc{i + 1}" for i in range(n)]
        return self

    def transform(self, data) -> np.ndarray:
        return self.pca_.transform(self.raw_.transform(data)).astype(np.float32)

    def get_state(self) -> dict[str, Any]:
        # plain values, arrays and scikit-learn estimators: kept without pickle (skops)
        return {"raw": self.raw_.get_state(), "pca": self.pca_, "names": self.feature_names_}

    def set_state(self, state: dict[str, Any]) -> None:
        self.raw_ = RawEncoder(RawParams())
        self.raw_.set_state(state["raw"])
        self.pca_, self.feature_names_ = state["pca"], list(state["names"])
