"""The engine's seams: declared tags, plugin versions in result identity, executors, typed
results and failures, kept models, the device path, and no import cycles."""

from __future__ import annotations

import ast
import copy
import os
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict

from fusionkit import hookimpl
from fusionkit.api import Tags
from fusionkit.config import load_config
from fusionkit.experiment.planner import make_plan
from fusionkit.experiment.runner import run_experiment
from fusionkit.fusion.feature_level import FeatureLevel, FeatureLevelParams
from fusionkit.plugins import get_plugins

SRC = Path(__file__).resolve().parents[1] / "src" / "fusionkit"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EncodedOnly(FeatureLevel):
    """A fusion with no `features` param at all: it declares that it needs embeddings."""

    def __init__(self, params):
        super().__init__(FeatureLevelParams(features="encoded"))


class Plain(FeatureLevel):
    """Feature-level fusion of raw features, as a third-party fusion without params."""

    def __init__(self, params):
        super().__init__(FeatureLevelParams())


class Exploding(Plain):
    def fit(self, inp, y, ctx):
        raise RuntimeError("this fusion always fails")


def _plugin(name: str, version: str, **fusions):
    """Add a plugin module registering ``fusions`` (name -> (factory, modalities, tags))."""
    module = types.ModuleType(name)

    @hookimpl
    def register_fusions(register):
        for fusion, (factory, modalities, tags) in fusions.items():
            register(
                fusion,
                factory,
                params=_Strict,
                description="test fusion",
                modalities=modalities,
                tags=tags,
            )

    module.register_fusions = register_fusions
    get_plugins().add(module, name, version, "test", distribution=f"{name}-dist")
    return module


@pytest.fixture
def table_config(base_config):
    config = copy.deepcopy(base_config)
    config["data"]["modalities"].pop("img")
    config["encoders"] = {
        "ehr": {"type": "mlp", "params": {"hidden": [8], "train": {"epochs": 3}}},
        "snp": {"type": "mlp", "params": {"hidden": [8], "train": {"epochs": 3}}},
    }
    config["methods"] = [{"type": "logistic_regression"}]
    return config


# -- declared capabilities ----------------------------------------------------------------------
def test_planner_reads_declared_tags_not_param_names(table_config, write_config):
    _plugin("tagged", "1.0", encoded_only=(EncodedOnly, ("table", "genotype"), Tags(True)))
    config = dict(table_config, methods=[{"type": "encoded_only"}])
    plan = make_plan(load_config(write_config(config)))
    assert not plan.skipped
    assert len(plan.cells) == 3 * (3 + 1)  # ehr, snp, ehr+snp x (3 folds + external)


def test_a_method_only_runs_on_the_modality_kinds_it_declares(table_config, write_config):
    _plugin("tables_only", "1.0", tables_only=(Plain, ("table",), Tags()))
    config = dict(table_config, methods=[{"type": "tables_only"}])
    plan = make_plan(load_config(write_config(config)))
    assert {(s, m) for s, m, _ in plan.skipped} == {
        ("snp", "tables_only"),
        ("ehr+snp", "tables_only"),
    }
    assert "does not accept genotype data" in plan.skipped[0][2]
    assert {c.scenario for c in plan.cells} == {("ehr",)}


# -- identity -------------------------------------------------------------------------------------
def test_a_new_plugin_version_reruns_its_cells_only(table_config, write_config, tmp_path):
    module = _plugin("versioned", "1.0", mine=(Plain, ("table", "genotype"), Tags()))
    config = dict(
        table_config, scenarios=["ehr"], methods=[{"type": "logistic_regression"}, {"type": "mine"}]
    )
    path = write_config(config)
    first = run_experiment(load_config(path), tmp_path / "run")
    assert first.cells_run == 8 and not first.failures, (first.state.plan.skipped, first.failures)
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert '"distribution": "versioned-dist"' in manifest
    get_plugins().remove("versioned")
    get_plugins().add(module, "versioned", "1.1", "test", distribution="versioned-dist")
    again = run_experiment(load_config(path), tmp_path / "run")
    assert (again.cells_run, again.cells_reused) == (4, 4)  # only `mine`'s cells


