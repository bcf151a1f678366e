"""``fusionkit validate``: check a config without touching data or importing torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import SetOption, app, handle_input_errors


@app.command("validate")
@handle_input_errors
def validate_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: SetOption = None,
) -> None:
    """Validate CONFIG: exit 0 with a short summary, or exit 2 with one line per problem."""
    from fusionkit.config import load_config, scenario_name
    from fusionkit.experiment.planner import make_plan

    cfg = load_config(config, set_ or [])
    plan = make_plan(cfg)
    data = cfg.data
    source = f"dataset {data.dataset.type}" if data.dataset else f"files under {data.root or '.'}"
    modalities = ", ".join(
        f"{name} ({m.kind}, {m.reader.type})"  # type: ignore[union-attr]
        for name, m in data.modalities.items()
    )
    print(f"{config}: valid")
    print(f"  experiment  {cfg.name} (seed {cfg.seed})")
    print(f"  data        {source}; classes {', '.join(data.classes)}")
    print(f"  modalities  {modalities}")
    print(f"  scenarios   {', '.join(scenario_name(s) for s in plan.scenarios)}")
    print(f"  methods     {', '.join(plan.methods)}")
    per = " per group" if cfg.evaluation.scheme == "leave_out" else ""
    print(f"  cells       {len(plan.cells)}{per}")
