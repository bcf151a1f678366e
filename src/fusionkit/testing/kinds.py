"""Conformance checks of the components that do not learn: readers, transforms, datasets,
executors, perturbations and prediction tasks."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

from fusionkit.config import resolve_params
from fusionkit.registry import Component
from fusionkit.testing.models import Checks, implements, rejects_unknown_params
from fusionkit.testing.samples import N_CLASSES, fusion_inputs, sample_data, sample_file


# -- readers -----------------------------------------------------------------------------------
def reader_checks(component: Component, params: dict | None = None, fmt: str = "csv") -> Checks:
    """For every modality kind it accepts: ``read(path, ctx)`` of a small sample (``fmt``: the
    sample's file format, ``csv``, ``plink``, ``pgen`` or ``vcf`` for genotypes) gives data of
    that kind, keyed by the ids as text, with ``subset`` keeping order; a missing file is a
    `DataError` naming it."""
    from fusionkit.api import Reader
    from fusionkit.errors import DataError
    from fusionkit.readers.base import ReadContext

    name = component.name
    folder = tempfile.TemporaryDirectory()

    @functools.cache
    def case(kind: str):
        root = Path(folder.name) / kind
        root.mkdir()
        path, labels = sample_file(kind, root, fmt)
        ctx = ReadContext(
            modality="m",
            kind=kind,
            root=root,
            id_column="subject_id",
            known_ids=frozenset(labels.index),
        )
        validated = resolve_params(component, params)
        reader = component.build(validated)
        implements(reader, Reader, f"reader {name!r}")
        return validated, ctx, labels, reader.read(path, ctx)

    def each(check):
        def run():
            for kind in sorted(component.modalities):
                check(kind, *case(kind))

        return run

    def reads_its_kind(kind, validated, ctx, labels, data):
        assert data.kind == kind, f"{name}: read {data.kind} data for a {kind} modality"

    def ids_as_text(kind, validated, ctx, labels, data):
        assert sorted(data.ids) == sorted(labels.index), f"{name}: ids {data.ids[:3]}..."
        assert all(isinstance(i, str) for i in data.ids), f"{name}: ids must be text"

    def subset_keeps_order(kind, validated, ctx, labels, data):
        picked = list(labels.index[[3, 0, 5]])
        assert data.subset(picked).ids == picked, f"{name}: subset must keep the order"

    def missing_file_named(kind, validated, ctx, labels, data):
        missing = "nothing/here.csv" if kind != "image" else "nothing/{subject_id}.png"
        try:
            empty = component.build(validated).read(missing, ctx)
        except DataError as exc:
            assert "nothing" in str(exc), f"{name}: error does not name the file: {exc}"
        else:
            assert not empty.ids, f"{name}: a missing file gave subjects"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "reads_its_kind": each(reads_its_kind),
        "ids_as_text": each(ids_as_text),
        "subset_keeps_order": each(subset_keeps_order),
        "missing_file_named": each(missing_file_named),
    }


# -- transforms --------------------------------------------------------------------------------
def transform_checks(component: Component, params: dict | None = None) -> Checks:
    """An image transform (`api.Transform`): a grey image in, an image of the same shape out,
    finite, in [0, 1] when the input is, the same output for the same input."""
    from fusionkit.api import Transform

    name = component.name
    image = np.random.default_rng(0).random((24, 24)).astype(np.float32) * 0.5 + 0.2

    @functools.cache
    def case():
        transform = component.build(resolve_params(component, params))
        implements(transform, Transform, f"transform {name!r}")
        return transform, np.asarray(transform(image.copy()))

    def same_shape():
        _, out = case()
        assert out.shape == image.shape, f"{name}: shape {out.shape} for {image.shape}"

    def finite_unit_range():
        _, out = case()
        assert np.all(np.isfinite(out)), f"{name}: non-finite pixels"
        assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6, f"{name}: pixels outside [0, 1]"

    def deterministic():
        _, out = case()
        again = component.build(resolve_params(component, params))(image.copy())
        assert np.array_equal(out, np.asarray(again)), f"{name}: same input, different output"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "same_shape": same_shape,
        "finite_unit_range": finite_unit_range,
        "deterministic": deterministic,
    }


# -- datasets ----------------------------------------------------------------------------------
def dataset_checks(component: Component, params: dict | None = None) -> Checks:
    """``materialize(dest)`` writes files into ``dest`` and returns a dict; the same params give
    the same files (a dataset is generated once and cached by its params)."""
    from fusionkit.api import Dataset

    name = component.name
    folder = tempfile.TemporaryDirectory()

    @functools.cache
    def case(tag: str):
        dataset = component.build(resolve_params(component, params))
        implements(dataset, Dataset, f"dataset {name!r}")
        dest = Path(folder.name) / tag
        info = dataset.materialize(dest)
        files = sorted(p for p in dest.rglob("*") if p.is_file())
        return dest, info, files

    def writes_files():
        dest, info, files = case("a")
        assert isinstance(info, dict), f"{name}: materialize must return a dict"
        assert files, f"{name}: wrote no files into {dest}"

    def deterministic():
        dest_a, _, files_a = case("a")
        dest_b, _, files_b = case("b")
        names = [p.relative_to(dest_a) for p in files_a]
        assert names == [p.relative_to(dest_b) for p in files_b], f"{name}: other files"
        different = [
            str(n) for n in names if (dest_a / n).read_bytes() != (dest_b / n).read_bytes()
        ]
        assert not different, f"{name}: same params, different {different[0]}"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "writes_files": writes_files,
        "deterministic": deterministic,
    }


# -- executors ---------------------------------------------------------------------------------
def _square(x: int) -> int:
    return x * x


def _fail(message: str) -> None:
    raise ValueError(message)


def executor_checks(component: Component, params: dict | None = None) -> Checks:
    """``run(tasks, then)`` yields ``(name, result)`` for every task, results by value; a task
    that raises is a `Failure`, not a crash; tasks returned by ``then`` run too; ``close``
    ends it."""
    from fusionkit.api import Executor, Failure, Task

    name = component.name

    @functools.cache
    def case():
        executor = component.build(resolve_params(component, params))
        implements(executor, Executor, f"executor {name!r}")

        def then(done: str, result):
            return [Task(f"after-{done}", _square, (result,))] if done == "three" else []

        tasks = [Task("three", _square, (3,)), Task("bad", _fail, ("boom",))]
        try:
            return dict(executor.run(tasks, then=then))
        finally:
            executor.close()

    def results_by_value():
        out = case()
        assert out.get("three") == 9, f"{name}: 'three' gave {out.get('three')!r}"

    def failure_is_a_result():
        out = case()
        assert isinstance(out.get("bad"), Failure), f"{name}: a raising task must be a Failure"
        assert "boom" in out["bad"].message, f"{name}: the failure does not say why"

    def follow_up_tasks_run():
        assert case().get("after-three") == 81, f"{name}: tasks returned by then did not run"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "results_by_value": results_by_value,
        "failure_is_a_result": failure_is_a_result,
        "follow_up_tasks_run": follow_up_tasks_run,
    }


# -- perturbations -----------------------------------------------------------------------------
def perturbation_checks(component: Component, params: dict | None = None) -> Checks:
    """``settings(kinds)`` names settings ``<type>=<level>``; ``apply`` gives test inputs of a
    subset of the subjects with the same modalities, the same for the same seed; one that
    ``removes_modalities`` only takes availability away."""
    from fusionkit.api import FitsOnTraining, Perturbation

    name = component.name
    folder = tempfile.TemporaryDirectory()

    @functools.cache
    def case():
        validated = resolve_params(component, params)
        perturbation = component.build(validated)
        implements(perturbation, Perturbation, f"perturbation {name!r}")
        train, _, test, _ = fusion_inputs(0, {}, Path(folder.name))
        if isinstance(perturbation, FitsOnTraining):
            perturbation.fit(train)
        kinds = {"a": "table", "b": "genotype"}
        settings = perturbation.settings(kinds)
        outs = {s: perturbation.apply(test, s, np.random.default_rng(0)) for s in settings}
        return validated, perturbation, test, settings, outs

    def named_settings():
        _, _, _, settings, _ = case()
        assert all(s.partition("=")[0] == name for s in settings), f"{name}: {settings}"

    def same_subjects_and_modalities():
        _, _, test, _, outs = case()
        for setting, out in outs.items():
            assert set(out.ids) <= set(test.ids), f"{name}: {setting} added subjects"
            assert out.modalities == test.modalities, f"{name}: {setting} changed modalities"
            for m in out.modalities:
                assert len(out.features[m]) == len(out.ids), f"{name}: {setting} rows of {m}"

    def deterministic():
        _, perturbation, test, _, outs = case()
        for setting, out in outs.items():
            again = perturbation.apply(test, setting, np.random.default_rng(0))
            for m in out.modalities:
                same = np.array_equal(out.features[m], again.features[m], equal_nan=True)
                assert same, f"{name}: {setting}: same seed, other features of {m}"

    def removes_only_availability():
        validated, _, test, _, outs = case()
        if not component.tags(validated).removes_modalities:
            return
        for setting, out in outs.items():
            rows = [test.ids.index(i) for i in out.ids]
            for m in out.modalities:
                gained = out.available[m] & ~test.available[m][rows]
                assert not gained.any(), f"{name}: {setting} made {m} available"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "named_settings": named_settings,
        "same_subjects_and_modalities": same_subjects_and_modalities,
        "deterministic": deterministic,
        "removes_only_availability": removes_only_availability,
    }


# -- prediction tasks --------------------------------------------------------------------------
def task_checks(component: Component, params: dict | None = None) -> Checks:
    """A `api.PredictionTask` built with a data section: reads a target column (leaving out a
    subject without a value), stratifies, scores every metric it names, gives a headline among
    them, a chance level, and a vectorised bootstrap statistic."""
    from fusionkit.api import PredictionTask, Target
    from fusionkit.config import DataConfig

    name = component.name
    classes = [f"c{i}" for i in range(N_CLASSES)]

    @functools.cache
    def case():
        data = DataConfig(classes=classes, modalities={"t": {"kind": "table", "path": "t.csv"}})
        task = component.build(resolve_params(component, params), data=data)
        implements(task, PredictionTask, f"task {name!r}")
        _, y = sample_data("table", Path("."), n=30)
        values = [classes[int(v)] for v in y] + [None]
        target = task.target(values, [f"S{i}" for i in range(len(values))], Path("cohort.csv"))
        rng = np.random.default_rng(0)
        prediction = rng.dirichlet(np.ones(task.output_size), len(target.y))
        return task, target, prediction

    def reads_the_target():
        _, target, _ = case()
        assert isinstance(target, Target), f"{name}: target must return an api.Target"
        assert target.kept.tolist() == [True] * 30 + [False], f"{name}: blank target kept"
        assert len(target.y) == 30 and target.warnings, f"{name}: no warning for a blank"

    def strata_per_subject():
        task, target, _ = case()
        assert len(task.strata(target.y)) == len(target.y), f"{name}: one stratum per subject"

    def scores_every_metric():
        task, target, prediction = case()
        metrics, _ = task.score(target.y, prediction)
        missing = [m for m in task.metrics if m not in metrics]
        assert not missing, f"{name}: score gives no {missing}"
        assert task.headline(list(task.metrics)) in task.metrics, f"{name}: headline"

    def chance_level():
        task, target, _ = case()
        for metric in task.metrics:
            value = task.chance(target.y, target.y, metric)
            assert np.isfinite(value), f"{name}: chance of {metric} is {value}"

    def bootstrap_statistic():
        task, target, prediction = case()
        metric = task.headline(list(task.metrics))
        index = np.random.default_rng(1).integers(0, len(target.y), (4, len(target.y)))
        values = np.asarray(task.statistic(target.y, [prediction], metric)(index))
        assert values.shape == (4,), f"{name}: statistic gave shape {values.shape} for 4"

    return {
        "rejects_unknown_params": lambda: rejects_unknown_params(component),
        "reads_the_target": reads_the_target,
        "strata_per_subject": strata_per_subject,
        "scores_every_metric": scores_every_metric,
        "chance_level": chance_level,
        "bootstrap_statistic": bootstrap_statistic,
    }
