"""``fusionkit cohort``: subjects per modality, per class and per modality overlap."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import SetOption, app, err, handle_input_errors


@app.command("cohort")
@handle_input_errors
def cohort_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: SetOption = None,
) -> None:
    """Load the cohort of CONFIG and summarise it (and the external cohort, if any)."""
    from fusionkit.config import load_config
    from fusionkit.data.cohort import load_cohort

    cfg = load_config(config, set_ or [])
    cohorts = [("cohort", load_cohort(cfg))]
    if cfg.data.external is not None:
        cohorts.append(("external cohort", load_cohort(cfg, external=True)))
    for title, cohort in cohorts:
        print(describe(title, cohort, cfg.scenario_list()))
        for note in cohort.notes:
            err(f"note: {cohort.source}: {note}")


def describe(title: str, cohort, scenarios: list[tuple[str, ...]]) -> str:
    """A plain-text summary: class counts, modality availability and overlaps."""
    from fusionkit.config import scenario_name
    from fusionkit.data.modality import TableData

    lines = [f"{title}: {cohort.source} ({len(cohort.ids)} subjects)"]
    header = "".join(f"{c:>8}" for c in cohort.classes)
    lines.append(f"  {'':<14}{'subjects':>9}{header}   content")
    row = "".join(f"{v:>8}" for v in cohort.class_counts().values())
    lines.append(f"  {'all':<14}{len(cohort.ids):>9}{row}")
    for name, data in cohort.modalities.items():
        mask = cohort.available[name].to_numpy()
        counts = "".join(f"{v:>8}" for v in cohort.class_counts(mask).values())
        if isinstance(data, TableData):
            content = f"{data.frame.shape[1]} columns"
            if data.categorical:
                content += f" ({len(data.categorical)} categorical)"
            missing = float(data.frame[mask].isna().to_numpy().mean()) if mask.any() else 0.0
            content += f", {missing:.1%} cells missing"
        else:
            content = f"{data.n_images()} image files"
        lines.append(
            f"  {name + ' (' + data.kind + ')':<14}{int(mask.sum()):>9}{counts}   {content}"
        )
    lines.append("  complete cases per scenario:")
    for scenario in scenarios:
        mask = cohort.complete(scenario)
        counts = "".join(f"{v:>8}" for v in cohort.class_counts(mask).values())
        lines.append(f"  {scenario_name(scenario):<14}{int(mask.sum()):>9}{counts}")
    return "\n".join(lines)
