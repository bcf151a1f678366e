"""Shared fixtures: a small generated cohort, config writers, a CLI runner, plugin isolation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fusionkit import plugins as plugin_module

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """Each test gets fresh plugin state, no inherited plugin env vars, a private cache."""
    for name in ("FUSIONKIT_DISABLE_PLUGINS", "FUSIONKIT_STRICT_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FUSIONKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    plugin_module.reset()
    yield
    plugin_module.reset()


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory) -> Path:
    """A small synthetic ADNI-like cohort written once per test session (real CSV + NIfTI)."""
    from fusionkit.data.synthetic.adni_like import generate

    out = tmp_path_factory.mktemp("adni_small")
    generate(
        out, seed=3, n_subjects=60, n_external=30, n_snps=40, n_causal=5, image_shape=(10, 12, 10)
    )
    return out


BASE_CONFIG = {
    "name": "tiny",
    "seed": 1,
    "data": {
        "cohort": "cohort.csv",
        "classes": ["CN", "MCI", "AD"],
        "modalities": {
            "ehr": {"kind": "table", "path": "ehr.csv"},
            "snp": {"kind": "genotype", "path": "snp.csv"},
            "img": {"kind": "image", "path": "images/{subject_id}.nii.gz"},
        },
        "external": {"root": "external"},
    },
    "scenarios": "all",
    "methods": [
        {"type": "logistic_regression"},
        {"type": "random_forest", "params": {"n_estimators": 10}},
    ],
    "evaluation": {"cv_folds": 3},
    "runtime": {"threads": 1},  # small tensors: more threads only add synchronisation
}


@pytest.fixture
def base_config(small_cohort) -> dict:
    """A valid config (as a dict) reading the small cohort."""
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    return config


@pytest.fixture
def write_config(tmp_path):
    """Write a config dict (or raw text) to a YAML file and return its path."""

    def write(config: dict | str, name: str = "experiment.yaml") -> Path:
        path = tmp_path / name
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def cli():
    """Invoke the fusionkit CLI in-process; returns the click Result."""
    from fusionkit.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="session")
def known_truth(tmp_path_factory):
    """A run where one modality carries the labels and the other is noise (shared by the
    contribution, robustness and fusion-quality tests: computed once)."""
    import numpy as np
    import pandas as pd

    from fusionkit.config import load_config
    from fusionkit.experiment.runner import run_experiment

    tmp = tmp_path_factory.mktemp("truth")
    rng = np.random.default_rng(0)
    n = 150
    ids = [f"S{i:03d}" for i in range(n)]
    y = np.arange(n) % 3
    classes = np.array(["CN", "MCI", "AD"])
    pd.DataFrame({"subject_id": ids, "diagnosis": classes[y]}).to_csv(
        tmp / "cohort.csv", index=False
    )
    signal = rng.normal(size=(n, 4)) + 2.0 * y[:, None]
    noise = rng.normal(size=(n, 4))
    for name, values in (("signal", signal), ("noise", noise)):
        frame = pd.DataFrame(values, columns=[f"{name}{j}" for j in range(4)])
        frame.insert(0, "subject_id", ids)
        frame.to_csv(tmp / f"{name}.csv", index=False)
    config = {
        "name": "truth",
        "seed": 0,
        "data": {
            "root": str(tmp),
            "classes": ["CN", "MCI", "AD"],
            "modalities": {
                "signal": {"kind": "table", "path": "signal.csv"},
                "noise": {"kind": "table", "path": "noise.csv"},
            },
        },
        "methods": [
            "logistic_regression",
            {"type": "random_forest", "params": {"n_estimators": 50}},
        ],
        "evaluation": {"cv_folds": 3, "contribution": True},
        "runtime": {"threads": 1},
    }
    path = tmp / "truth.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(load_config(path), tmp / "run")
    assert not outcome.failures
    return tmp / "run", outcome


def small_run(tmp_path, cli=None):
    """A quick run of the small synthetic cohort (EHR and SNP columns, two methods)."""
    import copy

    import yaml
    from typer.testing import CliRunner

    from fusionkit.cli import app
    from fusionkit.data.synthetic.adni_like import generate

    data = tmp_path / "data"
    generate(data, seed=3, n_subjects=60, n_external=0, n_snps=40, n_causal=5,
             image_shape=(8, 8, 8))  # fmt: skip
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(data)
    del config["data"]["external"]
    del config["data"]["modalities"]["img"]
    config["encoders"] = {"ehr": "raw", "snp": "raw"}
    config["methods"] = ["logistic_regression", "feature_level"]
    config["evaluation"] = {"cv_folds": 3}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return (out, result) if cli else out
