"""Conformance checks for every component kind, in the spirit of scikit-learn's estimator checks.

Call them from your plugin's tests (fusionkit's own suite runs them on every built-in)::

    from fusionkit.plugins import PluginSet
    from fusionkit.testing import check_fusion

    def test_my_fusion():
        plugins = PluginSet()
        plugins.load_entry_points()
        check_fusion(plugins.registry.get("fusion", "my_fusion"))

Each check builds the component from its registration (params model, factory, declared tags
and modality kinds) and asserts what the engine relies on: signatures, shapes and dtypes, a
class absent from the training part, missing-modality masks, same seed -> same output, and
save -> load (through `fusionkit.persist`'s safe formats) -> same output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from fusionkit.config import resolve_params
from fusionkit.data.modality import ImageData, ModalityData, TableData
from fusionkit.registry import Component
from fusionkit.training.context import FitContext

N_CLASSES = 3


def _toy_problem(seed: int = 0, n: int = 90, n_features: int = 6, n_classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, n_features))
    X[:, 0] += 3.0 * y  # one clearly informative column
    X[rng.random(X.shape) < 0.05] = np.nan  # missing cells must be handled, not crash
    return X, y


def _rejects_unknown_params(component: Component) -> None:
    try:
        component.params.model_validate({"surely_not_a_parameter": 1})
    except ValidationError:
        return
    raise AssertionError(f"{component.name}: params model accepts unknown keys")


def _round_trip(component: Component, fitted: Any, params: Any) -> Any:
    """Save the fitted state, load it into a fresh object, return that object."""
    from fusionkit.persist import load_state, save_state

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kept"
        save_state(fitted.get_state(), folder)
        fresh = component.build(params)
        fresh.set_state(load_state(folder))
    return fresh


# -- sample data -------------------------------------------------------------------------------
def sample_data(
    kind: str, folder: Path, n: int = 30, seed: int = 0
) -> tuple[ModalityData, np.ndarray]:
    """A small, learnable modality of ``kind`` (images written as PNG files into ``folder``)
    and its labels 0..2; a few values are missing in tables."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    ids = [f"S{i:03d}" for i in range(n)]
    if kind == "image":
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for i, subject in enumerate(ids):
            pixels = rng.normal(0.3 + 0.2 * y[i], 0.05, size=(16, 16)).clip(0, 1)
            pixels[4:12, 4:12] += 0.2  # a bright square: a foreground to find
            path = folder / f"{subject}.png"
            Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8)).save(path)
            files[subject] = (path,)
        return ImageData("image", files, folder), y
    if kind == "genotype":
        values = rng.integers(0, 3, size=(n, 8)).astype(float)
        values[:, 0] = np.minimum(y, 2)
        frame = pd.DataFrame(values, index=ids, columns=[f"rs{j}" for j in range(8)])
        frame.iloc[1, 2] = np.nan
        return TableData("genotype", frame, folder / "snp.csv"), y
    values = rng.normal(size=(n, 5))
    values[:, 0] += 2.0 * y
    frame = pd.DataFrame(values, index=ids, columns=[f"x{j}" for j in range(5)])
    frame.iloc[2, 1] = np.nan
    frame["sex"] = np.where(np.arange(n) % 2, "F", "M")
    return TableData("table", frame, folder / "ehr.csv", ["sex"]), y


# -- classifiers -------------------------------------------------------------------------------
def check_classifier(component: Component, params: dict | None = None) -> None:
    """A classifier has the scikit-learn API, handles missing values and absent classes, is
    deterministic given its seed and survives save -> load."""
    from sklearn.base import clone

    from fusionkit.fusion.base import full_proba
    from fusionkit.persist import load_state, save_state

    assert component.kind == "classifier", f"{component.name} is a {component.kind}"
    assert component.modalities, f"{component.name} accepts no modality kinds"
    _rejects_unknown_params(component)

    X, y = _toy_problem()
    params = resolve_params(component, params)
    model = component.build(params, seed=0)
    assert model.fit(X, y) is model, f"{component.name}: fit must return self"
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3), f"{component.name}: predict_proba shape {proba.shape}"
    assert np.all(np.isfinite(proba)), f"{component.name}: non-finite probabilities"
    assert np.allclose(proba.sum(axis=1), 1.0), f"{component.name}: rows do not sum to 1"
    accuracy = float(np.mean(proba.argmax(axis=1) == y))
    assert accuracy > 0.6, f"{component.name}: training accuracy {accuracy:.2f} on an easy task"

    again = component.build(params, seed=0).fit(X, y).predict_proba(X)
    assert np.array_equal(proba, again), f"{component.name}: same seed, different predictions"
    clone(model)  # the scikit-learn API: parameters can be read and the model rebuilt
    assert isinstance(model.get_params(), dict)

    two = component.build(params, seed=0).fit(X[y < 2], y[y < 2])
    assert full_proba(two, X, 3)[:, 2].max() == 0, "a class absent from training got probability"

    with tempfile.TemporaryDirectory() as tmp:
        save_state({"model": model}, Path(tmp) / "kept")
        loaded = load_state(Path(tmp) / "kept")["model"]
    assert np.array_equal(loaded.predict_proba(X), proba), f"{component.name}: save -> load"


