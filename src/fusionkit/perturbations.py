"""Built-in test-time perturbations (``evaluation.robustness``), each seeded per cell.

Missing modalities (multi-modal scenarios; a method sees them as any missing modality, through
`FusionInput.available`, as in MultiBench's robustness curves):

- ``drop_modality``: one modality removed for every test subject (``drop_modality=<m>``);
  subjects left with no modality (they had only that one) are left out of that evaluation;
- ``missing_rate``: each test subject loses each modality with probability p, keeping at least
  one (``missing_rate=<p>`` for each of ``levels``);
- ``permute_modality``: one modality shuffled across test subjects (permutation contribution).

Noisy data (every scenario having such a modality; the changed data is re-encoded through the
cell's fitted encoders, ``Tags(perturbs_data=True)``):

- ``table_noise``: Gaussian noise on the numeric columns of table and genotype modalities, its
  SD ``level`` times the column's SD in the cell's *training* part (categories unchanged);
- ``image_noise``: MONAI ``RandGaussianNoise``, SD ``level`` times the image's own intensity SD;
- ``image_blur``: MONAI ``GaussianSmooth``, sigma ``level`` pixels (of the image as stored);
- ``image_contrast``: MONAI ``AdjustContrast``, gamma = 2 ** ``level``.

Level 0 of each changes nothing, so it gives the plain result exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from fusionkit.api import Tags
from fusionkit.data.modality import Distortion, ImageData, TableData
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
        """The test subjects without modality ``m``; those left with no modality at all (they
        had only ``m``, under ``missing: available``) cannot be predicted and are left out."""
        m = setting.split("=", 1)[1]
        out = without(inputs, {m: np.ones(len(inputs.ids), bool)})
        left = np.any([out.available[k] for k in out.modalities], axis=0)
        return out if left.all() else out.take(np.flatnonzero(left))


class MissingRate:
    def __init__(self, params: Any):
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

    if isinstance(data, TableData):
        frame = data.frame.loc[sources].copy()
        frame.index = pd.Index(receivers, name=data.frame.index.name)
        return TableData(data.kind, frame, data.source, list(data.categorical))
    files = {r: data.files[s] for r, s in zip(receivers, sources, strict=True)}
    return ImageData(data.kind, files, data.source, shapes=data.shapes, distortion=data.distortion)


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


def _level(setting: str) -> float:
    return float(setting.split("=", 1)[1])


def _with_data(inputs: FusionInput, data: dict) -> FusionInput:
    return FusionInput(
        inputs.ids, dict(inputs.features), dict(inputs.available), data, inputs.encoders
    )


NonNegative = Annotated[float, Field(ge=0)]


def levels_params(name: str, default: list[float], meaning: str, item: Any = NonNegative):
    """A params model with one field, ``levels``: the settings to evaluate."""
    field = Field(default_factory=lambda: list(default), min_length=1, description=meaning)
    return create_model(name, __config__=ConfigDict(extra="forbid"), levels=(list[item], field))


MissingRateParams = levels_params(
    "MissingRateParams",
    [0.0, 0.1, 0.2, 0.3, 0.5],
    "Probabilities that a test subject loses each modality.",
    Annotated[float, Field(ge=0, le=1)],
)
TableNoiseParams = levels_params(
    "TableNoiseParams",
    [0.0, 0.25, 0.5, 1.0],
    "Noise SD, in units of each column's SD in the training part.",
)
ImageNoiseParams = levels_params(
    "ImageNoiseParams",
    [0.0, 0.25, 0.5, 1.0],
    "Noise SD, in units of each image's own intensity SD.",
)
ImageBlurParams = levels_params(
    "ImageBlurParams",
    [0.0, 1.0, 2.0, 4.0],
    "Gaussian sigma in pixels (voxels) of the image as stored.",
)
ImageContrastParams = levels_params(
    "ImageContrastParams",
    [0.0, 0.5, 1.0],
    "log2 of the gamma (0: unchanged; 1: gamma 2; -1: gamma 0.5).",
    float,
)


class TableNoise:
    """Gaussian noise on the numeric columns of every table and genotype modality."""

    def __init__(self, params: Any):
        self.params = params
        self.scales_: dict[str, object] = {}

    def settings(self, modalities) -> list[str]:
        if not any(k in ("table", "genotype") for k in modalities.values()):
            return []
        return [f"table_noise={level:g}" for level in self.params.levels]

    def fit(self, train: FusionInput) -> None:
        """Each numeric column's SD over the training subjects (0 where it has no values)."""
        for m, data in train.data.items():
            if isinstance(data, TableData):
                numeric = [c for c in data.columns if c not in data.categorical]
                self.scales_[m] = data.frame[numeric].astype(float).std(ddof=0).fillna(0.0)

    def apply(self, inputs: FusionInput, setting: str, rng) -> FusionInput:
        import pandas as pd

        level = _level(setting)
        if level == 0:
            return inputs
        data = dict(inputs.data)
        for m in inputs.modalities:
            table = inputs.data.get(m)
            if not isinstance(table, TableData):
                continue
            scales = self.scales_[m]
            columns = list(scales.index)
            if not columns:
                continue  # only categories: nothing to add noise to
            frame = table.frame
            noise = rng.normal(size=(len(frame), len(columns))) * level * scales.to_numpy()
            values = frame[columns].to_numpy(dtype=float) + noise  # NaN stays NaN
            noisy = pd.DataFrame(values, index=frame.index, columns=columns)
            frame = pd.concat([noisy, frame.drop(columns=columns)], axis=1)[frame.columns]
            data[m] = TableData(table.kind, frame, table.source, list(table.categorical))
        return _with_data(inputs, data)


