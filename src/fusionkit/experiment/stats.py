"""Paired comparisons over cross-validation folds.

The folds of k-fold cross-validation share most of their training subjects, so the fold
differences of two methods are correlated and the ordinary paired t-test is too optimistic.
Nadeau and Bengio (2003) correct the variance by ``1/k + n_test/n_train`` (``1/(k-1)`` in
k-fold); the interval and p-value below use that correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Difference:
    """Mean fold difference of A - B with its corrected 95 % interval and p-value."""

    mean: float
    low: float
    high: float
    p: float
    folds: int

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] (p = {self.p:.2g})"


def corrected_difference(a: np.ndarray, b: np.ndarray, cv_folds: int) -> Difference:
    """A - B over paired folds (``a[i]`` and ``b[i]`` scored on the same test part) of a
    ``cv_folds``-fold cross-validation (repeats allowed)."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    if n < 2:
        return Difference(float(d.mean()) if n else float("nan"), np.nan, np.nan, np.nan, n)
    se = np.sqrt((1 / n + 1 / (cv_folds - 1)) * d.var(ddof=1))
    if se == 0:
        return Difference(float(d.mean()), float(d.mean()), float(d.mean()), float("nan"), n)
    t = stats.t.ppf(0.975, df=n - 1)
    p = float(2 * stats.t.sf(abs(d.mean() / se), df=n - 1))
    return Difference(float(d.mean()), float(d.mean() - t * se), float(d.mean() + t * se), p, n)
