"""``fusionkit run``: validate a config and run its plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import SetOption, app, handle_input_errors


@app.command("run")
@handle_input_errors
def run_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: output.dir).")
    ] = None,
    set_: SetOption = None,
) -> None:
    """Run the experiment in CONFIG: every scenario x method x fold."""
    from rich.console import Console
    from rich.table import Table

    from fusionkit.config import load_config, scenario_name
    from fusionkit.experiment.planner import make_plan

    cfg = load_config(config, set_ or [])
    plan = make_plan(cfg)
    table = Table(title=f"plan: {cfg.name} -> {cfg.run_dir(out)}")
    table.add_column("scenario")
    for method in plan.methods:
        table.add_column(method, justify="right")
    for scenario in plan.scenarios:
        row = [scenario_name(scenario)]
        row += [str(len(plan.cells_for(scenario, m)) or "-") for m in plan.methods]
        table.add_row(*row)
    console = Console()
    console.print(table)
    folds = f"{plan.folds} fold{'s' if plan.folds > 1 else ''}" + (
        " + external test" if plan.external else ""
    )
    console.print(
        f"{len(plan.scenarios)} scenarios x {len(plan.methods)} methods x {folds}"
        f" = {len(plan.cells)} cells"
    )
    skipped: dict[tuple[str, str], list[str]] = {}
    for scenario, method, reason in plan.skipped:
        skipped.setdefault((method, reason), []).append(scenario)
    for (method, reason), scenarios in skipped.items():
        console.print(f"  skipped {method} on {', '.join(scenarios)}: {reason}", style="dim")
    console.print("Dry run: this version validates the config and prints the plan.")
