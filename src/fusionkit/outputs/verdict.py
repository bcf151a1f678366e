"""The answer in one sentence: does the best fusion beat the best single modality (with its
interval and p-values), or, with nothing to fuse, the best scenario x method. The report leads
with it and `fusionkit run` prints it, both from the run's tables in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fusionkit.outputs.tables import RunTables


def answer(tables: RunTables) -> str | None:
    """The run's answer (Markdown emphasis included), or None when no cell finished."""
    comparison = tables.comparison
    return (verdict(comparison) if len(comparison) else None) or best_only(tables.intervals)


def best_lines(summary: pd.DataFrame, over_folds: bool = True, top: int = 5) -> list[str]:
    """The best scenario x method pairs by macro-F1 (or the first metric measured): means over
    folds, or (``over_folds`` false: a hold-out or predefined split) the one test split."""
    means = [c for c in summary.columns if c.endswith("_mean")]
    metric = "f1_macro_mean" if "f1_macro_mean" in means else (means[0] if means else None)
    if metric is None or summary.empty:
        return []
    how = "mean over folds" if over_folds else "on the test split"
    lines = [f"best by {metric.removesuffix('_mean')} ({how}):"]
    for row in summary.sort_values(metric, ascending=False).head(top).itertuples():
        sd = getattr(row, metric.replace("_mean", "_std"))
        spread = "" if pd.isna(sd) else f" ± {sd:.3f}"
        lines.append(f"  {row.scenario} x {row.method}: {getattr(row, metric):.3f}{spread}")
    return lines


def best_labels(comparison: pd.DataFrame) -> tuple[str | None, str | None]:
    """(best fusion, best single modality) as "scenario x method", from the comparison."""
    best = comparison[comparison.comparison == "best fusion"] if len(comparison) else comparison
    if len(best):
        return str(best.fusion.iloc[0]), str(best.single.iloc[0])
    return None, None


def verdict(comparison: pd.DataFrame) -> str | None:
    """The answer in one sentence: best fusion vs best single modality, with CI and p."""
    best = comparison[comparison.comparison == "best fusion"] if len(comparison) else comparison
    if best.empty:
        return None
    r = best.iloc[0]
    if not np.isfinite(r.difference):
        return None
    if int(r.folds) < 2:  # one split: the paired bootstrap over its test subjects is the CI
        return _one_split_verdict(r)
    significant = np.isfinite(r.p_corrected_t) and r.p_corrected_t < 0.05 and r.ci_low > 0
    if r.difference <= 0:
        outcome, tail = "does not beat", "fusion does not help here"
    elif significant:
        outcome, tail = "beats", "significant at the 5 % level"
    else:
        outcome, tail = "scores above", "not significant at the 5 % level"
    own = ""
    if (
        abs(r.single_mean - r.single_mean_own) > 5e-4
        or abs(r.fusion_mean - r.fusion_mean_own) > 5e-4
    ):
        own = (
            f" on the subjects both scored (on all of their own subjects: "
            f"{r.fusion_mean_own:.3f} and {r.single_mean_own:.3f})"
        )
    return (
        f"**{r.fusion}** ({r.metric} {r.fusion_mean:.3f}) {outcome} the best single modality, "
        f"**{r.single}** ({r.single_mean:.3f}){own}: difference {r.difference:+.3f}, 95 % CI "
        f"{r.ci_low:+.3f} to {r.ci_high:+.3f} (corrected resampled t-test p = "
        f"{r.p_corrected_t:.2g}; Wilcoxon p = {r.p_wilcoxon:.2g}; {int(r.folds)} folds, "
        f"{int(r.shared_subjects)} subjects scored by both): {tail}."
    )


def best_only(intervals: pd.DataFrame) -> str | None:
    """With no fusion to compare (one modality): the best scenario x method and its interval."""
    if intervals.empty:
        return None
    scored = intervals[(intervals.split != "external") & intervals["mean"].notna()]
    if scored.empty:
        return None
    r = scored.loc[scored["mean"].idxmax()]
    return (
        f"**{r.scenario} x {r.method}** scores best ({r.metric} {r['mean']:.3f}, 95 % CI "
        f"{r.boot_low:.3f} to {r.boot_high:.3f} by a subject bootstrap); no multi-modality "
        "scenario was run, so there is no fusion to compare."
    )


def _one_split_verdict(r) -> str:
    significant = np.isfinite(r.boot_low) and (r.boot_low > 0 or r.boot_high < 0)
    if r.difference <= 0:
        outcome = "does not beat"
    else:
        outcome = "beats" if significant and r.boot_low > 0 else "scores above"
    tail = "the interval excludes 0" if significant else "the interval includes 0"
    return (
        f"**{r.fusion}** ({r.metric} {r.fusion_mean:.3f}) {outcome} the best single modality, "
        f"**{r.single}** ({r.single_mean:.3f}) on the test split: difference "
        f"{r.difference:+.3f}, 95 % CI {r.boot_low:+.3f} to {r.boot_high:+.3f} (paired "
        f"bootstrap over the {int(r.shared_subjects)} test subjects both scored): {tail}."
    )
