"""``fusionkit schema``: the config's JSON schema, for completion and checks in an editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import app, handle_input_errors
from fusionkit.errors import DataError


@app.command("schema")
@handle_input_errors
def schema_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: print).")
    ] = None,
) -> None:
    """Print (or write) the JSON schema of an experiment config. Components' ``params`` are
    free-form there; `fusionkit plugins NAME` lists them, and `validate` checks them."""
    from fusionkit.config import ExperimentConfig
    from fusionkit.files import write_atomic

    text = json.dumps(ExperimentConfig.model_json_schema(), indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    if out.exists():
        raise DataError(f"{out}: already exists; choose another --out")
    write_atomic(out, text.encode())
    print(f"{out}: written (point your editor's YAML schema setting at it)")
