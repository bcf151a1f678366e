"""``fusionkit plugins``: every registered component and the plugin it comes from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fusionkit.cli.app import app, handle_input_errors


def show_component(registry, name: str, as_json: bool) -> None:
    """Every component called ``name`` (any kind): its params, flattened, with defaults."""
    from dataclasses import asdict

    from fusionkit.errors import ConfigError
    from fusionkit.reference import fields

    found = [c for c in registry if c.name == name]
    if not found:
        known = ", ".join(sorted({c.name for c in registry}))
        raise ConfigError(f"no component named {name!r} (known: {known})")
    if as_json:
        payload = [{**c.as_dict(), "params": [asdict(r) for r in fields(c.params)]} for c in found]
        print(json.dumps(payload, indent=2))
        return
    for component in found:
        info = component.as_dict()
        print(f"{info['kind']} {component.name}: {info['description']}")
        print(f"  plugin {info['plugin']} {info['version']}")
        rows = fields(component.params)
        if not rows:
            print("  no params")
        width = max((len(r.path) for r in rows), default=0)
        for r in rows:
            print(f"  {r.path:<{width}}  {r.type} = {r.default}")
            if r.description:
                print(f"  {'':<{width}}    {r.description}")


@app.command("plugins")
@handle_input_errors
def plugins_command(
    name: Annotated[
        str | None, typer.Argument(help="Show this component's params and defaults.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every registered component (name, kind, plugin, version, description), or one
    component's params with their types, defaults and descriptions."""
    from fusionkit.plugins import get_plugins

    plugins = get_plugins()
    if name is not None:
        show_component(plugins.registry, name, as_json)
        return
    components = [c.as_dict() for c in plugins.registry]
    if as_json:
        payload = {
            "components": components,
            "plugins": [vars(info) for info in plugins.info.values()],
            "failed": plugins.failed,
        }
        print(json.dumps(payload, indent=2))
        return
    width = max((len(c["name"]) for c in components), default=0)
    kind = None
    for c in components:
        if c["kind"] != kind:
            kind = c["kind"]
            print(f"{kind}s:")
        print(f"  {c['name']:<{width}}  {c['description']}  [{c['plugin']} {c['version']}]")
    for name, reason in plugins.failed.items():
        print(f"failed: {name}: {reason}")
