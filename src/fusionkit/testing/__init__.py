"""Conformance checks for every component kind, in the spirit of scikit-learn's estimator checks.

Every kind (reader, encoder, fusion, classifier, transform, dataset, executor, perturbation,
task) has a set of named checks of what the engine relies on: signatures, shapes and dtypes, a
class absent from the training part, missing-modality masks, same seed -> same output, save ->
load (through `fusionkit.persist`'s safe formats) -> same output, errors that name the file.

In a plugin's tests, one test per check, so every failing check shows at once::

    from fusionkit.plugins import PluginSet
    from fusionkit.testing import parametrize_with_checks

    plugins = PluginSet()
    plugins.load_entry_points()

    @parametrize_with_checks([plugins.registry.get("fusion", "my_fusion")])
    def test_my_fusion(check):
        check()

or all of a component's checks in one call, which lists every failing check:
``check_component(component, params)`` (``check_fusion`` and the other ``check_<kind>`` are
the same, for one kind).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fusionkit.registry import Component
from fusionkit.testing.kinds import (
    dataset_checks,
    executor_checks,
    perturbation_checks,
    reader_checks,
    task_checks,
    transform_checks,
)
from fusionkit.testing.models import classifier_checks, encoder_checks, fusion_checks
from fusionkit.testing.samples import N_CLASSES, fusion_inputs, sample_data

CHECKS: dict[str, Callable[..., dict[str, Callable[[], None]]]] = {
    "reader": reader_checks,
    "encoder": encoder_checks,
    "fusion": fusion_checks,
    "classifier": classifier_checks,
    "transform": transform_checks,
    "dataset": dataset_checks,
    "executor": executor_checks,
    "perturbation": perturbation_checks,
    "task": task_checks,
}
"""The checks of each component kind."""


@dataclass(frozen=True)
class Check:
    """One named check of one component: call it to run it (an `AssertionError` says what
    failed)."""

    component: Component
    name: str
    run: Callable[[], None]

    @property
    def id(self) -> str:
        return f"{self.component.kind}:{self.component.name}:{self.name}"

    def __call__(self) -> None:
        self.run()


def checks_for(component: Component, params: dict | None = None, **options: Any) -> list[Check]:
    """Every check of ``component`` (with ``params``; ``options`` such as a reader's ``fmt``).
    The checks share one fitted model, fitted on first use."""
    if component.kind not in CHECKS:
        raise ValueError(f"no conformance checks for kind {component.kind!r}")
    checks = CHECKS[component.kind](component, params, **options)
    return [Check(component, name, run) for name, run in checks.items()]


def check_component(component: Component, params: dict | None = None, **options: Any) -> None:
    """Run every check of ``component``; one `AssertionError` lists each that failed."""
    failed = []
    for check in checks_for(component, params, **options):
        try:
            check()
        except AssertionError as exc:
            failed.append(f"{check.name}: {exc}")
    if failed:
        raise AssertionError(f"{component.kind} {component.name!r} fails: " + "; ".join(failed))


def parametrize_with_checks(
    components: Sequence[Component | tuple[Component, dict | None]], **options: Any
):
    """A ``pytest.mark.parametrize`` over every check of every component (each given alone or
    as ``(component, params)``): the test receives ``check`` and calls it."""
    import pytest

    checks = []
    for item in components:
        component, params = item if isinstance(item, tuple) else (item, None)
        checks += checks_for(component, params, **options)
    return pytest.mark.parametrize("check", checks, ids=[c.id for c in checks])


def _of_kind(kind: str) -> Callable[..., None]:
    def check(component: Component, params: dict | None = None, **options: Any) -> None:
        assert component.kind == kind, f"{component.name} is a {component.kind}, not a {kind}"
        check_component(component, params, **options)

    check.__name__ = f"check_{kind}"
    check.__doc__ = f"Every check of a {kind} (`check_component` for one kind)."
    return check


check_reader = _of_kind("reader")
check_encoder = _of_kind("encoder")
check_fusion = _of_kind("fusion")
check_classifier = _of_kind("classifier")
check_transform = _of_kind("transform")
check_dataset = _of_kind("dataset")
check_executor = _of_kind("executor")
check_perturbation = _of_kind("perturbation")
check_task = _of_kind("task")

__all__ = [
    "CHECKS",
    "N_CLASSES",
    "Check",
    "check_classifier",
    "check_component",
    "check_dataset",
    "check_encoder",
    "check_executor",
    "check_fusion",
    "check_perturbation",
    "check_reader",
    "check_task",
    "check_transform",
    "checks_for",
    "fusion_inputs",
    "parametrize_with_checks",
    "sample_data",
]
