"""The plugin manager: built-in plugins and third-party entry points, through the same hooks.

Built-ins are the modules named in `DEFAULT_PLUGINS`; third-party plugins are installed packages
that declare an entry point in the ``fusionkit`` group::

    [project.entry-points.fusionkit]
    extratrees = "fusionkit_extratrees"

Environment variables:

- ``FUSIONKIT_DISABLE_PLUGINS=a,b``: do not load these plugins (entry-point names or built-in
  module names).
- ``FUSIONKIT_STRICT_PLUGINS=1``: a plugin that fails to load is an error instead of a warning.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from fusionkit import __version__, hookspecs
from fusionkit.errors import PluginError
from fusionkit.registry import Component, Registrar, Registry

ENTRY_POINT_GROUP = "fusionkit"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "fusionkit.readers.table",
    "fusionkit.readers.image",
    "fusionkit.readers.genotype_files",
    "fusionkit.datasets.builtin",
    "fusionkit.encoders.raw",
    "fusionkit.encoders.tabular_nets",
    "fusionkit.encoders.cnn",
    "fusionkit.encoders.image_features",
    "fusionkit.encoders.image_autoencoder",
    "fusionkit.fusion.feature_level",
    "fusionkit.fusion.decision_level",
    "fusionkit.fusion.deep_concat",
    "fusionkit.fusion.embedding_fusion",
    "fusionkit.fusion.auto",
    "fusionkit.transforms.ga_enhance",
    "fusionkit.classifiers.sklearn_baselines",
    "fusionkit.classifiers.xgb",
    "fusionkit.executors.local",
    "fusionkit.executors.processes",
    "fusionkit.executors.ray_executor",
    "fusionkit.perturbations",
    "fusionkit.tasks.classification",
)

HOOK_KINDS: dict[str, str] = {
    "register_readers": "reader",
    "register_encoders": "encoder",
    "register_fusions": "fusion",
    "register_classifiers": "classifier",
    "register_transforms": "transform",
    "register_datasets": "dataset",
    "register_executors": "executor",
    "register_perturbations": "perturbation",
    "register_tasks": "task",
}


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped (see ``FUSIONKIT_STRICT_PLUGINS``)."""


@dataclass
class PluginInfo:
    """What `fusionkit plugins` reports about one loaded plugin."""

    name: str
    version: str
    source: str
    hooks: list[str] = field(default_factory=list)
    distribution: str = "fusionkit"


def _env_set(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


def strict_mode() -> bool:
    """Whether ``FUSIONKIT_STRICT_PLUGINS`` asks for plugin failures to be errors."""
    return os.environ.get("FUSIONKIT_STRICT_PLUGINS", "").lower() in {"1", "true", "yes", "on"}


def disabled_plugins() -> set[str]:
    """Plugin names listed in ``FUSIONKIT_DISABLE_PLUGINS``."""
    return _env_set("FUSIONKIT_DISABLE_PLUGINS")


class PluginSet:
    """A pluggy manager with fusionkit's hook specs, and the registry built from its plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.failed: dict[str, str] = {}
        self._registry: Registry | None = None

    # -- loading ---------------------------------------------------------------------------
    def _fail(self, name: str, reason: str) -> None:
        message = f"plugin {name!r} failed to load: {reason}"
        if strict_mode():
            raise PluginError(message)
        self.failed[name] = reason
        warnings.warn(message, PluginWarning, stacklevel=3)

    def add(
        self, plugin: Any, name: str, version: str, source: str, distribution: str = "fusionkit"
    ) -> bool:
        """Register one plugin object; on failure warn (or raise in strict mode) and skip it."""
        if name in disabled_plugins():
            self.pm.set_blocked(name)
            return False
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # a broken plugin must not lock users out
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(name, f"{type(exc).__name__}: {exc}")
            return False
        hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.info[name] = PluginInfo(name, version, source, hooks, distribution)
        self._registry = None
        return True

    def remove(self, name: str) -> None:
        """Unregister a plugin by name (used by tests and embedding applications)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.info.pop(name, None)
        self._registry = None

    def load_builtins(self, modules: Iterable[str] = DEFAULT_PLUGINS) -> None:
        """Import and register the built-in plugin modules."""
        for module_name in modules:
            if module_name in disabled_plugins():
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                self._fail(module_name, f"{type(exc).__name__}: {exc}")
                continue
            self.add(module, module_name, __version__, "built-in")

    def load_entry_points(self) -> None:
        """Load third-party plugins from the ``fusionkit`` entry-point group."""
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            if ep.name in disabled_plugins() or self.pm.get_plugin(ep.name) is not None:
                continue
            dist = getattr(ep, "dist", None)
            version = dist.version if dist is not None else "unknown"
            source = f"entry point {ep.value}" + (f" ({dist.name})" if dist is not None else "")
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(ep.name, f"{type(exc).__name__}: {exc}")
                continue
            self.add(plugin, ep.name, version, source, dist.name if dist is not None else ep.name)

    # -- the registry ---------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """Every component registered by the loaded plugins (built once, then cached)."""
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for name, info in list(self.info.items()):
            # Stage one plugin's components, so a hook that raises half-way adds none of them.
            staged = Registry()
            try:
                for hook_name, kind in HOOK_KINDS.items():
                    caller = getattr(self.pm.hook, hook_name)
                    for impl in caller.get_hookimpls():
                        if impl.plugin_name == name:
                            registrar = Registrar(
                                staged, kind, name, info.version, info.distribution
                            )
                            impl.function(register=registrar)
            except Exception as exc:  # includes invalid registrations (PluginError)
                self._fail(name, f"{type(exc).__name__} while registering: {exc}")
                continue
            component: Component
            for component in staged:
                registry.add(component)
        return registry


_plugins: PluginSet | None = None


def get_plugins() -> PluginSet:
    """The process-wide plugin set: built-ins plus installed entry points, loaded on first use."""
    global _plugins
    if _plugins is None:
        plugins = PluginSet()
        plugins.load_builtins()
        plugins.load_entry_points()
        _plugins = plugins
    return _plugins


def get_registry() -> Registry:
    """The registry of every component of every loaded plugin."""
    return get_plugins().registry


def reset() -> None:
    """Forget loaded plugins, so the next `get_plugins` reloads (e.g. after changing env vars)."""
    global _plugins
    _plugins = None