def gaussian_noise(array: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    from monai.transforms import RandGaussianNoise

    noise = RandGaussianNoise(prob=1.0, std=level * float(array.std()), sample_std=False)
    noise.set_random_state(seed=int(rng.integers(2**31)))
    return np.asarray(noise(array))


def gaussian_blur(array: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    from monai.transforms import GaussianSmooth

    return np.asarray(GaussianSmooth(sigma=level)(array))


def gamma_contrast(array: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    from monai.transforms import AdjustContrast

    return np.asarray(AdjustContrast(gamma=2.0**level)(array))


class ImageDistortion:
    """A MONAI intensity transform on every image of the scenario's image modalities, applied
    when an encoder reads the image (`ImageData.read`)."""

    name = ""
    fn: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

    def __init__(self, params: Any):
        self.params = params

    def settings(self, modalities) -> list[str]:
        if not any(k == "image" for k in modalities.values()):
            return []
        return [f"{self.name}={level:g}" for level in self.params.levels]

    def apply(self, inputs: FusionInput, setting: str, rng) -> FusionInput:
        level = _level(setting)
        if level == 0:
            return inputs
        distortion = Distortion(type(self).fn, level, int(rng.integers(2**31)))
        data = {
            m: replace(d, distortion=distortion) if isinstance(d, ImageData) else d
            for m, d in inputs.data.items()
        }
        return _with_data(inputs, data)


class ImageNoise(ImageDistortion):
    name, fn = "image_noise", staticmethod(gaussian_noise)


class ImageBlur(ImageDistortion):
    name, fn = "image_blur", staticmethod(gaussian_blur)


class ImageContrast(ImageDistortion):
    name, fn = "image_contrast", staticmethod(gamma_contrast)


@hookimpl
def register_perturbations(register):
    register(
        "drop_modality",
        DropModality,
        description="One modality removed for every test subject (each modality in turn).",
        tags=Tags(removes_modalities=True),
    )
    register(
        "missing_rate",
        MissingRate,
        params=MissingRateParams,
        description="Each test subject loses each modality with probability p (keeps one).",
        tags=Tags(removes_modalities=True),
    )
    register(
        "permute_modality",
        PermuteModality,
        params=PermuteParams,
        description="One modality shuffled across test subjects (permutation contribution).",
    )
    data_tags = Tags(perturbs_data=True)
    register(
        "table_noise",
        TableNoise,
        params=TableNoiseParams,
        description="Gaussian noise on table/genotype columns, in training-part SD units.",
        tags=data_tags,
    )
    for cls, params, description in (
        (ImageNoise, ImageNoiseParams, "Gaussian noise on images (MONAI RandGaussianNoise)."),
        (ImageBlur, ImageBlurParams, "Gaussian blur of images (MONAI GaussianSmooth)."),
        (ImageContrast, ImageContrastParams, "Gamma contrast change (MONAI AdjustContrast)."),
    ):
        register(cls.name, cls, params=params, description=description, tags=data_tags)
