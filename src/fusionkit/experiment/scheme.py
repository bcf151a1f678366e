"""The evaluation scheme, one object: k-fold (with repeats), hold-out, a predefined split, or
leave one group out. It checks a cohort against itself, makes the folds, names the field a
problem is reported under, and says in words how the estimates were made; `fusionkit run` and
`fusionkit cohort` both ask it, so they agree on what a cohort needs."""

from __future__ import annotations

from dataclasses import dataclass

from fusionkit.api import PredictionTask
from fusionkit.config import EvaluationConfig
from fusionkit.data.cohort import Cohort, check_class_sizes, check_leave_out, check_predefined_split
from fusionkit.data.splits import Fold, make_folds

FIELDS = {
    "kfold": "evaluation.cv_folds",
    "holdout": "evaluation.holdout",
    "predefined": "evaluation.split_column",
    "leave_out": "evaluation.leave_out_column",
}


@dataclass(frozen=True)
class Scheme:
    """How a run's estimates are made (see module docstring)."""

    evaluation: EvaluationConfig

    @property
    def kind(self) -> str:
        """``kfold``, ``holdout``, ``predefined`` or ``leave_out``."""
        return self.evaluation.scheme

    @property
    def field(self) -> str:
        """The config field that sets the scheme (named in error lines)."""
        return FIELDS[self.kind]

    @property
    def over_folds(self) -> bool:
        """Whether scores are summarised over several folds (k-fold, leave one group out);
        otherwise there is one test split, and only bootstrap intervals apply."""
        return self.kind in ("kfold", "leave_out")

    @property
    def scored_split(self) -> str:
        """What the tables call the scored part: ``test`` for a predefined split, else ``cv``."""
        return "test" if self.kind == "predefined" else "cv"

    def check(self, cohort: Cohort) -> None:
        """`DataError` if the cohort cannot be split this way (e.g. a class with too few
        subjects for the folds)."""
        ev = self.evaluation
        if self.kind == "predefined":
            check_predefined_split(cohort, ev)
        elif self.kind == "leave_out":
            check_leave_out(cohort, ev)
        elif self.kind == "kfold":
            check_class_sizes(cohort, ev.cv_folds)
        else:  # a hold-out is the first part of a round(1 / holdout)-fold split
            check_class_sizes(cohort, max(2, round(1 / ev.holdout)), "1 / evaluation.holdout =")

    def folds(self, cohort: Cohort, seed: int, task: PredictionTask) -> list[Fold]:
        """The folds of a checked cohort, stratified on what the task says (``stratify``)."""
        strata = task.strata(cohort.y)
        return make_folds(strata, cohort.groups, self.evaluation, seed, cohort.splits)

    def describe(self, cohort: Cohort) -> str:
        """How the estimates were made, in words."""
        ev = self.evaluation
        if self.kind == "predefined":
            names, splits = ev.split_names, cohort.splits
            counts = {n: int((splits == n).sum()) for n in (names.train, names.val, names.test)}
            parts = ", ".join(f"{n} {c}" for n, c in counts.items())
            return f"predefined split in column `{ev.split_column}` ({parts}; scored once on test)"
        if self.kind == "leave_out":
            values = sorted(set(cohort.splits.tolist()))
            shown = ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")
            return (
                f"leave one group out over column `{ev.leave_out_column}` ({len(values)} folds, "
                f"each testing one of: {shown})"
            )
        if self.kind == "holdout":
            return f"hold-out {ev.holdout:.0%}"
        return f"{ev.cv_folds}-fold CV x {ev.cv_repeats}"
