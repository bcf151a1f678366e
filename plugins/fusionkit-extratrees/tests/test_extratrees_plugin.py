"""The plugin is found through its installed entry point, passes fusionkit's conformance
checks, and its components run in a real `fusionkit run`."""

import importlib.metadata
import json

import pandas as pd
import yaml
from typer.testing import CliRunner

from fusionkit.cli import app
from fusionkit.plugins import PluginSet
from fusionkit.testing import parametrize_with_checks


# --8<-- [start:registry]
def _registry():
    plugins = PluginSet()
    plugins.load_entry_points()  # no built-ins, no direct import of the package
    return plugins


# --8<-- [end:registry]


def test_entry_point_is_installed():
    eps = importlib.metadata.entry_points(group="fusionkit")
    assert "extratrees" in {ep.name for ep in eps}, "install with: pip install ./plugins/..."


def test_found_through_entry_point_not_direct_import():
    plugins = _registry()
    component = plugins.registry.get("classifier", "extra_trees")
    assert component.plugin == "extratrees"
    assert component.distribution == "fusionkit-extratrees"
    assert component.version == importlib.metadata.version("fusionkit-extratrees")
    assert plugins.info["extratrees"].source.startswith("entry point fusionkit_extratrees")


def test_listed_by_cli():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    rows = {(c["kind"], c["name"]): c for c in json.loads(result.stdout)["components"]}
    assert rows[("classifier", "hist_gradient_boosting")]["plugin"] == "extratrees"
    assert rows[("fusion", "gated_linear")]["tags"] == {"needs_embeddings": True}
    assert rows[("encoder", "pca")]["modalities"] == ["genotype", "table"]


# --8<-- [start:conformance]
REGISTRY = _registry().registry


@parametrize_with_checks(
    [
        REGISTRY.get("classifier", "extra_trees"),
        REGISTRY.get("classifier", "hist_gradient_boosting"),
        (REGISTRY.get("encoder", "pca"), {"n_components": 3}),
        (REGISTRY.get("fusion", "gated_linear"), {"train": {"epochs": 10}}),
    ]
)
def test_conformance(check):  # one test per check: every failing check shows at once
    check()


# --8<-- [end:conformance]


def test_gated_fusion_of_pca_encoders_runs(tmp_path):
    from fusionkit.data.synthetic.adni_like import generate

    generate(
        tmp_path / "data",
        seed=1,
        n_subjects=60,
        n_external=0,
        n_snps=30,
        n_causal=5,
        image_shape=(8, 8, 8),
    )
    config = {
        "name": "plugin_run",
        "data": {
            "root": str(tmp_path / "data"),
            "classes": ["CN", "MCI", "AD"],
            "modalities": {
                "ehr": {"kind": "table", "path": "ehr.csv"},
                "snp": {"kind": "genotype", "path": "snp.csv"},
            },
        },
        "encoders": {"ehr": {"type": "pca", "params": {"n_components": 4}}, "snp": "pca"},
        "scenarios": ["ehr+snp"],
        "methods": [{"type": "gated_linear", "params": {"train": {"epochs": 20}}}, "extra_trees"],
        "evaluation": {"cv_folds": 3},
        "runtime": {"threads": 1},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    checked = CliRunner().invoke(app, ["validate", str(path)])
    assert checked.exit_code == 0, checked.output
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert set(summary.method) == {"gated_linear", "extra_trees"}
    assert summary.f1_macro_mean.notna().all()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    versions = {c["name"]: c["version"] for c in manifest["components"]}
    assert versions["gated_linear"] == importlib.metadata.version("fusionkit-extratrees")