@pytest.mark.slow
# -- executors and config by value --------------------------------------------------------------
def test_processes_executor_gives_the_same_bytes_without_rereading_the_yaml(
    table_config, write_config, tmp_path
):
    config = dict(table_config, scenarios=["ehr", "ehr+snp"])
    config["methods"] = [
        {"type": "logistic_regression"},
        {"type": "deep_concat", "params": {"train": {"epochs": 3}}},
    ]
    path = write_config(config)
    local = run_experiment(load_config(path), tmp_path / "local")
    assert not local.failures
    cfg = load_config(
        path, ["runtime.executor.type=processes", "runtime.executor.params.workers=2"]
    )
    path.write_text("this: [is not the config any more")  # workers must not read the file
    pooled = run_experiment(cfg, tmp_path / "pooled")
    assert not pooled.failures
    for name in ("results.csv", "summary.csv", "predictions.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "pooled" / name).read_bytes()


def test_unknown_executor_is_a_config_error(table_config, write_config, cli):
    config = dict(table_config, runtime={"executor": {"type": "rai"}})
    result = cli("validate", write_config(config))
    assert result.exit_code == 2
    assert "runtime.executor.type: unknown executor 'rai'" in result.stderr


# -- failures ----------------------------------------------------------------------------------
def test_when_every_cell_fails_the_run_lists_them_and_exits_1(
    table_config, write_config, cli, tmp_path
):
    _plugin("broken", "1.0", exploding=(Exploding, ("table", "genotype"), Tags()))
    config = dict(table_config, scenarios=["ehr"], methods=[{"type": "exploding"}])
    path = write_config(config)
    result = cli("run", path, "--out", tmp_path / "run")
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 4, (result.stderr, result.exception)
    assert all(line.endswith("RuntimeError: this fusion always fails") for line in failed)
    assert "Traceback" not in result.stderr
    report = (tmp_path / "run" / "report.md").read_text()
    assert "**4 cells or encoders failed**" in report and "## Failed" in report
    assert "| ehr | exploding † | 60 | 0 of 3 (external failed) |  |  |  |  |" in report
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert summary[["folds_ok", "folds_failed", "external_failed"]].values.tolist() == [[0, 3, 1]]
    assert "ehr__exploding__r0f0: RuntimeError: this fusion always fails" in report
    debug = cli("run", path, "--out", tmp_path / "run", "--debug")
    assert "Traceback" in debug.stderr and "in fit" in debug.stderr


# -- kept models --------------------------------------------------------------------------------
def test_fitted_cells_are_kept_in_safe_formats_and_reload(table_config, write_config, tmp_path):
    config = dict(table_config, scenarios=["ehr+snp"])
    config["methods"] = [
        {"type": "random_forest", "params": {"n_estimators": 10}},
        {"type": "deep_concat", "params": {"train": {"epochs": 3}}},
    ]
    outcome = run_experiment(load_config(write_config(config)), tmp_path / "run")
    assert not outcome.failures
    from fusionkit.experiment.store import RunStore

    store = RunStore(tmp_path / "run")
    for cell in ("ehr+snp__random_forest__r0f1", "ehr+snp__deep_concat__external"):
        folder = store.model_dir(cell)
        assert not list(folder.glob("*.pkl")) and (folder / "state.json").is_file()
        fitted = store.load_fitted(cell)
        result = next(r for r in outcome.tables.cell_results if r.id == cell)
        assert fitted.meta["key"] == result.key
    deep = store.model_dir("ehr+snp__deep_concat__r0f0")
    assert (deep / "tensors.pt").is_file() and (deep / "arrays.npz").is_file()
    assert list(store.model_dir("ehr+snp__random_forest__r0f0").glob("*.skops"))


def test_an_untrusted_type_in_a_kept_estimator_is_refused(tmp_path):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from fusionkit.errors import DataError
    from fusionkit.persist import load_state, save_state

    save_state({"model": FunctionTransformer(func=os.getcwd)}, tmp_path / "kept")
    assert sio.get_untrusted_types(file=next((tmp_path / "kept").glob("*.skops")))
    with pytest.raises(DataError, match=r"refusing to load untrusted types: posix\.getcwd"):
        load_state(tmp_path / "kept")


# -- the bugs -------------------------------------------------------------------------------------
def _table_inputs():
    from fusionkit.fusion.base import FusionInput
    from fusionkit.testing import sample_data

    data, y = sample_data("table", Path("."), n=40)
    inp = FusionInput(
        data.ids,
        {"ehr": np.zeros((40, 1), np.float32)},
        {"ehr": np.ones(40, bool)},
        {"ehr": data},
    )
    return inp, y


def test_denoising_autoencoder_pretrains_when_trained_end_to_end(monkeypatch):
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.encoders.tabular_nets import DenoisingAutoencoder
    from fusionkit.fusion.deep_concat import DeepConcat, DeepConcatParams
    from fusionkit.training.context import FitContext

    calls = []
    original = DenoisingAutoencoder.pretrain
    monkeypatch.setattr(
        DenoisingAutoencoder,
        "pretrain",
        lambda self, *a, **k: calls.append(len(a[1])) or original(self, *a, **k),
    )
    inp, y = _table_inputs()
    spec = {"hidden": [8], "pretrain_epochs": 2, "train": {"epochs": 2}}
    inp.encoders = {"ehr": resolved(EncoderSpec(type="denoising_autoencoder", params=spec))}
    params = DeepConcatParams(end_to_end=True, train={"epochs": 2})
    DeepConcat(params).fit(inp, y, FitContext(n_classes=3, threads=1))
    assert calls == [32]  # once, on the fit part of the 40 training subjects (validation carved)


@pytest.mark.parametrize("end_to_end", [False, True])
def test_every_torch_model_trains_and_predicts_on_the_configured_device(monkeypatch, end_to_end):
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.fusion.deep_concat import DeepConcat, DeepConcatParams
    from fusionkit.training import loop
    from fusionkit.training.context import FitContext

    placed = []
    original = loop.place
    monkeypatch.setattr(loop, "place", lambda m, d: placed.append(d) or original(m, d))
    inp, y = _table_inputs()
    inp.features["ehr"] = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    inp.encoders = {"ehr": resolved(EncoderSpec(type="mlp", params={"hidden": [8]}))}
    model = DeepConcat(DeepConcatParams(end_to_end=end_to_end, train={"epochs": 2}))
    model.fit(inp, y, FitContext(n_classes=3, threads=1, device="cpu"))
    trained = len(placed)
    proba = model.predict_proba(inp)
    assert trained >= 1 and len(placed) == trained + 1  # training, then prediction
    assert set(placed) == {"cpu"}
    assert proba.shape == (40, 3)


def test_no_import_cycle_in_the_package():
    """Every import of src/fusionkit: module level, inside functions, and for type checking."""
    modules = {}
    for file in SRC.rglob("*.py"):
        parts = file.relative_to(SRC.parent).with_suffix("").parts
        modules[".".join(parts).removesuffix(".__init__")] = file
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, file in modules.items():
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[name] |= {t for t in targets if t in modules and t != name}
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the walk found imports

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in path and len(path) < 12:
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for m in graph if (c := cycle_from(m))]
    assert not cycles, " -> ".join(cycles[0])


