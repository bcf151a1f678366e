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
    from fusionkit.experiment.scheme import Scheme

    cfg = load_config(config, set_ or [])
    cohorts = [("cohort", load_cohort(cfg))]
    scheme = Scheme(cfg.evaluation)
    scheme.check(cohorts[0][1])  # the check `fusionkit run` makes: they agree on every scheme
    if cfg.data.external is not None:
        cohorts.append(("external cohort", load_cohort(cfg, external=True)))
    for title, cohort in cohorts:
        print(describe(title, cohort, cfg.scenario_list()))
        for warning in cohort.warnings:
            err(f"warning: {cohort.source}: {warning}")
        for note in cohort.notes:
            err(f"note: {cohort.source}: {note}")


def describe(title: str, cohort, scenarios: list[tuple[str, ...]]) -> str:
    """A plain-text summary: class counts, modality availability and overlaps."""
    from fusionkit.config import scenario_name
    from fusionkit.data.modality import TableData

    rows: list[tuple[str, int, dict[str, int], str]] = [
        ("all", len(cohort.ids), cohort.class_counts(), "")
    ]
    for name, data in cohort.modalities.items():
        mask = cohort.available[name].to_numpy()
        if isinstance(data, TableData):
            content = f"{data.frame.shape[1]} columns"
            if data.categorical:
                content += f" ({len(data.categorical)} categorical)"
            missing = float(data.frame[mask].isna().to_numpy().mean()) if mask.any() else 0.0
            content += f", {missing:.1%} cells missing"
        else:
            content = f"{data.n_images()} image files"
        rows.append((f"{name} ({data.kind})", int(mask.sum()), cohort.class_counts(mask), content))
    overlap = []
    for scenario in scenarios:
        mask = cohort.complete(scenario)
        overlap.append((scenario_name(scenario), int(mask.sum()), cohort.class_counts(mask), ""))
    width = max(len(r[0]) for r in rows + overlap) + 2
    cols = [max(8, len(c) + 2) for c in cohort.classes]

    def line(label: str, n: object, counts: list[object], content: str) -> str:
        cells = "".join(f"{v!s:>{w}}" for v, w in zip(counts, cols, strict=True))
        return f"  {label:<{width}}{n!s:>9}{cells}   {content}".rstrip()

    out = [f"{title}: {cohort.source} ({len(cohort.ids)} subjects)"]
    out.append(line("", "subjects", list(cohort.classes), "content"))
    out += [line(label, n, list(c.values()), text) for label, n, c, text in rows]
    out.append("  subjects with every modality of each scenario:")
    out += [line(label, n, list(c.values()), text) for label, n, c, text in overlap]
    return "\n".join(out)
