"""A synthetic ADNI-style cohort: EHR table, SNP genotypes and T1-like MRI for CN / MCI / AD.

The generative model (documented in ``docs/synthetic-data.md``); every draw comes from one
``numpy.random.Generator`` seeded by ``seed``, so a seed gives byte-identical files.

1. Class ``c`` ~ Categorical(CN 0.35, MCI 0.45, AD 0.20). Latent severity
   ``s | c ~ Normal(mu_c, 0.55)`` with ``mu = (0, 1, 2)``: overlapping, so no modality is perfect.
2. Demographics: age ~ Normal(72 + 1.5 c + age_shift, 6.5) clipped to [55, 95]; sex F/M with
   p = 0.5; education years ~ Normal(15.5, 2.8) clipped to [6, 22], rounded.
3. Genotypes (``n_snps`` SNPs): minor-allele frequencies ~ U(0.05, 0.5); LD blocks of 5-30 SNPs
   made by an AR(1) latent Gaussian per haplotype (neighbour correlation 0.85); an allele is
   present where the latent exceeds the MAF quantile. ``n_causal`` SNPs get a weak shift
   ``beta_j * z(s)`` of their latent (|beta| ~ U(0.1, 0.3)). The APOE-like SNP ``rs429358``
   has class-dependent allele frequency (CN 0.10, MCI 0.22, AD 0.40): a strong effect.
   About 1 % of calls are missing.
4. EHR: 25 columns, each a stated function of severity s, age a, education e plus noise
   (see ``_ehr``); strings for sex, ethnicity, marital status, smoking; the APOE e4 count from
   the genotype above; 5 % of non-demographic cells missing completely at random.
5. MRI: a 3D T1-like volume per subject (default 32 x 40 x 32 voxels of 6 mm, RAS affine):
   ellipsoidal brain with grey-matter shell over white matter; ventricles scaled by
   ``1 + 0.22 s + 0.012 (a - 72)``; hippocampus-like regions scaled by
   ``1 - 0.13 s - 0.006 (a - 72)``; cortex thinning with s; a smooth multiplicative bias field;
   Rician-like noise; scanner gain per site. The external site has another gain, offset,
   stronger bias field and more noise.
6. Availability like ADNI: every subject has EHR; SNP with p = 0.6 and MRI with p = 0.5,
   independently, so about 30 % have all three.

Nothing here was tuned to produce any particular comparison table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = ("CN", "MCI", "AD")
CLASS_P = (0.35, 0.45, 0.20)
SEVERITY_MU = (0.0, 1.0, 2.0)
SEVERITY_SD = 0.55
APOE_P = (0.10, 0.22, 0.40)


@dataclass(frozen=True)
class Site:
    """Acquisition of one site: scanner gain and offset, bias-field strength, noise level."""

    name: str
    gain: float
    offset: float
    bias: float
    noise: float


MAIN_SITES = (
    Site("site_a", 1000.0, 0.0, 0.10, 0.025),
    Site("site_b", 1080.0, 20.0, 0.12, 0.030),
    Site("site_c", 940.0, 0.0, 0.08, 0.028),
)
EXTERNAL_SITE = Site("site_ext", 1450.0, 120.0, 0.22, 0.045)


def generate(
    out: str | Path,
    *,
    seed: int = 0,
    n_subjects: int = 400,
    n_external: int = 150,
    n_snps: int = 1000,
    n_causal: int = 30,
    image_shape: tuple[int, int, int] = (32, 40, 32),
    p_snp: float = 0.6,
    p_mri: float = 0.5,
) -> dict:
    """Write the cohort under ``out`` (and the external site under ``out/external``)."""
    out = Path(out)
    rng = np.random.default_rng(seed)
    snp_model = _snp_model(rng, n_snps, n_causal)
    summary = {
        "main": _write_cohort(
            out, rng, "S", n_subjects, MAIN_SITES, 0.0, snp_model, image_shape, p_snp, p_mri
        ),
        "external": _write_cohort(
            out / "external",
            rng,
            "X",
            n_external,
            (EXTERNAL_SITE,),
            4.0,
            snp_model,
            image_shape,
            p_snp,
            p_mri,
        ),
        "seed": seed,
        "image_shape": list(image_shape),
    }
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# -- subjects ------------------------------------------------------------------------------------
def _write_cohort(
    out: Path,
    rng: np.random.Generator,
    prefix: str,
    n: int,
    sites: tuple[Site, ...],
    age_shift: float,
    snp_model: dict,
    shape: tuple[int, int, int],
    p_snp: float,
    p_mri: float,
) -> dict:
    (out / "images").mkdir(parents=True, exist_ok=True)
    ids = [f"{prefix}{i + 1:04d}" for i in range(n)]
    c = rng.choice(3, size=n, p=CLASS_P)
    s = rng.normal(np.take(SEVERITY_MU, c), SEVERITY_SD)
    age = np.clip(rng.normal(72 + 1.5 * c + age_shift, 6.5), 55, 95).round(1)
    female = rng.random(n) < 0.5
    educ = np.clip(rng.normal(15.5, 2.8, n), 6, 22).round()
    site_idx = rng.integers(len(sites), size=n)

    genotypes, apoe = _genotypes(rng, snp_model, c, s)
    has_snp = rng.random(n) < p_snp
    has_mri = rng.random(n) < p_mri

    pd.DataFrame(
        {
            "subject_id": ids,
            "diagnosis": np.take(CLASSES, c),
            "site": [sites[i].name for i in site_idx],
        }
    ).to_csv(out / "cohort.csv", index=False)
    ehr = _ehr(rng, s, age, female, educ, apoe)
    ehr.insert(0, "subject_id", ids)
    ehr.to_csv(out / "ehr.csv", index=False)
    snp = pd.DataFrame(genotypes, columns=snp_model["names"]).astype("Int8")
    snp.insert(0, "subject_id", ids)
    snp[has_snp].to_csv(out / "snp.csv", index=False)
    for i in np.flatnonzero(has_mri):
        volume = _mri(rng, shape, s[i], age[i], female[i], sites[site_idx[i]])
        _save_nifti(volume, out / "images" / f"{ids[i]}.nii.gz")
    return {
        "subjects": n,
        "classes": {name: int(np.sum(c == k)) for k, name in enumerate(CLASSES)},
        "with_snp": int(has_snp.sum()),
        "with_mri": int(has_mri.sum()),
        "with_all": int((has_snp & has_mri).sum()),
    }


# -- genotypes -----------------------------------------------------------------------------------
def _snp_model(rng: np.random.Generator, n_snps: int, n_causal: int) -> dict:
    maf = rng.uniform(0.05, 0.5, n_snps)
    blocks, start = [], 0
    while start < n_snps:
        size = int(rng.integers(5, 31))
        blocks.append((start, min(start + size, n_snps)))
        start += size
    causal = np.sort(rng.choice(n_snps, size=n_causal, replace=False))
    beta = rng.uniform(0.1, 0.3, n_causal) * rng.choice([-1, 1], n_causal)
    apoe_col = int(rng.integers(n_snps))
    names = [f"rs{100000 + j}" for j in range(n_snps)]
    names[apoe_col] = "rs429358"
    return {
        "maf": maf,
        "blocks": blocks,
        "causal": causal,
        "beta": beta,
        "apoe": apoe_col,
        "names": names,
    }


def _genotypes(
    rng: np.random.Generator, model: dict, c: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import norm

    n, p = len(c), len(model["maf"])
    z_s = (s - 1.0) / 1.0
    threshold = norm.ppf(1 - model["maf"])
    counts = np.zeros((n, p), dtype=float)
    rho = 0.85
    for _ in range(2):  # two haplotypes
        latent = np.empty((n, p))
        for a, b in model["blocks"]:
            eps = rng.normal(size=(n, b - a))
            latent[:, a] = eps[:, 0]
            for j in range(1, b - a):
                latent[:, a + j] = rho * latent[:, a + j - 1] + np.sqrt(1 - rho**2) * eps[:, j]
        latent[:, model["causal"]] += model["beta"] * z_s[:, None]
        counts += latent > threshold
    apoe = rng.binomial(2, np.take(APOE_P, c))
    counts[:, model["apoe"]] = apoe
    counts[rng.random((n, p)) < 0.01] = np.nan
    return counts, apoe


# -- EHR -----------------------------------------------------------------------------------------
def _ehr(
    rng: np.random.Generator,
    s: np.ndarray,
    age: np.ndarray,
    female: np.ndarray,
    educ: np.ndarray,
    apoe: np.ndarray,
) -> pd.DataFrame:
    n = len(s)
    a, e = age - 72, educ - 15.5

    def noise(sd: float) -> np.ndarray:
        return rng.normal(0, sd, n)

    def clip(x: np.ndarray, lo: float, hi: float, step: float = 1.0) -> np.ndarray:
        return np.round(np.clip(x, lo, hi) / step) * step

    def flag(logit: np.ndarray) -> np.ndarray:
        return (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)

    frame = pd.DataFrame(
        {
            "age": age,
            "sex": np.where(female, "F", "M"),
            "education_years": educ,
            "ethnicity": rng.choice(
                ["white", "black", "asian", "hispanic", "other"], n, p=[0.72, 0.1, 0.06, 0.08, 0.04]
            ),
            "marital_status": rng.choice(
                ["married", "widowed", "divorced", "never"], n, p=[0.66, 0.18, 0.11, 0.05]
            ),
            "mmse": clip(29.2 - 1.9 * s - 0.05 * a + 0.15 * e + noise(1.3), 0, 30),
            "moca": clip(26.5 - 2.4 * s - 0.06 * a + 0.25 * e + noise(1.8), 0, 30),
            "cdr_sb": clip(0.2 + 1.5 * s + noise(0.9), 0, 18, 0.5),
            "adas_cog13": clip(9 + 6.5 * s + 0.12 * a - 0.35 * e + noise(4.5), 0, 85, 0.33),
            "ravlt_immediate": clip(44 - 6.5 * s - 0.3 * a + 0.6 * e + noise(7), 0, 75),
            "ravlt_learning": clip(5.5 - 1.1 * s - 0.03 * a + noise(2.2), -5, 14),
            "ravlt_forgetting": clip(3.5 + 0.9 * s + noise(2.3), -5, 15),
            "faq": clip(-0.5 + 3.2 * s + noise(2.6), 0, 30),
            "trail_b_seconds": clip(75 + 35 * s + 2.0 * a - 3 * e + noise(30), 25, 300),
            "gds": clip(1.2 + 0.5 * s + noise(1.5), 0, 15),
            "systolic_bp": clip(128 + 0.5 * a + noise(14), 85, 210),
            "diastolic_bp": clip(76 + 0.1 * a + noise(9), 45, 120),
            "heart_rate": clip(66 + noise(9), 40, 120),
            "bmi": clip(27 - 0.5 * s - 0.05 * a + noise(4), 15, 50, 0.1),
            "hypertension": flag(-0.3 + 0.06 * a),
            "diabetes": flag(-1.9 + 0.02 * a),
            "hyperlipidemia": flag(-0.2 + 0.02 * a),
            "stroke_history": flag(-3.0 + 0.05 * a + 0.15 * s),
            "smoking_status": rng.choice(["never", "former", "current"], n, p=[0.55, 0.38, 0.07]),
            "apoe4_count": apoe.astype(float),
        }
    )
    keep = ["age", "sex", "education_years"]
    for column in frame.columns:
        if column not in keep:
            gone = rng.random(n) < 0.05
            frame[column] = frame[column].where(
                ~gone, None if frame[column].dtype == object else np.nan
            )
    return frame


# -- MRI -----------------------------------------------------------------------------------------
def _mri(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    s: float,
    age: float,
    female: bool,
    site: Site,
) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    a = age - 72
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, k) for k in shape), indexing="ij")
    head = rng.normal(0.96 if female else 1.0, 0.03)

    def ellipsoid(cx, cy, cz, rx, ry, rz):
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1

    atrophy = 1 - 0.025 * s - 0.0015 * a
    brain = ellipsoid(0, 0, 0, 0.82 * head * atrophy, 0.88 * head * atrophy, 0.78 * head * atrophy)
    skull = ellipsoid(0, 0, 0, 0.9 * head, 0.96 * head, 0.86 * head) & ~ellipsoid(
        0, 0, 0, 0.85 * head, 0.91 * head, 0.81 * head
    )
    cortex = max(0.05, 0.16 - 0.02 * s - 0.001 * a + rng.normal(0, 0.005))
    white = ellipsoid(
        0,
        0,
        0,
        (0.82 - cortex) * head * atrophy,
        (0.88 - cortex) * head * atrophy,
        (0.78 - cortex) * head * atrophy,
    )
    v = max(0.5, (1 + 0.22 * s + 0.012 * a) * np.exp(rng.normal(0, 0.08)))
    ventricles = ellipsoid(-0.13, 0.02, 0.08, 0.08 * v, 0.24 * v, 0.11 * v) | ellipsoid(
        0.13, 0.02, 0.08, 0.08 * v, 0.24 * v, 0.11 * v
    )
    h = max(0.3, (1 - 0.13 * s - 0.006 * a) * np.exp(rng.normal(0, 0.06)))
    hippocampus = ellipsoid(-0.36, -0.1, -0.28, 0.08 * h, 0.2 * h, 0.08 * h) | ellipsoid(
        0.36, -0.1, -0.28, 0.08 * h, 0.2 * h, 0.08 * h
    )
    hippo_region = ellipsoid(-0.36, -0.1, -0.28, 0.1, 0.24, 0.1) | ellipsoid(
        0.36, -0.1, -0.28, 0.1, 0.24, 0.1
    )

    image = np.zeros(shape)
    image[skull] = 0.35
    image[ellipsoid(0, 0, 0, 0.85 * head, 0.91 * head, 0.81 * head)] = 0.15  # CSF under skull
    image[brain] = 0.62  # grey matter
    image[white] = 1.0
    image[hippo_region & brain] = 0.15  # CSF around the hippocampus...
    image[hippocampus & brain] = 0.62  # ...which the hippocampus fills less as it shrinks
    image[ventricles] = 0.12
    image = gaussian_filter(image, 0.7)  # partial volume

    coef = rng.normal(0, site.bias, 4)
    bias = np.exp(coef[0] * x + coef[1] * y + coef[2] * z + coef[3] * (x**2 + y**2 - 0.5))
    image = image * bias
    real = image + rng.normal(0, site.noise, shape)
    imag = rng.normal(0, site.noise, shape)
    image = np.sqrt(real**2 + imag**2)  # Rician-like magnitude noise
    return image * site.gain + site.offset


def _save_nifti(volume: np.ndarray, path: Path, spacing: float = 6.0) -> None:
    import nibabel as nib

    shape = np.array(volume.shape)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -(shape - 1) / 2 * spacing  # centre the field of view on the origin (RAS)
    image = nib.Nifti1Image(np.clip(volume, 0, 32767).round().astype(np.int16), affine)
    image.header.set_xyzt_units("mm")
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    nib.save(image, str(path))