def test_a_fitted_cell_is_evaluated_again_without_refitting(table_config, write_config, tmp_path):
    """A cell is fit, then evaluate: evaluating the kept model again (plain, or under a variant)
    gives the run's own result and calls no fit."""
    from fusionkit.experiment import cells
    from fusionkit.experiment.state import prepare

    config = dict(table_config, scenarios=["ehr+snp"], methods=["logistic_regression"])
    config["evaluation"] = {"cv_folds": 3, "robustness": ["drop_modality"]}
    cfg = load_config(write_config(config))
    outcome = run_experiment(cfg, tmp_path / "run")
    state = prepare(cfg, None)
    cell = state.plan.cell("ehr+snp__logistic_regression__r0f1")
    embeddings = {t.name: outcome.store.load_embeddings(t.name) for t in cell.stored}
    fitted = cells.fit_cell(state, cell, embeddings)
    fits = []
    real_fit = type(fitted.model).fit
    type(fitted.model).fit = lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k)
    try:
        again = cells.evaluate(state, cell, fitted, embeddings)
        dropped = cells.evaluate(state, cell, fitted, embeddings, "drop_modality=snp")
    finally:
        type(fitted.model).fit = real_fit
    assert not fits
    kept = next(r for r in outcome.tables.cell_results if r.id == cell.id)
    assert again.predictions.proba == kept.predictions.proba
    assert again.metrics["f1_macro"] == pytest.approx(kept.metrics["f1_macro"], abs=1e-12)
    stored = next(
        r
        for r in outcome.tables.variant_results
        if r.id == cell.id and r.variant == "drop_modality=snp"
    )
    assert dropped.predictions.proba == stored.predictions.proba


