"""fusionkit plugin: tree-ensemble classifiers, a PCA encoder and a gated fusion strategy.

Found by fusionkit through the entry point ``[project.entry-points.fusionkit]`` in this
package's ``pyproject.toml``; scikit-learn and torch are imported inside the components only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fusionkit import hookimpl
from fusionkit.api import Tags
from fusionkit.classifiers.preprocessing import tabular_pipeline
from fusionkit_extratrees.gated import GatedFusion, GatedParams
from fusionkit_extratrees.pca import PCAEncoder, PCAParams


class ExtraTreesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(300, gt=0)
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(1, ge=1)
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced"


class HistGradientBoostingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_iter: int = Field(200, gt=0)
    learning_rate: float = Field(0.1, gt=0, le=1)
    max_leaf_nodes: int = Field(31, ge=2)
    l2_regularization: float = Field(0.0, ge=0)
    class_weight: Literal["balanced"] | None = "balanced"


def make_extra_trees(params: ExtraTreesParams, *, seed: int = 0) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return tabular_pipeline(
        ExtraTreesClassifier(random_state=seed, **params.model_dump()), scale=False
    )


def make_hist_gradient_boosting(params: HistGradientBoostingParams, *, seed: int = 0) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    # Missing values are handled by the trees themselves, so no imputer in front.
    return HistGradientBoostingClassifier(
        random_state=seed, early_stopping=False, **params.model_dump()
    )


@hookimpl
def register_classifiers(register):
    register(
        "extra_trees",
        make_extra_trees,
        params=ExtraTreesParams,
        description="Extremely randomised trees (scikit-learn ExtraTreesClassifier).",
        modalities=("table", "genotype"),
    )
    register(
        "hist_gradient_boosting",
        make_hist_gradient_boosting,
        params=HistGradientBoostingParams,
        description="Histogram gradient boosting with native missing-value support (scikit-learn).",
        modalities=("table", "genotype"),
    )


@hookimpl
def register_encoders(register):
    register(
        "pca",
        PCAEncoder,
        params=PCAParams,
        description="Principal components of a table's imputed, standardised columns.",
        modalities=("table", "genotype"),
    )


@hookimpl
def register_fusions(register):
    register(
        "gated_linear",
        GatedFusion,
        params=GatedParams,
        description="Modalities weighted per subject by a learnt gate, then a linear head.",
        tags=Tags(needs_embeddings=True),  # it fuses the modalities' encoder outputs
    )
