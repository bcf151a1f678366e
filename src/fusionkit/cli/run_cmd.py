"""``fusionkit run``: validate a config, run every cell, write tables and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import SetOption, app, err, handle_input_errors


def print_plan(console, state) -> None:
    """The plan: methods, cells per scenario, and what is skipped and why."""
    from fusionkit.config import scenario_name

    plan, cfg = state.plan, state.config
    console.print(f"plan: {cfg.name} -> {state.run_dir}")
    console.print(f"  methods: {', '.join(plan.methods)}")
    width = max((len(scenario_name(s)) for s in plan.scenarios), default=0)
    for scenario in plan.scenarios:
        ran = [m for m in plan.methods if plan.cells_for(scenario, m)]
        cells = sum(len(plan.cells_for(scenario, m)) for m in ran)
        console.print(
            f"  {scenario_name(scenario):<{width}}  {len(ran)} of {len(plan.methods)} methods,"
            f" {cells} cells"
        )
    folds = f"{plan.folds} fold{'s' if plan.folds > 1 else ''}" + (
        " + external test" if plan.external else ""
    )
    if state.scheme.kind == "leave_out":
        folds = f"{plan.folds} folds (one per value of {cfg.evaluation.leave_out_column!r})" + (
            " + external test" if plan.external else ""
        )
    finals = f" (+ {len(plan.finals)} final models)" if plan.finals else ""
    console.print(
        f"{len(plan.scenarios)} scenarios x {len(plan.methods)} methods x {folds}"
        f" = {len(plan.evaluated)} cells{finals}"
    )
    skipped: dict[tuple[str, str], list[str]] = {}
    for scenario, method, reason in plan.skipped:
        skipped.setdefault((method, reason), []).append(scenario)
    for (method, reason), scenarios in skipped.items():
        console.print(f"  skipped {method} on {', '.join(scenarios)}: {reason}", style="dim")


FILES = (
    "summary.csv",
    "results.csv",
    "predictions.csv",
    "comparison.csv",
    "intervals.csv",
    "robustness.csv",
    "contribution.csv",
    "report.md",
    "manifest.json",
)


def print_outcome(console, outcome) -> None:
    """Counts, the best pairs, the files written, the answer and where the report is: all from
    the run's tables in memory."""
    from fusionkit.outputs.verdict import answer, best_lines

    console.print(
        f"{outcome.cells_run} cells run, {outcome.cells_reused} reused; "
        f"{outcome.encoder_trainings} encoder trainings for {outcome.encoder_uses} uses; "
        + (f"{outcome.evaluations} perturbed evaluations; " if outcome.evaluations else "")
        + f"{outcome.seconds:.1f} s"
    )
    state, tables = outcome.state, outcome.tables
    for line in best_lines(tables.summary, over_folds=state.scheme.over_folds):
        console.print(line)
    run_dir = state.run_dir
    for name in FILES:
        if (run_dir / name).is_file():
            console.print(f"  {run_dir / name}", highlight=False, soft_wrap=True)
    said = answer(tables)
    if said:
        console.print(f"answer: {said.replace('**', '')}", highlight=False, soft_wrap=True)
    console.print(f"report: {run_dir / 'report.html'}", highlight=False, soft_wrap=True)


@app.command("run")
@handle_input_errors
def run_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: output.dir).")
    ] = None,
    set_: SetOption = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Recompute everything, ignoring finished cells.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", min=1, help="Shortcut for runtime.executor: N worker processes (1: local)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the plan.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of the first failure.")
    ] = False,
) -> None:
    """Run the experiment in CONFIG: every scenario x method x fold, then tables and report."""
    import time

    from rich.console import Console

    from fusionkit.cli.progress import run_progress
    from fusionkit.config import load_config
    from fusionkit.experiment.runner import prepare_run, run_prepared

    started = time.perf_counter()
    cfg = load_config(config, set_ or [])
    console = Console()
    state = prepare_run(cfg, cfg.run_dir(out))  # bad input stops here, before anything is written
    print_plan(console, state)
    if dry_run:
        return
    run_dir = state.run_dir
    with run_progress(console) as (update, bar):
        try:
            outcome = run_prepared(state, fresh=fresh, jobs=jobs, progress=update, started=started)
        except KeyboardInterrupt:
            if bar is not None:
                bar.stop()
            err(f"interrupted: finished cells are kept in {run_dir}; run again to resume")
            raise typer.Exit(code=130) from None
    print_outcome(console, outcome)
    for note in outcome.all_notes:
        err(f"note: {note}")
    for cohort in (state.cohort, state.external):
        for warning in cohort.warnings if cohort is not None else []:
            err(f"warning: {cohort.source}: {warning}")
    if outcome.failures:
        for name, failure in outcome.failures.items():
            err(f"failed: {name}: {failure.message}")
        first = next((f for f in outcome.failures.values() if f.traceback), None)
        if debug and first is not None:
            err(first.traceback.rstrip())
        elif first is not None:
            err("(--debug shows the full traceback of the first failure)")
        err(f"{len(outcome.failures)} failed; the tables and report cover the rest")
        raise typer.Exit(code=1)