# -- encoders ----------------------------------------------------------------------------------
def check_encoder(component: Component, params: dict | None = None) -> None:
    """For every modality kind it accepts: ``fit(data, y, ctx)`` returns self, ``transform``
    gives one finite float row per subject in ``data.ids`` order, a class absent from the
    training part is fine, the same seed gives the same output, save -> load keeps it."""
    from fusionkit.api import Encoder

    assert component.kind == "encoder", f"{component.name} is a {component.kind}"
    _rejects_unknown_params(component)
    validated = resolve_params(component, params)
    tags = component.tags(validated)
    name = component.name
    for kind in sorted(component.modalities):
        with tempfile.TemporaryDirectory() as tmp:
            data, y = sample_data(kind, Path(tmp) / kind)
            ctx = FitContext(seed=3, n_classes=N_CLASSES, threads=1)
            encoder = component.build(validated)
            assert isinstance(encoder, Encoder), f"{name}: not an api.Encoder"
            assert encoder.fit(data, y, ctx) is encoder, f"{name}: fit must return self"
            z = encoder.transform(data)
            assert isinstance(z, np.ndarray) and z.ndim == 2, f"{name}: transform must be 2D"
            assert z.shape[0] == len(data.ids), f"{name}: {z.shape[0]} rows for {len(data.ids)}"
            assert z.dtype.kind == "f" and np.all(np.isfinite(z)), f"{name}: non-finite output"
            reversed_ids = list(reversed(data.ids))
            z_rev = encoder.transform(data.subset(reversed_ids))
            assert np.allclose(z_rev, z[::-1], atol=1e-5), f"{name}: rows not in ids order"

            again = component.build(validated).fit(data, y, ctx).transform(data)
            assert np.array_equal(z, again), f"{name}: same seed, different output ({kind})"
            two = component.build(validated).fit(data.subset(data.ids[:20]), y[:20] % 2, ctx)
            assert two.transform(data).shape[0] == len(data.ids)

            loaded = _round_trip(component, encoder, validated)
            assert np.allclose(loaded.transform(data), z, atol=1e-6), f"{name}: save -> load"
            if tags.trainable_backbone:
                from fusionkit.encoders.torch_base import TorchEncoder

                assert isinstance(encoder, TorchEncoder), f"{name}: trainable_backbone tag"


# -- fusions -----------------------------------------------------------------------------------
def _fusion_inputs(seed: int, encoders: dict[str, Any], folder: Path):
    """Training and test `FusionInput` of two table modalities; some subjects lack ``b``."""
    from fusionkit.fusion.base import FusionInput

    n = 60
    data_a, y = sample_data("table", folder / "a", n=n, seed=seed)
    data_b, _ = sample_data("genotype", folder / "b", n=n, seed=seed + 1)
    rng = np.random.default_rng(seed)
    features = {
        "a": rng.normal(size=(n, 4)).astype(np.float32) + y[:, None],
        "b": rng.normal(size=(n, 3)).astype(np.float32),
    }
    available = {"a": np.ones(n, bool), "b": np.arange(n) % 4 != 0}
    features["b"][~available["b"]] = np.nan

    def part(rows: np.ndarray) -> FusionInput:
        ids = [data_a.ids[r] for r in rows]
        have_b = available["b"][rows]
        return FusionInput(
            ids,
            {m: f[rows] for m, f in features.items()},
            {m: a[rows] for m, a in available.items()},
            {
                "a": data_a.subset(ids),
                "b": data_b.subset([i for i, h in zip(ids, have_b, strict=True) if h]),
            },
            encoders,
        )

    train, test = np.arange(0, 45), np.arange(45, n)
    return part(train), y[train], part(test), y[test]


