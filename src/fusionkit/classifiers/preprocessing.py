"""The leak-free tabular preprocessing every built-in classifier is wrapped in.

A classifier factory returns ``tabular_pipeline(estimator)``: a scikit-learn `Pipeline` whose
imputer and scaler are fitted by ``fit`` on the training part only, then applied unchanged to
whatever ``predict_proba`` sees. Third-party classifier plugins can use it the same way.
"""

from __future__ import annotations

from typing import Any


def tabular_pipeline(estimator: Any, *, scale: bool = True) -> Any:
    """Median imputation (+ standard scaling) in front of ``estimator``, as one Pipeline."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", estimator))
    return Pipeline(steps)