# -- predict, any method --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def final_run(small_cohort, tmp_path_factory):
    import yaml

    from tests.conftest import BASE_CONFIG

    tmp = tmp_path_factory.mktemp("final")
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    config["encoders"] = {
        "ehr": {"type": "mlp", "params": {"hidden": [8], "train": {"epochs": 3}}},
        "snp": {"type": "mlp", "params": {"hidden": [8], "train": {"epochs": 3}}},
        "img": {"type": "resnet10", "params": {"widen_factor": 0.125, "train": {"epochs": 1}}},
    }
    config["scenarios"] = ["ehr", "ehr+snp+img"]
    config["methods"] = [
        {"type": "random_forest", "params": {"n_estimators": 20}},
        {"type": "deep_concat", "params": {"train": {"epochs": 5}}},
    ]
    config["output"] = {
        "final_models": [
            {"scenario": "ehr+snp+img", "method": "deep_concat"},
            {"scenario": "ehr", "method": "random_forest"},
        ]
    }
    path = tmp / "final.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(load_config(path), tmp / "run")
    assert not outcome.failures
    return tmp / "run", small_cohort


def _subject_table(cohort: Path, out: Path, n: int = 12) -> Path:
    ehr = pd.read_csv(cohort / "external" / "ehr.csv", dtype={"subject_id": str})
    snp = pd.read_csv(cohort / "external" / "snp.csv", dtype={"subject_id": str})
    table = ehr.merge(snp, on="subject_id", how="left").head(n)
    table["img"] = [
        str(p) if (p := cohort / "external" / "images" / f"{s}.nii.gz").exists() else ""
        for s in table.subject_id
    ]
    table.to_csv(out, index=False)
    return out


def test_predict_with_a_multimodal_deep_concat_final_model(cli, final_run, tmp_path):
    run_dir, cohort = final_run
    table = _subject_table(cohort, tmp_path / "new.csv")
    out = tmp_path / "pred.csv"
    result = cli(
        "predict",
        run_dir,
        table,
        "--model",
        "ehr+snp+img__deep_concat",
        "--csv",
        out,
        "--batch-size",
        "5",
    )
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out, dtype={"subject": str})
    subjects = pd.read_csv(table, dtype={"subject_id": str})
    complete = subjects[subjects.img.notna() & subjects.filter(regex=r"^rs\d").notna().any(axis=1)]
    assert 0 < len(complete) < 12  # the table mixes complete and incomplete subjects
    # fitted on complete cases (missing: complete_case): only complete subjects are predicted
    assert pred.subject.tolist() == complete.subject_id.tolist()
    assert f"warning: {12 - len(complete)} subjects lack one of ehr, snp, img" in result.stderr
    assert set(pred.model) == {"ehr+snp+img__deep_concat__final"}
    probs = pred.filter(like="p_").to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    # batching does not change a subject's prediction
    again = tmp_path / "one_batch.csv"
    cli("predict", run_dir, table, "--model", "ehr+snp+img__deep_concat", "--csv", again)
    assert np.allclose(pd.read_csv(again).filter(like="p_").to_numpy(), probs, atol=1e-6)


@pytest.mark.parametrize("method", ["deep_concat", "random_forest"])
def test_predict_reproduces_the_runs_own_external_predictions(cli, final_run, tmp_path, method):
    """The kept model of an external-test cell, through `predict`, gives the predictions the
    run itself made for the external subjects (same model, same encoders, same order)."""
    run_dir, cohort = final_run
    table = _subject_table(cohort, tmp_path / "external.csv", n=30)
    out = tmp_path / "p.csv"
    cell = f"ehr+snp+img__{method}__external"
    result = cli("predict", run_dir, table, "--model", cell, "--csv", out, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out, dtype={"subject": str}).set_index("subject")
    run = pd.read_csv(run_dir / "predictions.csv", dtype={"subject_id": str})
    scenario = run.scenario == "ehr+snp+img"
    run = run[(run.split == "external") & (run.method == method) & scenario]
    run = run.set_index("subject_id")
    assert len(run) > 3 and sorted(pred.index) == sorted(run.index)
    columns = [c for c in run.columns if c.startswith("p_")]
    # float32 networks in batches of 4 here and 64 in the run: summation order differs
    assert np.allclose(pred.loc[run.index, columns], run[columns], atol=1e-5)


