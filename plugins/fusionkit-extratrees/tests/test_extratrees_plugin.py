"""The plugin is found through its installed entry point and passes fusionkit's checks."""

import importlib.metadata
import json

import pytest
from typer.testing import CliRunner

from fusionkit.cli import app
from fusionkit.plugins import PluginSet
from fusionkit.testing import check_classifier


def test_entry_point_is_installed():
    eps = importlib.metadata.entry_points(group="fusionkit")
    assert "extratrees" in {ep.name for ep in eps}, "install with: pip install ./plugins/..."


def test_found_through_entry_point_not_direct_import():
    plugins = PluginSet()
    plugins.load_entry_points()  # no built-ins, no direct import of the package
    component = plugins.registry.get("classifier", "extra_trees")
    assert component.plugin == "extratrees"
    assert component.version == importlib.metadata.version("fusionkit-extratrees")
    assert plugins.info["extratrees"].source.startswith("entry point fusionkit_extratrees")


def test_listed_by_cli():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    rows = {c["name"]: c for c in json.loads(result.stdout)["components"]}
    assert rows["hist_gradient_boosting"]["plugin"] == "extratrees"


@pytest.mark.parametrize("name", ["extra_trees", "hist_gradient_boosting"])
def test_conformance(name):
    plugins = PluginSet()
    plugins.load_entry_points()
    check_classifier(plugins.registry.get("classifier", name))
