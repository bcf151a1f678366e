"""``fusionkit plugins``: every registered component and the plugin it comes from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fusionkit.cli.app import app, handle_input_errors


@app.command("plugins")
@handle_input_errors
def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every registered component: name, kind, plugin, version, description."""
    from fusionkit.plugins import get_plugins

    plugins = get_plugins()
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
