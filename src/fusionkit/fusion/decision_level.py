"""Decision-level (late) fusion: one classifier per modality, probabilities combined.

``combine``: ``mean`` of the class probabilities; ``weighted`` mean, each modality weighted by
its balanced accuracy above chance in inner cross-validation on the training part; ``vote``:
majority of the modalities' decisions (ties broken by mean probability); ``stacking``: a meta
classifier fitted on the modalities' inner cross-validated probabilities (never on predictions
for subjects the base classifier was trained on); ``ensemble_selection``: greedy forward
selection with replacement (Caruana et al., ICML 2004) of the modalities whose inner
cross-validated probabilities, averaged, give the lowest log-loss; each modality's weight is
how often it was picked, so a modality that never helps gets weight zero. A subject missing a
modality is decided by the modalities it has.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.config import ClassifierSpec
from fusionkit.fusion.base import ClassifierField, Features, FeaturesField, FusionInput, full_proba
from fusionkit.fusion.feature_level import features_tags
from fusionkit.hookspecs import hookimpl
from fusionkit.training.context import FitContext


class DecisionLevelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: Features = FeaturesField
    classifier: ClassifierSpec = ClassifierField
    combine: Literal["mean", "weighted", "vote", "stacking", "ensemble_selection"] = "mean"
    meta_classifier: ClassifierSpec = ClassifierField
    inner_folds: int = Field(3, ge=2, description="Inner CV folds for weights and stacking.")
    rounds: int = Field(20, ge=1, description="ensemble_selection: picks (with replacement).")


class DecisionLevel:
    def __init__(self, params: DecisionLevelParams):
        self.params = params

    def fit(self, inp: FusionInput, y: np.ndarray, ctx: FitContext) -> DecisionLevel:
        from sklearn.metrics import balanced_accuracy_score

        k = ctx.n_classes
        self.n_classes_ = k
        self.models_, self.weights_ = {}, {}
        needs_inner = self.params.combine in ("weighted", "stacking", "ensemble_selection")
        inner = {}
        for m in inp.modalities:
            rows = inp.available[m]
            X, ym = inp.features[m][rows], y[rows]
            self.models_[m] = self.params.classifier.build(seed=ctx.seed).fit(X, ym)
            if needs_inner:
                inner[m] = self._inner_proba(X, ym, k, ctx.seed)
                score = balanced_accuracy_score(ym, inner[m].argmax(axis=1))
                self.weights_[m] = max(score - 1.0 / k, 1e-3)
        if self.params.combine == "ensemble_selection":
            self.weights_ = self._select(inner, inp, y)
        if self.params.combine == "stacking":
            meta_x = np.full((len(y), k * len(inp.modalities)), np.nan)
            for j, m in enumerate(inp.modalities):
                meta_x[inp.available[m], j * k : (j + 1) * k] = inner[m]
            self.meta_ = self.params.meta_classifier.build(seed=ctx.seed).fit(meta_x, y)
        return self

    def _select(self, inner: dict, inp: FusionInput, y: np.ndarray) -> dict[str, float]:
        """Greedy selection with replacement on the inner out-of-fold probabilities: each round
        adds the modality whose inclusion gives the lowest log-loss of the running mean (over
        the subjects having it; others keep their running mean)."""
        n, k = len(y), self.n_classes_
        modalities = list(inner)
        full = {}
        for m in modalities:
            block = np.full((n, k), np.nan)
            block[inp.available[m]] = inner[m]
            full[m] = block
        total, counts = np.zeros((n, k)), np.zeros(n)
        picks = dict.fromkeys(modalities, 0)

        def loss(total: np.ndarray, counts: np.ndarray) -> float:
            scored = counts > 0
            if not scored.any():
                return np.inf
            p = total[scored] / counts[scored, None]
            return float(-np.mean(np.log(np.clip(p[np.arange(scored.sum()), y[scored]], 1e-12, 1))))

        for _ in range(self.params.rounds):
            options = []
            for m in modalities:
                has = inp.available[m]
                t, c = total.copy(), counts.copy()
                t[has] += full[m][has]
                c[has] += 1
                options.append((loss(t, c), modalities.index(m), m, t, c))
            _, _, chosen, total, counts = min(options, key=lambda o: (o[0], o[1]))
            picks[chosen] += 1
        return {m: picks[m] / self.params.rounds for m in modalities}

    def _inner_proba(self, X: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y, minlength=k)
        folds = min(self.params.inner_folds, int(counts[counts > 0].min()))
        out = np.full((len(y), k), 1.0 / k)
        if folds < 2:
            return out  # too few subjects for inner CV: uninformative predictions
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(X, y):
            model = self.params.classifier.build(seed=seed).fit(X[train], y[train])
            out[test] = full_proba(model, X[test], k)
        return out

    def modality_proba(self, inp: FusionInput) -> dict[str, np.ndarray]:
        """Each modality's classifier on its own: (subjects, classes), NaN rows where absent."""
        k, n = self.n_classes_, len(inp.ids)
        probas = {}
        for m, model in self.models_.items():
            p = np.full((n, k), np.nan)
            rows = inp.available[m]
            if rows.any():
                p[rows] = full_proba(model, inp.features[m][rows], k)
            probas[m] = p
        return probas

    def modality_weights(self) -> dict[str, float]:
        """``mean`` and ``vote``: equal; ``weighted``: the learnt weights, normalised;
        ``stacking``: each modality's share of the meta classifier's absolute coefficients
        (or feature importances), empty if it has neither."""
        modalities = list(self.models_)
        if self.params.combine in ("weighted", "ensemble_selection"):
            raw = np.array([self.weights_[m] for m in modalities])
        elif self.params.combine == "stacking":
            meta = self.meta_
            final = meta.steps[-1][1] if hasattr(meta, "steps") else meta
            if hasattr(final, "coef_"):
                per_column = np.abs(np.asarray(final.coef_)).sum(axis=0)
            elif hasattr(final, "feature_importances_"):
                per_column = np.asarray(final.feature_importances_)
            else:
                return {}
            raw = per_column.reshape(len(modalities), self.n_classes_).sum(axis=1)
        else:
            raw = np.ones(len(modalities))
        total = raw.sum()
        return {
            m: float(w / total) if total > 0 else 0.0 for m, w in zip(modalities, raw, strict=True)
        }

    def predict_proba(self, inp: FusionInput) -> np.ndarray:
        k, n = self.n_classes_, len(inp.ids)
        probas = self.modality_proba(inp)
        if self.params.combine == "stacking":
            meta_x = np.concatenate([probas[m] for m in self.models_], axis=1)
            return full_proba(self.meta_, meta_x, k)
        stack = np.stack([probas[m] for m in self.models_])  # (modalities, n, k)
        have = ~np.isnan(stack[:, :, 0])
        if self.params.combine in ("weighted", "ensemble_selection"):
            w = np.array([self.weights_[m] for m in self.models_])[:, None] * have
            unweighted = w.sum(axis=0) == 0  # only modalities never picked: they decide
            w[:, unweighted] = have[:, unweighted]
        else:
            w = have.astype(float)
        mean = np.nansum(stack * w[:, :, None], axis=0) / w.sum(axis=0)[:, None]
        if self.params.combine != "vote":
            return mean
        votes = np.zeros((n, k))
        for i in range(len(self.models_)):
            decided = have[i]
            votes[decided, np.nanargmax(stack[i][decided], axis=1)] += 1
        scores = votes + 1e-3 * mean  # ties broken by the mean probability
        return scores / scores.sum(axis=1, keepdims=True)

    def get_state(self) -> dict:
        return {
            "n_classes": self.n_classes_,
            "modalities": list(self.models_),
            "models": self.models_,
            "weights": self.weights_,
            "meta": getattr(self, "meta_", None),
        }

    def set_state(self, state: dict) -> None:
        self.n_classes_ = int(state["n_classes"])
        self.models_ = {m: state["models"][m] for m in state["modalities"]}
        self.weights_ = {m: float(w) for m, w in state["weights"].items()}
        if state["meta"] is not None:
            self.meta_ = state["meta"]


@hookimpl
def register_fusions(register):
    register(
        "decision_level",
        DecisionLevel,
        params=DecisionLevelParams,
        description="Late fusion: a classifier per modality; mean, weighted, vote or stacking.",
        tags=features_tags,
    )
