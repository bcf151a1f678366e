"""Built-in test-time perturbations (``evaluation.robustness``): missing modalities.

- ``drop_modality``: in a multi-modal scenario, one modality removed for every test subject
  (settings ``drop_modality=<m>``, one per modality);
- ``missing_rate``: each test subject loses each modality with probability p, keeping at least
  one (settings ``missing_rate=<p>`` for each of ``levels``), seeded per cell.

Both change only which test subjects have which modality; a method sees them as it sees any
missing modality (`FusionInput.available`), as MultiBench's robustness curves do.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.fusion.base import FusionInput
from fusionkit.hookspecs import hookimpl
from fusionkit.registry import NoParams


def without(inputs: FusionInput, lost: dict[str, np.ndarray]) -> FusionInput:
    """``inputs`` with modality ``m`` removed for the subjects where ``lost[m]`` is true."""
    features, available, data = dict(inputs.features), dict(inputs.available), dict(inputs.data)
    for m, gone in lost.items():
        keep = inputs.available[m] & ~gone
        block = inputs.features[m].copy()
        block[~keep] = np.nan
        features[m], available[m] = block, keep
        present = [s for s, k in zip(inputs.ids, keep, strict=True) if k]
        data[m] = inputs.data[m].subset(present) if m in inputs.data else inputs.data.get(m)
    return FusionInput(inputs.ids, features, available, data, inputs.encoders)


class DropModality:
    def __init__(self, params: NoParams | None = None):
        self.params = params

    def settings(self, modalities) -> list[str]:
        return [f"drop_modality={m}" for m in modalities] if len(modalities) > 1 else []

    def apply(self, inputs: FusionInput, setting: str, rng) -> FusionInput:
        m = setting.split("=", 1)[1]
        return without(inputs, {m: np.ones(len(inputs.ids), bool)})


class MissingRateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: list[float] = Field(
        default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.5],
        min_length=1,
        description="Probabilities that a test subject loses each modality.",
    )


class MissingRate:
    def __init__(self, params: MissingRateParams):
        self.params = params

    def settings(self, modalities) -> list[str]:
        return [f"missing_rate={p:g}" for p in self.params.levels] if len(modalities) > 1 else []

    def apply(self, inputs: FusionInput, setting: str, rng) -> FusionInput:
        p = float(setting.split("=", 1)[1])
        mods = inputs.modalities
        have = np.stack([inputs.available[m] for m in mods], axis=1)
        lost = (rng.random(have.shape) < p) & have
        for i in np.flatnonzero((have & ~lost).sum(axis=1) == 0):  # keep at least one
            options = np.flatnonzero(have[i])
            if len(options):
                lost[i, rng.choice(options)] = False
        return without(inputs, {m: lost[:, j] for j, m in enumerate(mods)})


def _moved(data, receivers: list[str], sources: list[str]):
    """``data`` where subject ``receivers[i]`` holds what ``sources[i]`` had."""
    import pandas as pd

    from fusionkit.data.modality import ImageData, TableData

    if isinstance(data, TableData):
        frame = data.frame.loc[sources].copy()
        frame.index = pd.Index(receivers, name=data.frame.index.name)
        return TableData(data.kind, frame, data.source, list(data.categorical))
    files = {r: data.files[s] for r, s in zip(receivers, sources, strict=True)}
    return ImageData(data.kind, files, data.source, shapes=data.shapes)


class PermuteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repeats: int = Field(3, ge=1, description="Seeded shuffles per modality.")


class PermuteModality:
    """One modality's data shuffled across the test subjects that have it (the others kept):
    what the model loses when that modality carries no information about the subject."""

    def __init__(self, params: PermuteParams):
        self.params = params

    def settings(self, modalities) -> list[str]:
        if len(modalities) < 2:
            return []
        return [f"permute_modality={m}/{r}" for m in modalities for r in range(self.params.repeats)]

    def apply(self, inputs: FusionInput, setting: str, rng) -> FusionInput:
        m = setting.split("=", 1)[1].split("/")[0]
        rows = np.flatnonzero(inputs.available[m])
        order = rows[rng.permutation(len(rows))]
        features = dict(inputs.features)
        block = inputs.features[m].copy()
        block[rows] = inputs.features[m][order]
        features[m] = block
        data = dict(inputs.data)
        if m in inputs.data:
            ids = [inputs.ids[i] for i in rows]
            data[m] = _moved(inputs.data[m], ids, [inputs.ids[i] for i in order])
        return FusionInput(inputs.ids, features, dict(inputs.available), data, inputs.encoders)


@hookimpl
def register_perturbations(register):
    register(
        "drop_modality",
        DropModality,
        description="One modality removed for every test subject (each modality in turn).",
    )
    register(
        "missing_rate",
        MissingRate,
        params=MissingRateParams,
        description="Each test subject loses each modality with probability p (keeps one).",
    )
    register(
        "permute_modality",
        PermuteModality,
        params=PermuteParams,
        description="One modality shuffled across test subjects (permutation contribution).",
    )
