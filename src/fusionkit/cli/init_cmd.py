"""``fusionkit init``: write a first, commented config for a folder of data files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import app, handle_input_errors
from fusionkit.errors import DataError


@app.command("init")
@handle_input_errors
def init_command(
    data_dir: Annotated[Path, typer.Argument(help="Folder with the cohort table and data.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Config file to write (default: NAME.yaml).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Experiment name (default: the folder's).")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="The cohort's label column (default: found).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="The subject id column (default: found).")
    ] = None,
) -> None:
    """Look through DATA_DIR (cohort table, modality tables, genotypes, image folders, an
    external cohort) and write a starting config with a comment on every choice."""
    from fusionkit.files import write_atomic
    from fusionkit.starter import config_text, draft

    name = name or re.sub(r"[^0-9a-zA-Z_]+", "_", data_dir.resolve().name).strip("_") or "study"
    target = out or Path(f"{name}.yaml")
    if target.exists():
        raise DataError(f"{target}: already exists; choose another --out")
    found = draft(data_dir, label, id_column)
    write_atomic(target, config_text(found, name).encode())
    print(f"{target}: written")
    print(f"  cohort      {found.cohort} (id {found.id_column}, label {found.label_column})")
    print(f"  classes     {', '.join(found.classes)}")
    for modality, spec in found.modalities.items():
        print(f"  {modality:<11} {spec['kind']}: {spec['path']}")
    if found.external:
        print(f"  external    {found.external}/")
    for skipped in found.skipped:
        print(f"  left out    {skipped}")
    print(f"next: fusionkit validate {target} && fusionkit run {target}")
