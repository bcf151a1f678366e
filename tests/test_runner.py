"""The comparison engine end to end on a small cohort: outputs, resume, determinism, no leakage."""

from __future__ import annotations

import copy
import shutil
import types

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from fusionkit import hookimpl
from fusionkit.config import load_config
from fusionkit.experiment.runner import run_experiment
from fusionkit.experiment.state import prepare
from fusionkit.plugins import get_plugins

TINY_TRAIN = {"epochs": 3, "batch_size": 8, "patience": 2}


@pytest.fixture(scope="module")
def run_config(small_cohort, tmp_path_factory):
    from tests.conftest import BASE_CONFIG

    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    config["encoders"] = {
        "ehr": {"type": "mlp", "params": {"hidden": [8], "train": TINY_TRAIN}},
        "snp": {
            "type": "denoising_autoencoder",
            "params": {"hidden": [8], "pretrain_epochs": 2, "train": TINY_TRAIN},
        },
        "img": {"type": "resnet10", "params": {"widen_factor": 0.125, "train": TINY_TRAIN}},
    }
    config["methods"] = [
        {"type": "logistic_regression"},
        {"name": "fl", "type": "feature_level", "params": {"features": "encoded"}},
        {
            "name": "dl",
            "type": "decision_level",
            "params": {"features": "encoded", "combine": "stacking"},
        },
        {"name": "deep", "type": "deep_concat", "params": {"train": TINY_TRAIN}},
    ]
    config["runtime"] = {"threads": 1}
    path = tmp_path_factory.mktemp("cfg") / "run.yaml"
    import yaml

    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def first_run(run_config, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "first"
    outcome = run_experiment(load_config(run_config), run_dir)
    assert not outcome.failures, outcome.failures
    return run_dir, outcome


def test_writes_every_output(first_run):
    run_dir, outcome = first_run
    for name in (
        "results.csv",
        "summary.csv",
        "predictions.csv",
        "manifest.json",
        "report.md",
        "report.html",
        "intervals.csv",
        "comparison.csv",
        "figures/forest.png",
        "figures/confusion.png",
        "figures/roc.png",
        "figures/calibration.png",
    ):
        assert (run_dir / name).is_file(), name
    results = pd.read_csv(run_dir / "results.csv")
    assert list(results.columns) == [
        "scenario", "method", "split", "repeat", "fold", "metric", "value"
    ]  # fmt: skip
    folds = outcome.state.config.evaluation.cv_folds
    assert set(results[results.split == "cv"].fold) == set(range(folds))  # numeric folds
    assert results[results.split == "external"].fold.isna().all()
    assert set(results.split) == {"cv", "external"}
    per_class = pd.read_csv(run_dir / "per_class.csv")
    assert set(per_class["class"]) == {"CN", "MCI", "AD"}
    assert {"recall", "specificity", "support"} <= set(per_class.metric)
    summary = pd.read_csv(run_dir / "summary.csv")
    assert summary.scenario.nunique() == 7
    assert set(summary.method) == {"logistic_regression", "fl", "dl", "deep"}
    for metric in (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "specificity",
        "f1_macro",
        "auroc",
    ):
        for suffix in ("mean", "std", "external"):
            assert f"{metric}_{suffix}" in summary.columns
    assert summary[["f1_macro_mean", "f1_macro_external"]].notna().all().all()
    # a shallow baseline sees an MRI through its handcrafted image features
    assert summary[summary.method == "logistic_regression"].scenario.nunique() == 7
    assert outcome.encoder_trainings < outcome.encoder_uses  # the cache was used
    report = (run_dir / "report.md").read_text()
    assert "| ehr+snp+img | deep |" in report and "figures/forest.png" in report
    assert report.index("## The answer") < report.index("## Summary")
    assert "| ehr | fl † |" in report  # a fusion strategy on one modality is marked


def test_predictions_are_out_of_fold(first_run, run_config):
    run_dir, _ = first_run
    predictions = pd.read_csv(run_dir / "predictions.csv")
    cv = predictions[
        (predictions.split == "cv") & (predictions.scenario == "ehr") & (predictions.method == "fl")
    ]
    state = prepare(load_config(run_config), run_dir)
    assert sorted(cv.subject_id) == sorted(state.cohort.ids)  # each subject tested once
    probs = cv.filter(like="p_").to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_rerun_reuses_everything_and_writes_the_same_bytes(first_run, run_config):
    run_dir, _ = first_run
    before = (run_dir / "results.csv").read_bytes()
    outcome = run_experiment(load_config(run_config), run_dir)
    assert outcome.cells_run == 0 and outcome.encoder_trainings == 0
    assert outcome.cells_reused == len(outcome.state.plan.cells)
    assert (run_dir / "results.csv").read_bytes() == before


def test_killed_run_resumes_to_the_same_results(first_run, run_config, tmp_path):
    run_dir, _ = first_run
    copy_dir = tmp_path / "resumed"
    shutil.copytree(run_dir, copy_dir)
    cells = sorted((copy_dir / "cells").glob("*.json"))
    lost = cells[::2]
    for path in lost:  # as if the run had been killed before these cells finished
        path.unlink()
    (copy_dir / "cells" / cells[1].name).write_text('{"truncated": ')  # a damaged file
    for path in list((copy_dir / "cache" / "encoders").glob("*img*"))[:2]:
        path.unlink()
    outcome = run_experiment(load_config(run_config), copy_dir)
    assert outcome.cells_run == len(lost) + 1
    assert (copy_dir / "results.csv").read_bytes() == (run_dir / "results.csv").read_bytes()


@pytest.mark.slow
def test_same_config_and_seed_same_bytes_with_two_processes(first_run, run_config, tmp_path):
    """The full scenario's cells (every modality, every method) computed in two worker
    processes give the rows of the one-process run, byte for byte."""
    run_dir, _ = first_run
    config = load_config(run_config, ["scenarios=[ehr+snp+img]"])
    outcome = run_experiment(config, tmp_path / "again", fresh=True, jobs=2)
    assert not outcome.failures

    def rows(path):
        return [line for line in path.read_text().splitlines() if line.startswith("ehr+snp+img,")]

    again = rows(tmp_path / "again" / "results.csv")
    assert again and again == rows(run_dir / "results.csv")


def test_other_seed_other_results(first_run, run_config, tmp_path):
    run_dir, _ = first_run
    config = load_config(run_config, ["seed=2", "scenarios=[ehr]"])
    run_experiment(config, tmp_path / "seed2")
    a = pd.read_csv(run_dir / "results.csv").query("scenario == 'ehr'")
    b = pd.read_csv(tmp_path / "seed2" / "results.csv")
    assert not np.array_equal(a.value.to_numpy(), b.value.to_numpy())


# -- leakage ------------------------------------------------------------------------------------
FIT_CALLS: list[list[str]] = []


class SpyParams(BaseModel):
    pass


class SpyEncoder:
    """Records which subjects it is fitted on; embeds a table's numeric columns."""

    def __init__(self, params):
        self.params = params

    def fit(self, data, y, ctx=None):
        FIT_CALLS.append(list(data.ids))
        self.columns_ = [c for c in data.columns if c not in data.categorical][:5]
        self.median_ = data.frame[self.columns_].median()
        return self

    def transform(self, data):
        return data.frame[self.columns_].fillna(self.median_).to_numpy(np.float32)

    def get_state(self):
        return {"columns": self.columns_, "median": self.median_.to_numpy()}

    def set_state(self, state):
        self.columns_ = state["columns"]
        self.median_ = pd.Series(state["median"], index=self.columns_)


@pytest.fixture
def spy_plugin():
    module = types.ModuleType("spy")

    @hookimpl
    def register_encoders(register):
        register(
            "spy",
            SpyEncoder,
            params=SpyParams,
            description="Records fit subjects.",
            modalities=("table",),
        )

    module.register_encoders = register_encoders
    get_plugins().add(module, "spy", "0", "test")
    FIT_CALLS.clear()
    yield
    get_plugins().remove("spy")


def test_nothing_is_fitted_on_test_subjects(spy_plugin, base_config, write_config, tmp_path):
    config = copy.deepcopy(base_config)
    config["encoders"] = {"ehr": {"type": "spy"}}
    config["scenarios"] = ["ehr"]
    config["methods"] = [
        {"type": "feature_level", "params": {"features": "encoded"}},
        {"type": "deep_concat", "params": {"train": TINY_TRAIN}},
    ]
    cfg = load_config(write_config(config))
    run_experiment(cfg, tmp_path / "spy")
    state = prepare(cfg, tmp_path / "spy")
    ids = np.array(state.cohort.ids)
    train_sets = {frozenset(ids[f.train]) for f in state.folds} | {frozenset(ids)}
    assert len(FIT_CALLS) == len(state.folds) + 1  # once per fold + whole cohort, then cached
    external = set(state.external.ids)
    for fitted in FIT_CALLS:
        assert frozenset(fitted) in train_sets
        assert not set(fitted) & external
    for fold in state.folds:
        assert frozenset(ids[fold.train]) in {frozenset(f) for f in FIT_CALLS}


def test_bad_input_writes_nothing(cli, base_config, write_config, small_cohort, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_cohort, data)
    victim = sorted((data / "images").glob("*.nii.gz"))[0]
    victim.write_bytes(b"not a nifti")
    config = copy.deepcopy(base_config)
    config["data"]["root"] = str(data)
    out = tmp_path / "run"
    result = cli("run", write_config(config), "--out", out)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {victim}: cannot read as NIFTI")
    assert not out.exists()


def test_whole_cohort_network_is_kept_for_transfer_learning(first_run, small_cohort):
    """models/<modality>-<encoder>.pt of one run is a valid `weights:` for another."""
    import torch

    from fusionkit.encoders.cnn import CNNParams, ResNet10Encoder

    run_dir, _ = first_run
    saved = run_dir / "models" / "img-resnet10.pt"
    assert saved.is_file()
    state = torch.load(saved, weights_only=True)
    encoder = ResNet10Encoder(CNNParams(widen_factor=0.125, weights=str(saved)))
    example = torch.zeros((2, 1, 10, 12, 10))
    backbone, _ = encoder.make_backbone(example)
    for name, value in backbone.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_unusable_weights_file_is_a_one_line_error(tmp_path):
    import torch

    from fusionkit.encoders.cnn import CNNParams, ResNet10Encoder
    from fusionkit.errors import DataError

    bad = tmp_path / "other.pt"
    torch.save({"something.else": torch.zeros(3)}, bad)
    encoder = ResNet10Encoder(CNNParams(widen_factor=0.125, weights=str(bad)))
    with pytest.raises(DataError, match=r"other\.pt: no weights match this network"):
        encoder.make_backbone(torch.zeros((2, 1, 10, 12, 10)))
    encoder = ResNet10Encoder(CNNParams(weights=str(tmp_path / "missing.pt")))
    with pytest.raises(DataError, match=r"missing\.pt: weights file not found"):
        encoder.make_backbone(torch.zeros((2, 1, 10, 12, 10)))


def test_cnn_embeddings_feed_a_shallow_classifier(base_config, write_config, tmp_path):
    """HAIM-style: a CNN encoder per fold, XGBoost on its embeddings, end to end."""
    config = copy.deepcopy(base_config)
    config["encoders"] = {
        "img": {"type": "resnet10", "params": {"widen_factor": 0.125, "train": TINY_TRAIN}}
    }
    config["scenarios"] = ["img"]
    config["methods"] = [
        {
            "name": "cnn_xgb",
            "type": "feature_level",
            "params": {
                "features": "encoded",
                "classifier": {"type": "xgboost", "params": {"n_estimators": 20}},
            },
        },
        {"type": "random_forest", "params": {"n_estimators": 20}},  # on image_features
    ]
    outcome = run_experiment(load_config(write_config(config)), tmp_path / "haim")
    assert not outcome.failures
    summary = pd.read_csv(tmp_path / "haim" / "summary.csv")
    assert set(summary.method) == {"cnn_xgb", "random_forest"}
    assert summary.f1_macro_mean.notna().all()
    assert {t.split("-")[1] for t in outcome.timings if t.startswith("encoder:")} == {
        "resnet10",
        "image_features",
    }


def test_available_policy_keeps_every_subject(base_config, write_config, tmp_path):
    """`missing: available`: a subject without SNPs is still trained on and scored on its EHR."""
    config = copy.deepcopy(base_config)
    config["scenarios"] = ["ehr+snp"]
    config["methods"] = [
        {"type": "logistic_regression"},
        {"name": "late", "type": "decision_level", "params": {"combine": "mean"}},
    ]
    config["evaluation"] = {"cv_folds": 3, "missing": "available", "external": False}
    cfg = load_config(write_config(config))
    outcome = run_experiment(cfg, tmp_path / "available")
    assert not outcome.failures
    summary = pd.read_csv(tmp_path / "available" / "summary.csv")
    n = len(outcome.state.cohort.ids)
    assert (summary.n_subjects == n).all() and (summary.missing == "available").all()
    predictions = pd.read_csv(tmp_path / "available" / "predictions.csv")
    assert predictions.groupby("method").subject_id.nunique().eq(n).all()


def test_comparison_csv_matches_a_direct_computation(first_run):
    """The best fusion's row of comparison.csv, recomputed from predictions.csv: per fold,
    macro-F1 of both sides on the subjects both scored, then the corrected resampled t-test
    (Nadeau and Bengio 2003) written out by hand."""
    from scipy import stats
    from sklearn.metrics import f1_score

    run_dir, outcome = first_run
    comparison = pd.read_csv(run_dir / "comparison.csv")
    best = comparison[comparison.comparison == "best fusion"].iloc[0]
    summary = pd.read_csv(run_dir / "summary.csv")
    multi = summary[summary.scenario.str.contains("+", regex=False)]
    single = summary[~summary.scenario.str.contains("+", regex=False)]
    top = multi.loc[multi.f1_macro_mean.idxmax()]
    assert best.fusion == f"{top.scenario} x {top.method}"
    top_single = single.loc[single.f1_macro_mean.idxmax()]
    assert best.single == f"{top_single.scenario} x {top_single.method}"

    predictions = pd.read_csv(run_dir / "predictions.csv")
    cv = predictions[predictions.split == "cv"]

    def side(label):
        scenario, method = label.split(" x ")
        return cv[(cv.scenario == scenario) & (cv.method == method)]

    a, b = side(best.fusion), side(best.single)
    diffs = []
    for fold in sorted(a.fold.unique()):
        fa, fb = a[a.fold == fold], b[b.fold == fold]
        shared = set(fa.subject_id) & set(fb.subject_id)
        fa, fb = fa[fa.subject_id.isin(shared)], fb[fb.subject_id.isin(shared)]
        labels = sorted(set(fa.y_true))
        f1a = f1_score(fa.y_true, fa.y_pred, labels=labels, average="macro", zero_division=0)
        f1b = f1_score(fb.y_true, fb.y_pred, labels=labels, average="macro", zero_division=0)
        diffs.append(f1a - f1b)
    d = np.array(diffs)
    k = outcome.state.config.evaluation.cv_folds
    se = np.sqrt((1 / len(d) + 1 / (k - 1)) * d.var(ddof=1))
    t = stats.t.ppf(0.975, len(d) - 1)
    assert best.difference == pytest.approx(d.mean(), abs=1e-6)
    assert best.ci_low == pytest.approx(d.mean() - t * se, abs=1e-6)
    assert best.ci_high == pytest.approx(d.mean() + t * se, abs=1e-6)
    p = 2 * stats.t.sf(abs(d.mean() / se), len(d) - 1)
    assert best.p_corrected_t == pytest.approx(p, abs=1e-6)
    assert best.boot_low <= best.difference <= best.boot_high or best.difference == 0


def test_intervals_fold_t_interval_and_bootstrap(first_run):
    from scipy import stats
    from sklearn.metrics import f1_score

    from fusionkit.config import DataConfig
    from fusionkit.outputs.comparison import bootstrap_interval
    from fusionkit.tasks.classification import Classification

    table = {"kind": "table", "path": "t.csv"}
    run_dir, _ = first_run
    intervals = pd.read_csv(run_dir / "intervals.csv")
    results = pd.read_csv(run_dir / "results.csv")
    row = intervals[(intervals.scenario == "ehr+snp") & (intervals.method == "fl")]
    row = row[row.split == "cv"].iloc[0]
    values = results[
        (results.scenario == "ehr+snp")
        & (results.method == "fl")
        & (results.split == "cv")
        & (results.metric == "f1_macro")
    ].value
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    assert row.fold_low == pytest.approx(values.mean() - half, abs=1e-6)
    assert row.fold_high == pytest.approx(values.mean() + half, abs=1e-6)
    assert row.boot_low < row.pooled < row.boot_high
    # the vectorised bootstrap statistic agrees with scikit-learn resample by resample
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 80)
    proba = rng.dirichlet([1, 1, 1], 80)
    proba[np.arange(80), y] += 0.4
    task = Classification(data=DataConfig(classes=["a", "b", "c"], modalities={"t": table}))
    ours = bootstrap_interval(task, y, [proba], "f1_macro", seed=5, resamples=300)
    theirs = stats.bootstrap(
        (np.arange(80),),
        lambda i: f1_score(y[i], proba[i].argmax(1), average="macro"),
        n_resamples=300,
        vectorized=False,
        method="percentile",
        random_state=np.random.default_rng(5),
    ).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=1e-9)
