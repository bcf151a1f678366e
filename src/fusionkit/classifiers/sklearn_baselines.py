"""Shallow baselines from scikit-learn: logistic regression, SVM, random forest, kNN, tree.

Each factory takes its validated params model and a seed, and returns an imputer + scaler +
estimator pipeline (see `fusionkit.classifiers.preprocessing`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.classifiers.preprocessing import tabular_pipeline
from fusionkit.hookspecs import hookimpl

# A classifier sees a modality as a feature matrix: tables and genotypes through their columns,
# images through their handcrafted features (`image_features`), so it accepts all three kinds.
FEATURES = ("table", "genotype", "image")
ClassWeight = Literal["balanced"] | None


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogisticRegressionParams(_Params):
    C: float = Field(1.0, gt=0, description="Inverse regularisation strength.")
    max_iter: int = Field(2000, gt=0)
    class_weight: ClassWeight = "balanced"


class SVMParams(_Params):
    C: float = Field(1.0, gt=0)
    kernel: Literal["rbf", "linear", "poly", "sigmoid"] = "rbf"
    gamma: Literal["scale", "auto"] | float = "scale"
    class_weight: ClassWeight = "balanced"


class RandomForestParams(_Params):
    n_estimators: int = Field(300, gt=0)
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: Literal["sqrt", "log2"] | float | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced"
    n_jobs: int = Field(1, description="Threads; results do not depend on it.")


class KNNParams(_Params):
    n_neighbors: int = Field(5, ge=1)
    weights: Literal["uniform", "distance"] = "uniform"


class DecisionTreeParams(_Params):
    max_depth: int | None = Field(None, gt=0)
    min_samples_leaf: int = Field(1, ge=1)
    criterion: Literal["gini", "entropy", "log_loss"] = "gini"
    class_weight: ClassWeight = "balanced"


def make_logistic_regression(params: LogisticRegressionParams, *, seed: int = 0) -> Any:
    from sklearn.linear_model import LogisticRegression

    return tabular_pipeline(LogisticRegression(random_state=seed, **params.model_dump()))


def make_svm(params: SVMParams, *, seed: int = 0) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # Platt scaling fitted on internal 3-fold predictions of the training data
    # (scikit-learn's replacement for SVC(probability=True)).
    svc = SVC(random_state=seed, **params.model_dump())
    return tabular_pipeline(CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False))


def make_random_forest(params: RandomForestParams, *, seed: int = 0) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return tabular_pipeline(
        RandomForestClassifier(random_state=seed, **params.model_dump()), scale=False
    )


def make_knn(params: KNNParams, *, seed: int = 0) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return tabular_pipeline(KNeighborsClassifier(**params.model_dump()))


def make_decision_tree(params: DecisionTreeParams, *, seed: int = 0) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return tabular_pipeline(
        DecisionTreeClassifier(random_state=seed, **params.model_dump()), scale=False
    )


@hookimpl
def register_classifiers(register):
    register(
        "logistic_regression",
        make_logistic_regression,
        params=LogisticRegressionParams,
        description="L2-regularised multinomial logistic regression (scikit-learn).",
        modalities=FEATURES,
    )
    register(
        "svm",
        make_svm,
        params=SVMParams,
        description="Support vector machine with Platt-scaled probabilities (scikit-learn SVC).",
        modalities=FEATURES,
    )
    register(
        "random_forest",
        make_random_forest,
        params=RandomForestParams,
        description="Random forest of decision trees (scikit-learn).",
        modalities=FEATURES,
    )
    register(
        "knn",
        make_knn,
        params=KNNParams,
        description="k-nearest neighbours on standardised features (scikit-learn).",
        modalities=FEATURES,
    )
    register(
        "decision_tree",
        make_decision_tree,
        params=DecisionTreeParams,
        description="A single CART decision tree (scikit-learn).",
        modalities=FEATURES,
    )
