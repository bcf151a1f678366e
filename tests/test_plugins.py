"""Plugin discovery, isolation of broken plugins, duplicate names, disabling, strict mode."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings

import pytest
from pydantic import BaseModel

from fusionkit import hookimpl
from fusionkit.errors import PluginError
from fusionkit.plugins import DEFAULT_PLUGINS, PluginSet, PluginWarning, get_plugins

BUILTIN_CLASSIFIERS = {
    "logistic_regression",
    "svm",
    "random_forest",
    "knn",
    "decision_tree",
    "xgboost",
}


def make_plugin(name: str, component: str = "my_clf", fail: bool = False) -> types.ModuleType:
    """A plugin module object registering one classifier (or raising while registering)."""
    module = types.ModuleType(name)

    class Params(BaseModel):
        depth: int = 1

    @hookimpl
    def register_classifiers(register):
        if fail:
            raise RuntimeError("boom")
        register(
            component,
            lambda params, seed=0: None,
            params=Params,
            description="A test classifier.",
            modalities=("table",),
        )

    module.register_classifiers = register_classifiers
    return module


def test_builtins_go_through_the_same_hooks():
    plugins = get_plugins()
    registry = plugins.registry
    assert set(registry.names("classifier")) >= BUILTIN_CLASSIFIERS
    assert {"table", "genotype", "image"} <= set(registry.names("reader"))
    assert {"adni_like", "imaging_5class"} <= set(registry.names("dataset"))
    for module in DEFAULT_PLUGINS:
        assert plugins.info[module].source == "built-in"
        assert plugins.info[module].hooks, f"{module} implements no hook"


def test_registered_plugin_object_is_found_and_can_be_removed():
    plugins = get_plugins()
    plugins.add(make_plugin("extra"), "extra", "9.9", "test")
    component = plugins.registry.get("classifier", "my_clf")
    assert (component.plugin, component.version, component.modalities) == (
        "extra",
        "9.9",
        frozenset({"table"}),
    )
    plugins.remove("extra")
    assert not plugins.registry.has("classifier", "my_clf")


def test_plugin_raising_during_registration_is_skipped_with_a_warning():
    plugins = get_plugins()
    plugins.add(make_plugin("broken", "broken_clf", fail=True), "broken", "1", "test")
    with pytest.warns(PluginWarning, match="plugin 'broken' failed to load: RuntimeError"):
        registry = plugins.registry
    assert not registry.has("classifier", "broken_clf")
    assert set(registry.names("classifier")) >= BUILTIN_CLASSIFIERS  # the rest still works


def test_plugin_failing_to_import_warns_and_everything_else_works(cli):
    plugins = PluginSet()
    with pytest.warns(PluginWarning, match=r"'fusionkit\.no_such_plugin' failed to load"):
        plugins.load_builtins(("fusionkit.no_such_plugin", *DEFAULT_PLUGINS))
    assert plugins.failed and "ModuleNotFoundError" in plugins.failed["fusionkit.no_such_plugin"]
    assert set(plugins.registry.names("classifier")) >= BUILTIN_CLASSIFIERS


def test_strict_mode_turns_a_broken_plugin_into_an_error(monkeypatch):
    monkeypatch.setenv("FUSIONKIT_STRICT_PLUGINS", "1")
    plugins = PluginSet()
    with pytest.raises(PluginError, match=r"'fusionkit\.no_such_plugin' failed to load"):
        plugins.load_builtins(("fusionkit.no_such_plugin",))


def test_misspelled_hook_name_is_rejected():
    module = types.ModuleType("typo")

    @hookimpl
    def register_clasifiers(register):  # one 's' missing
        pass

    module.register_clasifiers = register_clasifiers
    plugins = PluginSet()
    with pytest.warns(PluginWarning, match="unknown hook 'register_clasifiers'"):
        assert not plugins.add(module, "typo", "1", "test")
    assert "typo" not in plugins.info


def test_two_plugins_registering_one_name_is_an_error_naming_both():
    plugins = PluginSet()
    plugins.add(make_plugin("first", "same_name"), "first", "1", "test")
    plugins.add(make_plugin("second", "same_name"), "second", "1", "test")
    with pytest.raises(
        PluginError, match="'same_name' is registered by two plugins: 'first' and 'second'"
    ):
        _ = plugins.registry


def test_duplicate_name_exits_2_in_the_cli(cli):
    get_plugins().add(make_plugin("clash", "svm"), "clash", "1", "test")
    result = cli("plugins")
    assert result.exit_code == 2
    assert "classifier 'svm' is registered by two plugins" in result.stderr


def test_disable_plugins_env_var(monkeypatch):
    monkeypatch.setenv("FUSIONKIT_DISABLE_PLUGINS", "fusionkit.classifiers.xgb, extratrees")
    registry = get_plugins().registry
    assert not registry.has("classifier", "xgboost")
    assert not registry.has("classifier", "extra_trees")
    assert registry.has("classifier", "svm")


def test_plugins_json_lists_builtins_and_the_example_plugin(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    rows = {(c["kind"], c["name"]): c for c in payload["components"]}
    for name in BUILTIN_CLASSIFIERS:
        assert rows[("classifier", name)]["plugin"].startswith("fusionkit.")
    assert rows[("classifier", "extra_trees")]["plugin"] == "extratrees"
    assert set(rows[("classifier", "svm")]) == {
        "name",
        "kind",
        "plugin",
        "version",
        "distribution",
        "description",
        "modalities",
        "tags",
    }


def test_plugins_text_output_names_every_component(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    for name in BUILTIN_CLASSIFIERS | {"adni_like", "image"}:
        assert f"  {name} " in result.stdout


def test_registrar_rejects_bad_registrations():
    plugins = PluginSet()
    module = types.ModuleType("bad")

    @hookimpl
    def register_encoders(register):
        register("Bad Name", lambda p: None, description="x")

    module.register_encoders = register_encoders
    plugins.add(module, "bad", "1", "test")
    with pytest.warns(PluginWarning, match="name must be lower_snake_case"):
        assert len(plugins.registry) == 0


CHECK_IMPORTS = """
import sys
import fusionkit.cli
from fusionkit.plugins import get_registry
from fusionkit.config import load_config
get_registry()
heavy = sorted(m for m in ("torch", "monai", "xgboost", "sklearn") if m in sys.modules)
print(",".join(heavy))
"""


def test_cli_and_registry_import_no_heavy_library():
    out = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_validate_imports_no_torch(small_cohort, base_config, write_config):
    path = write_config(base_config)
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom fusionkit.cli import app\n"
        f"r = CliRunner().invoke(app, ['validate', {str(path)!r}])\n"
        "assert r.exit_code == 0, r.output\nprint('torch' in sys.modules, 'monai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_no_warnings_from_a_clean_plugin_set():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(PluginSet().registry) == 0
        plugins = get_plugins()
        assert len(plugins.registry) > 0
