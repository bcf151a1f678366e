"""The run report, answer first, as Markdown and as one self-contained HTML page.

At the top, the verdict: the best fusion against the best single modality with the difference,
its 95 % interval and p-values (`fusionkit.outputs.verdict`), and a forest plot of every
scenario x method with its intervals. Then each fusion strategy's comparison, the summary table,
subjects and classes per scenario, per-class scores, row-normalised confusion matrices, ROC
curves and calibration of the best fusion and the best single modality
(`fusionkit.outputs.figures`), and the robustness, nested-choice, modality-weight and
contribution sections when configured. Every section is a view of the run's `RunTables` and
knows the evaluation scheme it shows: one test split has no fold statistics.
``report.html`` is ``report.md`` rendered (Python-Markdown), figures embedded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fusionkit.experiment.store import write_atomic
from fusionkit.outputs.figures import contribution_figure, report_figures, robustness_figures
from fusionkit.outputs.html import html_page
from fusionkit.outputs.report_tables import (
    choices_table,
    comparison_table,
    contribution_table,
    markdown,
    per_class_table,
    reading_notes,
    relative_table,
    robustness_table,
    subjects_table,
    summary_table,
    weights_table,
)
from fusionkit.outputs.tables import RunTables
from fusionkit.outputs.verdict import answer, best_labels

if TYPE_CHECKING:
    from fusionkit.experiment.state import RunState

RELATIVE = (
    "Relative robustness (`robustness_summary.csv`): the mean score over each perturbation's "
    "levels (area under its curve, divided by the range of levels) as a fraction of the plain "
    "score; 1 = nothing lost. Mean ± sd over folds."
)
CHOICES = (
    "`auto` picks, in each fold, the candidate with the best inner cross-validated score on "
    "the training part; every candidate's inner score is in `choices.csv`."
)
WEIGHTS = (
    "Each modality's share of the combined decision (mean over folds) in the fusions that say "
    "it: decision-level (each modality's own probabilities per test subject are in "
    "`modality_outputs.csv`) and gated (the mean of its per-subject weights, which are in "
    "`modality_outputs.csv`, column `gate`); the weights per fold are in `modality_weights.csv`."
)


def write_report(
    state: RunState, tables: RunTables, features: dict[str, list[str]], run_dir: Path
) -> None:
    """report.md and report.html (one file, figures embedded) of the finished cells, the
    answer first; failed cells listed. ``features``: the named output columns per
    modality/encoder."""
    summary, results, failures = tables.summary, tables.cell_results, tables.failures
    comparison = tables.comparison
    contribution, robustness = tables.contribution, tables.robustness
    relative, weights, choices = tables.robustness_summary, tables.modality_weights, tables.choices
    figures = report_figures(state, tables, run_dir / "figures") if results else {}
    metric = state.task.headline(state.config.evaluation.metrics)
    fusion, single = best_labels(comparison)
    table = summary_table(state, summary)
    ev = state.config.evaluation
    over_folds = state.scheme.over_folds
    kinds = [s.type for s in ev.robustness]  # the config's order of perturbations
    folds = state.scheme.describe(state.cohort)
    facts = (
        f"Cohort: {len(state.cohort.ids)} subjects, classes {', '.join(state.cohort.classes)}; "
        f"{folds}, seed {state.config.seed}; missing modalities: `{ev.missing}`"
        + (f"; external test cohort: {len(state.external.ids)} subjects" if state.external else "")
        + "."
    )
    lines = [f"# fusionkit report: {state.config.name}", "", facts, ""]
    if failures:
        lines += [
            f"**{len(failures)} cells or encoders failed**; the tables cover the rest "
            "(see Failed).",
            "",
        ]
    said = answer(tables)
    lines += ["## The answer", ""]
    lines += [f"**Answer:** {said}" if said else "No cell finished: nothing to compare."]
    lines += [""]
    if "forest.png" in figures:
        several = over_folds
        scored = "cross-validated" if several else "test-split"
        folds_part = (
            "its 95 % interval over folds (thick) and from a subject bootstrap of the pooled "
            "out-of-fold predictions (thin)"
            if several
            else "its 95 % interval from a subject bootstrap of the test predictions"
        )
        lines += [
            f"Every scenario x method, best at the top: the {scored} {metric} with "
            f"{folds_part}, the best single modality (dashed) and chance (dotted); the winner "
            "in red; † a fusion strategy on one modality. Intervals: `intervals.csv`.",
            "",
            "![Every scenario x method](figures/forest.png)",
            "",
        ]
    per_method = comparison[comparison.comparison != "best fusion"] if len(comparison) else None
    if per_method is not None and len(per_method):
        lines += [
            "## Each fusion strategy vs the best single modality",
            "",
            f"Each method's best multi-modality scenario against {single}, on the test "
            + (
                "subjects both scored, fold by fold (corrected resampled t-test, Nadeau and "
                "Bengio 2003; Wilcoxon signed-rank) and by a paired subject bootstrap: "
                if over_folds
                else "subjects both scored, by a paired subject bootstrap: "
            )
            + "`comparison.csv`.",
            "",
            markdown(comparison_table(comparison, over_folds)),
            "",
        ]
    heading = (
        "## Summary (mean ± sd over folds; ext. = external test set)"
        if over_folds
        else "## Summary (the single test split; ext. = external test set)"
    )
    lines += [
        heading,
        "",
        markdown(table) if len(table) else "No cell finished: see the failures below.",
        "",
    ]
    if len(table) and table.method.str.endswith(" †").any():
        lines += [
            "† a fusion strategy on a single modality: nothing is fused; it is that "
            "modality's own model through the strategy's classifier or head.",
            "",
        ]
    lines += [
        f"## Subjects per scenario (`missing: {ev.missing}`)",
        "",
        markdown(subjects_table(state)),
        "",
        *reading_notes(state),
    ]
    labels = [label for label in (fusion, single) if label]
    if labels:
        lines += [
            "## Per class (mean over folds)" if over_folds else "## Per class (the test split)",
            "",
            markdown(per_class_table(state, results, labels)),
            "",
            "Every class of every scenario x method: `per_class.csv`.",
            "",
        ]
    for name, title in (
        ("confusion.png", "Confusion matrices (row-normalised, out of fold)"),
        ("roc.png", "ROC curves: best fusion and best single modality"),
    ):
        if name in figures:
            lines += [f"## {title}", "", f"![{title}](figures/{name})", ""]
    if "calibration.png" in figures:
        brier = "; ".join(f"{k}: {v:.3f}" for k, v in figures["calibration.png"].items())
        lines += [
            "## Calibration",
            "",
            "How often the predicted class is right against the confidence given to it "
            f"(out of fold). Multi-class Brier score, lower is better: {brier}.",
            "",
            "![Calibration](figures/calibration.png)",
            "",
        ]
    if ev.missing == "complete_case":
        lines += [
            "Under `complete_case` each scenario scores the fold's subjects having all of its "
            "modalities; comparisons re-score both sides on the subjects they share.",
            "",
        ]
    if robustness is not None and not robustness.empty:
        drawn = robustness_figures(robustness, summary, metric, run_dir / "figures")
        lines += [
            "## Robustness (test-time perturbations)",
            "",
            f"Mean {metric} over cross-validation folds of the kept models, with test "
            "inputs perturbed (nothing refitted); `none` is the plain result.",
            "",
            markdown(robustness_table(robustness, metric, kinds)),
            "",
            *[f"- {note}" for note in tables.robustness_notes],
            "",
        ]
        if relative is not None and not relative.empty:
            lines += [RELATIVE, "", markdown(relative_table(relative, kinds)), ""]
        for name in drawn:
            title = f"Robustness curve: {name.removeprefix('robustness_').removesuffix('.png')}"
            lines += [f"![{title}](figures/{name})", ""]
    if not choices.empty:
        lines += [
            "## Chosen by nested cross-validation",
            "",
            CHOICES,
            "",
            markdown(choices_table(choices)),
            "",
        ]
    if not weights_table(weights).empty:
        lines += ["## Modality weights", "", WEIGHTS, "", markdown(weights_table(weights)), ""]
    has = set(contribution.measure) if contribution is not None else set()
    if "shapley" in has:
        shapley = contribution_table(contribution)
        plotted = contribution_figure(shapley, run_dir / "figures")
        lines += [
            "## Modality contribution (Shapley values)",
            "",
            f"Each modality's average marginal gain in {contribution.metric.iloc[0]} over all "
            "orders of adding modalities, per method, from the cells of every modality subset "
            "scored on the test subjects they share (mean ± sd over folds; the values of a fold "
            "sum to the full scenario's score minus the score of random guessing).",
            "",
            markdown(shapley),
            "",
            *(["![Modality contribution](figures/contribution.png)", ""] if plotted else []),
        ]
    if "permutation" in has:
        if "shapley" not in has:
            lines += ["## Modality contribution (permutation)", ""]
        lines += [
            f"Permutation: the drop in {contribution.metric.iloc[0]} of the full scenario's kept "
            "models when one modality is shuffled across the test subjects (mean over seeded "
            "repeats; mean ± sd over folds).",
            "",
            markdown(contribution_table(contribution, "permutation")),
            "",
        ]
    if "training.png" in figures:
        title = "Training curves of the best method"
        lines += [f"## {title}", "", f"![{title}](figures/training.png)", ""]
    if features:
        lines += ["## Named features", ""]
        for key, names in features.items():
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            lines.append(f"- {key}: {len(names)} features ({shown}); all in `manifest.json`")
        lines.append("")
    if failures:
        lines += ["## Failed", ""]
        lines += [f"- {name}: {f.message}" for name, f in failures.items()]
        lines.append("")
    if state.plan.skipped:
        lines += ["## Not run", ""]
        lines += [f"- {s} x {m}: {why}" for s, m, why in state.plan.skipped]
        lines.append("")
    text = "\n".join(lines)
    write_atomic(run_dir / "report.md", text.encode())
    write_atomic(run_dir / "report.html", html_page(text, run_dir).encode())
