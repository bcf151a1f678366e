"""Conformance checks for plugin authors, in the spirit of scikit-learn's estimator checks.

Call them from your plugin's tests::

    from fusionkit.testing import check_classifier

    def test_my_classifier():
        check_classifier(registry.get("classifier", "my_classifier"))
"""

from __future__ import annotations

import numpy as np
from pydantic import ValidationError

from fusionkit.registry import Component


def _toy_problem(seed: int = 0, n: int = 90, n_features: int = 6, n_classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, n_features))
    X[:, 0] += 3.0 * y  # one clearly informative column
    X[rng.random(X.shape) < 0.05] = np.nan  # missing cells must be handled, not crash
    return X, y


def check_classifier(component: Component) -> None:
    """Assert that a classifier component behaves as fusionkit's runner needs it to."""
    from sklearn.base import clone

    assert component.kind == "classifier", f"{component.name} is a {component.kind}"
    assert component.modalities, f"{component.name} accepts no modality kinds"
    try:
        component.params.model_validate({"surely_not_a_parameter": 1})
    except ValidationError:
        pass
    else:
        raise AssertionError(f"{component.name}: params model accepts unknown keys")

    X, y = _toy_problem()
    model = component.build(None, seed=0)
    assert model.fit(X, y) is model, f"{component.name}: fit must return self"
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3), f"{component.name}: predict_proba shape {proba.shape}"
    assert np.all(np.isfinite(proba)), f"{component.name}: non-finite probabilities"
    assert np.allclose(proba.sum(axis=1), 1.0), f"{component.name}: rows do not sum to 1"
    accuracy = float(np.mean(proba.argmax(axis=1) == y))
    assert accuracy > 0.6, f"{component.name}: training accuracy {accuracy:.2f} on an easy task"

    again = component.build(None, seed=0).fit(X, y).predict_proba(X)
    assert np.array_equal(proba, again), f"{component.name}: same seed, different predictions"
    clone(model)  # the scikit-learn API: parameters can be read and the model rebuilt
    assert isinstance(model.get_params(), dict)