def test_predict_with_a_shallow_random_forest_matches_the_kept_model(cli, final_run, tmp_path):
    from fusionkit.experiment.predict import load_model

    run_dir, cohort = final_run
    table = _subject_table(cohort, tmp_path / "new.csv", n=20)
    out = tmp_path / "rf.csv"
    result = cli("predict", run_dir, table, "--model", "ehr__random_forest", "--csv", out)
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out, dtype={"subject": str})
    kept = load_model(run_dir, "ehr__random_forest")
    ehr = pd.read_csv(cohort / "external" / "ehr.csv", dtype={"subject_id": str}).head(20)
    from fusionkit.data.modality import TableData

    frame = ehr.set_index("subject_id")
    frame["sex"] = frame["sex"].astype(str) if "sex" in frame else None
    z = kept.encoders["ehr"].transform(
        TableData(
            "table",
            frame[kept.modalities["ehr"]["columns"]],
            Path("x"),
            kept.modalities["ehr"]["categorical"],
        )
    )
    expected = kept.fitted.model.model_.predict_proba(z)
    assert np.allclose(pred.filter(like="p_").to_numpy(), expected, atol=1e-6)


def test_predict_names_a_missing_column(cli, final_run, tmp_path):
    run_dir, cohort = final_run
    table = _subject_table(cohort, tmp_path / "new.csv")
    frame = pd.read_csv(table).drop(columns=["age"])
    frame.to_csv(table, index=False)
    result = cli("predict", run_dir, table, "--model", "ehr__random_forest")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {table}: column 'age' of modality ehr not found"


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("output", {"checkpoints": True}, "output: output.checkpoints was removed"),
        ("runtime", {"jobs": 2}, "runtime: runtime.jobs was replaced by runtime.executor"),
    ],
)
def test_removed_settings_say_what_replaced_them(
    table_config, write_config, cli, section, value, message
):
    path = write_config(dict(table_config, **{section: value}))
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: {message}")


def test_final_model_of_a_pair_not_run_is_a_config_error(table_config, write_config, cli):
    config = dict(table_config, scenarios=["ehr"])
    config["output"] = {"final_models": [{"scenario": "snp", "method": "logistic_regression"}]}
    result = cli("validate", write_config(config))
    assert result.exit_code == 2
    assert (
        "output.final_models[0].scenario: scenario 'snp' is not one of the run's" in result.stderr
    )


class SkewedExecutor:
    """Runs tasks here, but as another fusionkit version would (a stale worker image)."""

    def __init__(self, params):
        pass

    def run(self, tasks, then=None):
        from fusionkit.executors.base import call
        from fusionkit.experiment import identity
        from fusionkit.experiment import tasks as task_module

        queue = list(tasks)
        while queue:
            task = queue.pop(0)
            real = identity.__version__
            identity.__version__ = "9.9.9"
            task_module._STATES.clear()  # the worker prepares the run itself, as a remote one does
            try:
                result = call(task)
            finally:
                identity.__version__ = real
                task_module._STATES.clear()
            queue += then(task.name, result) if then else []
            yield task.name, result

    def close(self, abort=False):
        pass


def test_results_computed_under_another_identity_are_failures_not_kept(
    table_config, write_config, tmp_path
):
    module = types.ModuleType("skewed")

    @hookimpl
    def register_executors(register):
        register("skewed", SkewedExecutor, description="test executor")

    module.register_executors = register_executors
    get_plugins().add(module, "skewed", "1.0", "test")
    config = dict(table_config, scenarios=["ehr"], runtime={"executor": "skewed"})
    outcome = run_experiment(load_config(write_config(config)), tmp_path / "run")
    # every task ran as another version: encoder outputs are refused, so are the cells on them
    encoders = {k: f for k, f in outcome.failures.items() if k.startswith("encoder ")}
    cells = {k: f for k, f in outcome.failures.items() if not k.startswith("encoder ")}
    assert len(encoders) == 4 and len(cells) == 4 and not outcome.tables.cell_results
    assert all("the executor computed it as" in f.message for f in encoders.values())
    assert all(f.message == "its encoder failed" for f in cells.values())
    assert not (tmp_path / "run" / "cells").exists()


