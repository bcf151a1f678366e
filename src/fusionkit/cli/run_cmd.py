"""``fusionkit run``: validate a config, run every cell, write tables and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import SetOption, app, err, handle_input_errors


def print_plan(console, cfg, plan, out) -> None:
    """The plan: methods, cells per scenario, and what is skipped and why."""
    from fusionkit.config import scenario_name

    console.print(f"plan: {cfg.name} -> {cfg.run_dir(out)}")
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
    finals = f" (+ {len(plan.finals)} final models)" if plan.finals else ""
    per = ""
    if cfg.evaluation.scheme == "leave_out":  # the groups are known once the cohort is read
        folds = f"one fold per value of {cfg.evaluation.leave_out_column!r}"
        per = " per group"
    console.print(
        f"{len(plan.scenarios)} scenarios x {len(plan.methods)} methods x {folds}"
        f" = {len(plan.evaluated)} cells{per}{finals}"
    )
    skipped: dict[tuple[str, str], list[str]] = {}
    for scenario, method, reason in plan.skipped:
        skipped.setdefault((method, reason), []).append(scenario)
    for (method, reason), scenarios in skipped.items():
        console.print(f"  skipped {method} on {', '.join(scenarios)}: {reason}", style="dim")


def print_best(console, summary_file: Path, over_folds: bool = True, top: int = 5) -> None:
    """The best scenario x method pairs by macro-F1 (or the first metric measured): means over
    folds, or (``over_folds`` false: a hold-out or predefined split) the one test split."""
    import pandas as pd

    if not summary_file.is_file():
        return
    summary = pd.read_csv(summary_file)
    if summary.empty:
        return
    means = [c for c in summary.columns if c.endswith("_mean")]
    metric = "f1_macro_mean" if "f1_macro_mean" in means else (means[0] if means else None)
    if metric is None or summary.empty:
        return
    how = "mean over folds" if over_folds else "on the test split"
    console.print(f"best by {metric.removesuffix('_mean')} ({how}):")
    for row in summary.sort_values(metric, ascending=False).head(top).itertuples():
        sd = getattr(row, metric.replace("_mean", "_std"))
        spread = "" if pd.isna(sd) else f" ± {sd:.3f}"
        console.print(f"  {row.scenario} x {row.method}: {getattr(row, metric):.3f}{spread}")


def print_answer(console, run_dir: Path) -> None:
    """The report's verdict, and where the report is."""
    import pandas as pd

    from fusionkit.experiment.report import best_only, verdict

    def table(name: str) -> pd.DataFrame:
        path = run_dir / name
        return pd.read_csv(path) if path.is_file() and path.stat().st_size > 1 else pd.DataFrame()

    comparison = table("comparison.csv")
    answer = (verdict(comparison) if len(comparison) else None) or best_only(table("intervals.csv"))
    if answer:
        console.print(f"answer: {answer.replace('**', '')}", highlight=False, soft_wrap=True)
    if (run_dir / "report.html").is_file():
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
    from rich.console import Console

    from fusionkit.cli.progress import run_progress
    from fusionkit.config import load_config
    from fusionkit.experiment.planner import make_plan
    from fusionkit.experiment.runner import run_experiment

    cfg = load_config(config, set_ or [])
    console = Console()
    print_plan(console, cfg, make_plan(cfg), out)
    if dry_run:
        return
    run_dir = cfg.run_dir(out)
    with run_progress(console) as (update, bar):
        try:
            outcome = run_experiment(cfg, run_dir, fresh=fresh, jobs=jobs, progress=update)
        except KeyboardInterrupt:
            if bar is not None:
                bar.stop()
            err(f"interrupted: finished cells are kept in {run_dir}; run again to resume")
            raise typer.Exit(code=130) from None
    console.print(
        f"{outcome.cells_run} cells run, {outcome.cells_reused} reused; "
        f"{outcome.encoder_trainings} encoder trainings for {outcome.encoder_uses} uses; "
        + (f"{outcome.evaluations} perturbed evaluations; " if outcome.evaluations else "")
        + f"{outcome.seconds:.1f} s"
    )
    scheme = outcome.state.config.evaluation.scheme
    print_best(console, run_dir / "summary.csv", over_folds=scheme in ("kfold", "leave_out"))
    for name in (
        "summary.csv",
        "results.csv",
        "predictions.csv",
        "comparison.csv",
        "intervals.csv",
        "robustness.csv",
        "contribution.csv",
        "report.md",
        "manifest.json",
    ):
        if (run_dir / name).is_file():
            console.print(f"  {run_dir / name}", highlight=False, soft_wrap=True)
    print_answer(console, run_dir)
    for note in outcome.notes:
        err(f"note: {note}")
    for cohort in (outcome.state.cohort, outcome.state.external):
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
