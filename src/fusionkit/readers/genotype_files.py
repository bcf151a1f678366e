"""Genotypes as consortia ship them: PLINK 1 binary (``.bed/.bim/.fam``, through ``bed-reader``)
and VCF / BCF (through ``cyvcf2``), read into the same subjects x variants table of allele
counts as the CSV ``genotype`` reader.

- **Coding**: additive, 0 / 1 / 2 copies of the counted allele; a missing call stays missing
  (NaN). PLINK: the ``.bim``'s first allele (A1, PLINK's usual minor allele), as
  ``bed-reader``'s ``count_A1``; VCF: the number of non-reference (ALT) alleles of the
  genotype (``cyvcf2``'s ``gt_types``: HOM_REF 0, HET 1, HOM_ALT 2, UNKNOWN missing).
- **Subject ids**: PLINK: the ``.fam``'s individual id (``ids: iid``) or ``FID_IID``
  (``ids: fid_iid``, joined by ``_``); VCF: the sample names. They are matched against
  the cohort's ``id_column`` like any table's ids.
- **Variants**: PLINK: the ``.bim`` variant ids; VCF: the ``ID`` column, or
  ``CHROM:POS:REF:ALT`` where it is ``.``. ``variants: [...]`` keeps only those (in that
  order); a listed id that is absent is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.data.modality import TableData
from fusionkit.errors import DataError
from fusionkit.hookspecs import hookimpl
from fusionkit.readers.base import ReadContext


class PlinkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Literal["iid", "fid_iid"] = Field(
        "iid", description="Subject id from the .fam: the individual id, or FID_IID."
    )
    variants: list[str] | None = Field(None, description="Keep only these variant ids.")


class VcfParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variants: list[str] | None = Field(None, description="Keep only these variant ids.")


def _selected(frame: pd.DataFrame, variants: list[str] | None, file: Path) -> pd.DataFrame:
    if frame.index.has_duplicates:
        repeated = frame.index[frame.index.duplicated()][0]
        raise DataError(f"{file}: subject {repeated!r} appears twice")
    if variants is None:
        return frame
    absent = [v for v in variants if v not in frame.columns]
    if absent:
        raise DataError(f"{file}: variant {absent[0]!r} (params.variants) not found")
    return frame[variants]


class PlinkReader:
    """PLINK 1 binary genotypes (see module doc)."""

    kind = "genotype"

    def __init__(self, params: PlinkParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        from bed_reader import open_bed

        file = ctx.root / path
        bed = file if file.suffix == ".bed" else file.with_name(file.name + ".bed")
        for part in (bed, bed.with_suffix(".bim"), bed.with_suffix(".fam")):
            if not part.is_file():
                raise DataError(f"{part}: file not found (PLINK needs .bed, .bim and .fam)")
        try:
            with open_bed(bed, count_A1=True, num_threads=1) as reader:
                values = reader.read(dtype="float32")
                iid, fid, sid = reader.iid, reader.fid, reader.sid
        except Exception as exc:  # bed-reader raises its own types for a corrupt file
            raise DataError(f"{bed}: cannot read as PLINK: {str(exc).splitlines()[0]}") from None
        ids = [
            f"{f}_{i}" if self.params.ids == "fid_iid" else str(i)
            for f, i in zip(fid, iid, strict=True)
        ]
        frame = pd.DataFrame(values.astype(float), index=pd.Index(ids), columns=list(sid))
        return TableData(self.kind, _selected(frame, self.params.variants, bed), bed)


class VcfReader:
    """VCF / BCF genotypes (see module doc)."""

    kind = "genotype"

    def __init__(self, params: VcfParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        from cyvcf2 import VCF

        file = ctx.root / path
        if not file.is_file():
            raise DataError(f"{file}: file not found")
        counts = {0: 0.0, 1: 1.0, 2: np.nan, 3: 2.0}  # HOM_REF, HET, UNKNOWN, HOM_ALT
        columns, names = [], []
        try:
            vcf = VCF(str(file), gts012=False, threads=1)
            samples = list(vcf.samples)
            for variant in vcf:
                name = variant.ID or f"{variant.CHROM}:{variant.POS}:{variant.REF}:" + ",".join(
                    variant.ALT
                )
                names.append(name)
                columns.append([counts[int(t)] for t in variant.gt_types])
            vcf.close()
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{file}: cannot read as VCF: {str(exc).splitlines()[0]}") from None
        if not names:
            raise DataError(f"{file}: no variants")
        values = np.array(columns, dtype=float).T.reshape(len(samples), len(names))
        frame = pd.DataFrame(values, index=pd.Index(samples), columns=names)
        return TableData(self.kind, _selected(frame, self.params.variants, file), file)


def write_plink(frame: pd.DataFrame, prefix: Path) -> None:
    """Write a subjects x variants table of allele counts (NaN: missing) as PLINK 1 binary
    ``prefix.bed/.bim/.fam`` (FID = IID = the subject id; alleles A/G, chromosome 1): for
    tests, examples and converting a CSV for tools that want PLINK."""
    from bed_reader import to_bed

    to_bed(
        f"{prefix}.bed",
        np.array(frame.to_numpy(dtype="float32"), copy=True),  # writeable (pandas 3 CoW)
        properties={
            "iid": list(frame.index),
            "fid": list(frame.index),
            "sid": list(frame.columns),
            "chromosome": ["1"] * frame.shape[1],
            "bp_position": list(range(1000, 1000 + frame.shape[1])),
            "allele_1": ["A"] * frame.shape[1],
            "allele_2": ["G"] * frame.shape[1],
        },
    )


def write_vcf(frame: pd.DataFrame, path: Path) -> None:
    """Write the same table as a minimal VCF 4.2 (GT only; REF G, ALT A): counts 0/1/2 as
    0/0, 0/1, 1/1, NaN as ./."""
    calls = {0.0: "0/0", 1.0: "0/1", 2.0: "1/1"}
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "##contig=<ID=1>",
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + list(frame.index)
        ),
    ]
    for i, variant in enumerate(frame.columns):
        gts = [calls.get(v, "./.") for v in frame[variant]]
        lines.append(
            "\t".join(["1", str(1000 + i), variant, "G", "A", ".", "PASS", ".", "GT", *gts])
        )
    path.write_text("\n".join(lines) + "\n")


@hookimpl
def register_readers(register):
    register(
        "plink",
        PlinkReader,
        params=PlinkParams,
        description="PLINK 1 binary genotypes (.bed/.bim/.fam): counts of the A1 allele.",
        modalities=("genotype",),
    )
    register(
        "vcf",
        VcfReader,
        params=VcfParams,
        description="VCF / BCF genotypes: counts of non-reference alleles per sample.",
        modalities=("genotype",),
    )