def test_a_worker_that_dies_is_a_failure_not_a_crash():
    import os

    from fusionkit.api import Failure, Task
    from fusionkit.executors.processes import ProcessesParams, ProcessExecutor

    executor = ProcessExecutor(ProcessesParams(workers=1))
    try:
        results = dict(executor.run([Task("dies", os._exit, (3,))]))
    finally:
        executor.close()
    assert isinstance(results["dies"], Failure)
    assert results["dies"].message.startswith("worker process failed: BrokenProcessPool")


@pytest.mark.slow
def test_ray_executor_gives_the_same_bytes_as_local(table_config, write_config, tmp_path):
    pytest.importorskip("ray")
    config = dict(table_config, scenarios=["ehr", "ehr+snp"])
    config["methods"] = [
        {"type": "logistic_regression"},
        {"type": "feature_level", "params": {"features": "encoded"}},
        {"type": "deep_concat", "params": {"train": {"epochs": 3}}},
    ]
    path = write_config(config)
    local = run_experiment(load_config(path), tmp_path / "local")
    ray_config = ["runtime.executor.type=ray", "runtime.executor.params.workers=2"]
    cfg = load_config(path, ray_config)
    path.write_text("not: [the config")  # Ray workers get the prepared run by value
    distributed = run_experiment(cfg, tmp_path / "ray")
    assert not local.failures and not distributed.failures
    assert distributed.cells_run == local.cells_run > 0
    for name in ("results.csv", "summary.csv", "predictions.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


def flaky(counter: str) -> str:
    """Fails on its first call, then succeeds (the counter file survives the worker)."""
    path = Path(counter)
    calls = int(path.read_text()) if path.exists() else 0
    path.write_text(str(calls + 1))
    if calls == 0:
        raise RuntimeError("first attempt fails")
    return f"done after {calls + 1} attempts"


@pytest.mark.slow
def test_ray_executor_retries_a_failed_task_then_reports_it(tmp_path):
    pytest.importorskip("ray")
    import sys

    from ray import cloudpickle

    from fusionkit.api import Failure, Task
    from fusionkit.executors.ray_executor import RayExecutor, RayParams

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    executor = RayExecutor(RayParams(workers=1, max_retries=1))
    try:
        retried = dict(executor.run([Task("flaky", flaky, (str(tmp_path / "a"),))]))
        executor.params = RayParams(workers=1, max_retries=0)
        reported = dict(executor.run([Task("flaky", flaky, (str(tmp_path / "b"),))]))
    finally:
        executor.close()
    assert retried == {"flaky": "done after 2 attempts"}
    assert isinstance(reported["flaky"], Failure)
    assert reported["flaky"].message == "RuntimeError: first attempt fails"


def test_an_oversubscribed_pool_is_a_visible_warning(monkeypatch):
    from fusionkit.api import Task
    from fusionkit.errors import FusionkitWarning
    from fusionkit.executors.processes import ProcessesParams, ProcessExecutor

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    executor = ProcessExecutor(ProcessesParams(workers=2))
    try:
        with pytest.warns(
            FusionkitWarning, match="2 workers x 2 threads on 2 CPUs: oversubscribed"
        ):
            assert len(list(executor.run([Task("t", os.getpid, (), threads=2)]))) == 1
    finally:
        executor.close()


def test_the_task_is_part_of_every_identity(table_config, write_config, monkeypatch):
    """Another version of the task plugin changes every cell's and encoder task's key (their
    numbers were shaped by it), so kept results are not reused across it."""
    from fusionkit.experiment.state import prepare
    from fusionkit.registry import Component

    cfg = load_config(write_config(dict(table_config, scenarios=["ehr", "ehr+snp"])))
    before = prepare(cfg, None)
    real = Component.identity
    monkeypatch.setattr(
        Component, "identity", lambda c: [*real(c)[:3], "9.9"] if c.kind == "task" else real(c)
    )
    after = prepare(cfg, None)
    assert before.keys.keys() == after.keys.keys() and before.keys
    assert all(before.keys[c] != after.keys[c] for c in before.keys)
    assert all(before.encoder_keys[n] != after.encoder_keys[n] for n in before.encoder_keys)
