"""Built-in synthetic datasets: the ADNI-style cohort and the five-class image set."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from fusionkit.hookspecs import hookimpl


class AdniLikeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seed of the generator (not of the experiment).")
    n_subjects: int = Field(400, ge=30)
    n_external: int = Field(150, ge=0, description="Subjects of the external-site cohort.")
    n_snps: int = Field(1000, ge=10)
    n_causal: int = Field(30, ge=0)
    image_shape: tuple[int, int, int] = (32, 40, 32)
    p_snp: float = Field(0.6, gt=0, le=1, description="Share of subjects with genotypes.")
    p_mri: float = Field(0.5, gt=0, le=1, description="Share of subjects with an MRI.")


class Imaging5ClassParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0)
    per_class: int = Field(60, ge=2)
    size: int = Field(64, ge=16, le=1024)


class AdniLike:
    def __init__(self, params: AdniLikeParams):
        self.params = params

    def materialize(self, dest: Path) -> dict:
        from fusionkit.data.synthetic.adni_like import generate

        return generate(dest, **self.params.model_dump())


class Imaging5Class:
    def __init__(self, params: Imaging5ClassParams):
        self.params = params

    def materialize(self, dest: Path) -> dict:
        from fusionkit.data.synthetic.imaging_5class import generate

        return generate(dest, **self.params.model_dump())


@hookimpl
def register_datasets(register):
    register(
        "adni_like",
        AdniLike,
        params=AdniLikeParams,
        description="Synthetic ADNI-style CN/MCI/AD cohort: EHR, SNP and 3D MRI, external site.",
        modalities=("table", "genotype", "image"),
    )
    register(
        "imaging_5class",
        Imaging5Class,
        params=Imaging5ClassParams,
        description="Synthetic five-class image folders (X-ray, CT, endoscopy, hand, lung CT).",
        modalities=("image",),
    )
