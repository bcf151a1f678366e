"""Conformance checks of the components that learn: classifiers, encoders, fusions.

Each kind has a set of named checks; the checks of one component share one fitted model (fitted
on first use), so running every check costs about one fit.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fusionkit.config import resolve_params
from fusionkit.registry import Component
from fusionkit.testing.samples import (
    N_CLASSES,
    fusion_inputs,
    sample_data,
    subset_inputs,
    toy_problem,
)
from fusionkit.training.context import FitContext

Checks = dict[str, Callable[[], None]]


def rejects_unknown_params(component: Component) -> None:
    from pydantic import ValidationError

    try:
        component.params.model_validate({"surely_not_a_parameter": 1})
    except ValidationError:
        return
    raise AssertionError(f"{component.name}: params model accepts unknown keys")


def implements(obj: Any, protocol: type, name: str) -> None:
    """``obj`` has every method of ``protocol``; the message names the missing ones."""
    from fusionkit.api import conforming

    try:
        conforming(obj, protocol, name)
    except TypeError as exc:
        raise AssertionError(str(exc)) from None


def round_trip(component: Component, fitted: Any, params: Any) -> Any:
    """Save the fitted state, load it into a fresh object, return that object."""
    from fusionkit.persist import load_state, save_state

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kept"
        save_state(fitted.get_state(), folder)
        fresh = component.build(params)
        fresh.set_state(load_state(folder))
    return fresh


# -- classifiers -------------------------------------------------------------------------------
def classifier_checks(component: Component, params: dict | None = None) -> Checks:
    """The scikit-learn API, valid probabilities, learning an easy task, missing values
    handled, same seed -> same predictions, a class absent from training, save -> load."""
    name = component.name

    @functools.cache
    def case():
        X, y = toy_problem()
        validated = resolve_params(component, params)
        model = component.build(validated, seed=0)
        returned = model.fit(X, y)
        return X, y, validated, model, returned, model.predict_proba(X)

    def scikit_learn_api():
        from sklearn.base import clone

        _, _, _, model, returned, _ = case()
        assert returned is model, f"{name}: fit must return self"
        clone(model)  # parameters can be read and the model rebuilt
        assert isinstance(model.get_params(), dict), f"{name}: get_params must give a dict"

    def probabilities():
        _, y, _, _, _, proba = case()
        assert proba.shape == (len(y), N_CLASSES), f"{name}: predict_proba shape {proba.shape}"
        assert np.all(np.isfinite(proba)), f"{name}: non-finite probabilities"
        assert np.allclose(proba.sum(axis=1), 1.0), f"{name}: rows do not sum to 1"

    def learns_an_easy_task():
        _, y, _, _, _, proba = case()
        accuracy = float(np.mean(proba.argmax(axis=1) == y))
        assert accuracy > 0.6, f"{name}: training accuracy {accuracy:.2f} on an easy task"

    def deterministic():
        X, y, validated, _, _, proba = case()
        again = component.build(validated, seed=0).fit(X, y).predict_proba(X)
        assert np.array_equal(proba, again), f"{name}: same seed, different predictions"

    def absent_class():
        from fusionkit.fusion.base import full_proba

        X, y, validated, _, _, _ = case()
        two = component.build(validated, seed=0).fit(X[y < 2], y[y < 2])
        assert full_proba(two, X, 3)[:, 2].max() == 0, f"{name}: an absent class got probability"

    def save_load():
        from fusionkit.persist import load_state, save_state

        X, _, _, model, _, proba = case()
        with tempfile.TemporaryDirectory() as tmp:
            save_state({"model": model}, Path(tmp) / "kept")
            loaded = load_state(Path(tmp) / "kept")["model"]
        assert np.array_equal(loaded.predict_proba(X), proba), f"{name}: save -> load"

    def declares_modalities():
        assert component.modalities, f"{name}: accepts no modality kinds"

    return {
        "declares_modalities": declares_modalities,
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "scikit_learn_api": scikit_learn_api,
        "probabilities": probabilities,
        "learns_an_easy_task": learns_an_easy_task,
        "deterministic": deterministic,
        "absent_class": absent_class,
        "save_load": save_load,
    }


# -- encoders ----------------------------------------------------------------------------------
def encoder_checks(component: Component, params: dict | None = None) -> Checks:
    """For every modality kind it accepts: the `api.Encoder` methods, ``fit`` returns self,
    ``transform`` gives one finite float row per subject in ``data.ids`` order, a class absent
    from the training part is fine, same seed -> same output, save -> load keeps it."""
    from fusionkit.api import Encoder

    name = component.name
    folder = tempfile.TemporaryDirectory()  # image samples live until the checks are gone

    @functools.cache
    def case(kind: str):
        validated = resolve_params(component, params)
        data, y = sample_data(kind, Path(folder.name) / kind)
        ctx = FitContext(seed=3, n_classes=N_CLASSES, threads=1)
        encoder = component.build(validated)
        implements(encoder, Encoder, f"encoder {name!r}")
        returned = encoder.fit(data, y, ctx)
        return validated, data, y, ctx, encoder, returned, encoder.transform(data)

    kinds = sorted(component.modalities)

    def each(check: Callable) -> Callable[[], None]:
        def run():
            for kind in kinds:
                check(kind, *case(kind))

        return run

    def implements_encoder():
        implements(component.build(resolve_params(component, params)), Encoder, name)

    def fit_returns_self(kind, validated, data, y, ctx, encoder, returned, z):
        assert returned is encoder, f"{name}: fit must return self ({kind})"

    def one_row_per_subject(kind, validated, data, y, ctx, encoder, returned, z):
        assert isinstance(z, np.ndarray) and z.ndim == 2, f"{name}: transform must be 2D"
        assert z.shape[0] == len(data.ids), f"{name}: {z.shape[0]} rows for {len(data.ids)}"
        assert z.dtype.kind == "f" and np.all(np.isfinite(z)), f"{name}: non-finite output"

    def rows_in_ids_order(kind, validated, data, y, ctx, encoder, returned, z):
        z_rev = encoder.transform(data.subset(list(reversed(data.ids))))
        assert np.allclose(z_rev, z[::-1], atol=1e-5), f"{name}: rows not in ids order ({kind})"

    def deterministic(kind, validated, data, y, ctx, encoder, returned, z):
        again = component.build(validated).fit(data, y, ctx).transform(data)
        assert np.array_equal(z, again), f"{name}: same seed, different output ({kind})"

    def absent_class(kind, validated, data, y, ctx, encoder, returned, z):
        two = component.build(validated).fit(data.subset(data.ids[:20]), y[:20] % 2, ctx)
        assert two.transform(data).shape[0] == len(data.ids), f"{name}: absent class ({kind})"

    def save_load(kind, validated, data, y, ctx, encoder, returned, z):
        loaded = round_trip(component, encoder, validated)
        assert np.allclose(loaded.transform(data), z, atol=1e-6), f"{name}: save -> load"

    def trainable_backbone_tag():
        validated = resolve_params(component, params)
        if component.tags(validated).trainable_backbone:
            from fusionkit.encoders.torch_base import TorchEncoder

            built = component.build(validated)
            assert isinstance(built, TorchEncoder), f"{name}: trainable_backbone tag"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "implements_encoder": implements_encoder,
        "fit_returns_self": each(fit_returns_self),
        "one_row_per_subject": each(one_row_per_subject),
        "rows_in_ids_order": each(rows_in_ids_order),
        "deterministic": each(deterministic),
        "absent_class": each(absent_class),
        "save_load": each(save_load),
        "trainable_backbone_tag": trainable_backbone_tag,
    }


# -- fusions -----------------------------------------------------------------------------------
def fusion_checks(component: Component, params: dict | None = None) -> Checks:
    """The `api.Fusion` methods, ``fit`` returns self, ``predict_proba`` gives (subjects,
    n_classes) rows summing to 1, also for subjects missing a modality (when it declares
    ``handles_missing``) and for a class absent from training; same seed -> same output;
    save -> load -> same predictions."""
    from fusionkit.api import Fusion
    from fusionkit.config import EncoderSpec, resolved

    name = component.name
    folder = tempfile.TemporaryDirectory()

    @functools.cache
    def case():
        validated = resolve_params(component, params)
        tags = component.tags(validated)
        encoders = {}
        if tags.trains_encoders:
            small = {"hidden": [8], "train": {"epochs": 2}}
            encoders = {m: resolved(EncoderSpec(type="mlp", params=small)) for m in ("a", "b")}
        train, y, test, _ = fusion_inputs(0, encoders, Path(folder.name))
        if not tags.handles_missing:
            for inp in (train, test):
                inp.available["b"][:] = True
        ctx = FitContext(seed=1, n_classes=N_CLASSES, threads=1)
        model = component.build(validated)
        implements(model, Fusion, f"fusion {name!r}")
        returned = model.fit(train, y, ctx)
        proba = np.asarray(model.predict_proba(test))
        return validated, tags, train, y, test, ctx, model, returned, proba

    def implements_fusion():
        implements(component.build(resolve_params(component, params)), Fusion, name)

    def fit_returns_self():
        *_, model, returned, _ = case()
        assert returned is model, f"{name}: fit must return self"

    def probabilities():
        *_, test, _, _, _, proba = case()
        assert proba.shape == (len(test.ids), N_CLASSES), f"{name}: shape {proba.shape}"
        assert np.all(np.isfinite(proba)), f"{name}: non-finite probabilities"
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5), f"{name}: rows do not sum to 1"

    def missing_modality():
        _, tags, _, _, test, _, _, _, proba = case()
        if tags.handles_missing:
            assert not test.available["b"].all(), "the check needs subjects missing b"
            missing = ~test.available["b"]
            assert np.all(np.isfinite(proba[missing])), f"{name}: a missing modality gave NaN"

    def deterministic():
        validated, _, train, y, test, ctx, _, _, proba = case()
        again = component.build(validated).fit(train, y, ctx).predict_proba(test)
        assert np.array_equal(proba, again), f"{name}: same seed, different predictions"

    def absent_class():
        validated, _, train, y, test, ctx, _, _, _ = case()
        keep = y < 2  # class 2 absent from the training part
        sub = subset_inputs(train, np.flatnonzero(keep))
        two = component.build(validated).fit(sub, y[keep], ctx).predict_proba(test)
        assert np.shape(two) == (len(test.ids), N_CLASSES), f"{name}: absent class, shape"

    def save_load():
        validated, _, _, _, test, _, model, _, proba = case()
        loaded = round_trip(component, model, validated)
        assert np.allclose(loaded.predict_proba(test), proba, atol=1e-6), f"{name}: save -> load"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "implements_fusion": implements_fusion,
        "fit_returns_self": fit_returns_self,
        "probabilities": probabilities,
        "missing_modality": missing_modality,
        "deterministic": deterministic,
        "absent_class": absent_class,
        "save_load": save_load,
    }