def check_fusion(component: Component, params: dict | None = None) -> None:
    """``fit(inputs, y, ctx)`` returns self; ``predict_proba`` gives (subjects, n_classes) rows
    summing to 1, also for subjects missing a modality (when the fusion declares
    ``handles_missing``) and for a class absent from training; same seed -> same output;
    save -> load -> same predictions."""
    from fusionkit.api import Fusion
    from fusionkit.config import EncoderSpec, resolved

    assert component.kind == "fusion", f"{component.name} is a {component.kind}"
    _rejects_unknown_params(component)
    validated = resolve_params(component, params)
    tags = component.tags(validated)
    name = component.name
    encoders = {}
    if tags.trains_encoders:
        small = {"hidden": [8], "train": {"epochs": 2}}
        encoders = {m: resolved(EncoderSpec(type="mlp", params=small)) for m in ("a", "b")}
    with tempfile.TemporaryDirectory() as tmp:
        train, y, test, _ = _fusion_inputs(0, encoders, Path(tmp))
        if not tags.handles_missing:
            for inp in (train, test):
                inp.available["b"][:] = True
        ctx = FitContext(seed=1, n_classes=N_CLASSES, threads=1)
        model = component.build(validated)
        assert isinstance(model, Fusion), f"{name}: not an api.Fusion"
        assert model.fit(train, y, ctx) is model, f"{name}: fit must return self"
        proba = np.asarray(model.predict_proba(test))
        assert proba.shape == (len(test.ids), N_CLASSES), f"{name}: shape {proba.shape}"
        assert np.all(np.isfinite(proba)), f"{name}: non-finite probabilities"
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5), f"{name}: rows do not sum to 1"
        if tags.handles_missing:
            assert not test.available["b"].all(), "the check needs subjects missing b"

        again = component.build(validated).fit(train, y, ctx).predict_proba(test)
        assert np.array_equal(proba, again), f"{name}: same seed, different predictions"

        keep = y < 2  # class 2 absent from the training part
        sub = _subset(train, np.flatnonzero(keep))
        two = component.build(validated).fit(sub, y[keep], ctx).predict_proba(test)
        assert np.shape(two) == (len(test.ids), N_CLASSES), f"{name}: absent class, shape"

        loaded = _round_trip(component, model, validated)
        assert np.allclose(loaded.predict_proba(test), proba, atol=1e-6), f"{name}: save -> load"


def _subset(inp, rows: np.ndarray):
    from fusionkit.fusion.base import FusionInput

    ids = [inp.ids[r] for r in rows]
    data = {}
    for m, d in inp.data.items():
        have = inp.available[m][rows]
        data[m] = d.subset([i for i, h in zip(ids, have, strict=True) if h])
    return FusionInput(
        ids,
        {m: f[rows] for m, f in inp.features.items()},
        {m: a[rows] for m, a in inp.available.items()},
        data,
        inp.encoders,
    )


# -- readers -----------------------------------------------------------------------------------
def _sample_file(kind: str, folder: Path, fmt: str = "csv") -> tuple[str, pd.Series]:
    """A file (or pattern) of ``kind`` under ``folder`` for ids S000..S011, and their labels;
    genotypes also as ``fmt`` ``plink``, ``pgen`` or ``vcf``."""
    data, y = sample_data(kind, folder / "images", n=12)
    labels = pd.Series(y, index=data.ids)
    if kind == "image":
        return "images/{subject_id}.png", labels
    frame = data.frame.copy()
    frame.index.name = "subject_id"
    if fmt == "plink":
        from fusionkit.readers.genotype_files import write_plink

        write_plink(frame, folder / "genotype")
        return "genotype.bed", labels
    if fmt == "pgen":
        from fusionkit.readers.genotype_files import write_pgen

        write_pgen(frame, folder / "genotype")
        return "genotype.pgen", labels
    if fmt == "vcf":
        from fusionkit.readers.genotype_files import write_vcf

        write_vcf(frame, folder / "genotype.vcf")
        return "genotype.vcf", labels
    frame.to_csv(folder / f"{kind}.csv")
    return f"{kind}.csv", labels


def check_reader(component: Component, params: dict | None = None, fmt: str = "csv") -> None:
    """For every modality kind it accepts: ``read(path, ctx)`` of a small sample (``fmt``: the
    sample's file format, ``csv``, ``plink``, ``pgen`` or ``vcf`` for genotypes) gives data of
    that kind, keyed by the ids as text, with ``subset`` keeping order; a missing file is a
    `DataError` naming it."""
    from fusionkit.api import Reader
    from fusionkit.errors import DataError
    from fusionkit.readers.base import ReadContext

    assert component.kind == "reader", f"{component.name} is a {component.kind}"
    _rejects_unknown_params(component)
    name = component.name
    for kind in sorted(component.modalities):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            path, labels = _sample_file(kind, root, fmt)
            ctx = ReadContext(
                modality="m",
                kind=kind,
                root=root,
                id_column="subject_id",
                known_ids=frozenset(labels.index),
            )
            params = resolve_params(component, params)
            reader = component.build(params)
            assert isinstance(reader, Reader), f"{name}: not an api.Reader"
            data = reader.read(path, ctx)
            assert data.kind == kind, f"{name}: read {data.kind} data for a {kind} modality"
            assert sorted(data.ids) == sorted(labels.index), f"{name}: ids {data.ids[:3]}..."
            assert all(isinstance(i, str) for i in data.ids), f"{name}: ids must be text"
            picked = list(labels.index[[3, 0, 5]])
            assert data.subset(picked).ids == picked, f"{name}: subset must keep the order"
            missing = "nothing/here.csv" if kind != "image" else "nothing/{subject_id}.png"
            try:
                empty = component.build(params).read(missing, ctx)
            except DataError as exc:
                assert "nothing" in str(exc), f"{name}: error does not name the file: {exc}"
            else:
                assert not empty.ids, f"{name}: a missing file gave subjects"
