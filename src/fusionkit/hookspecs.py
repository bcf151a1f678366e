"""The hooks a fusionkit plugin can implement: one per component kind.

Every hook receives ``register``, a [`Registrar`][fusionkit.registry.Registrar] bound to the
hook's component kind and to the calling plugin. Call it once per component::

    from fusionkit import hookimpl

    @hookimpl
    def register_classifiers(register):
        register("extra_trees", make_extra_trees, params=ExtraTreesParams,
                 description="Extremely randomised trees.", modalities=("table", "genotype"))

Import heavy libraries (torch, monai, xgboost) inside factories, never at module top, so that
``fusionkit --help``, ``validate`` and ``plugins`` stay fast.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("fusionkit")
hookimpl = pluggy.HookimplMarker("fusionkit")


@hookspec
def register_readers(register):
    """Register readers: a path or spec -> `ModalityData` for one modality."""


@hookspec
def register_encoders(register):
    """Register encoders: `fit(data, y, ctx)` / `transform(data)` (`fusionkit.api.Encoder`)."""


@hookspec
def register_fusions(register):
    """Register fusions: `fit(inputs, y, ctx)`, `predict_proba(inputs)` (`fusionkit.api.Fusion`)."""


@hookspec
def register_classifiers(register):
    """Register classifiers with the scikit-learn API (`fit`, `predict_proba`, `get_params`)."""


@hookspec
def register_transforms(register):
    """Register preprocessing transforms for images (e.g. contrast enhancement, augmentation)."""


@hookspec
def register_datasets(register):
    """Register built-in datasets: generators that write a cohort's files to a folder."""


@hookspec
def register_executors(register):
    """Register executors: run named tasks and return their results by value (`api.Executor`)."""


@hookspec
def register_perturbations(register):
    """Register test-time perturbations: changes to a fold's test inputs (`api.Perturbation`)."""


@hookspec
def register_tasks(register):
    """Register prediction tasks: what is predicted and how it is scored (`api.PredictionTask`)."""
