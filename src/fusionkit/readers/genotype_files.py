"""Genotypes as consortia ship them: PLINK 1 binary (``.bed/.bim/.fam``, through ``bed-reader``),
PLINK 2 (``.pgen/.pvar/.psam``, through ``pgenlib``) and VCF / BCF (through ``cyvcf2``), read
into the same subjects x variants table of allele counts as the CSV ``genotype`` reader.

- **Coding**: additive, 0 / 1 / 2 copies of the counted allele; a missing call stays missing
  (NaN). PLINK 1: the ``.bim``'s first allele (A1, PLINK's usual minor allele), as
  ``bed-reader``'s ``count_A1``; PLINK 2: the first ALT allele (PLINK 2's own counting);
  VCF: the number of non-reference (ALT) alleles of the genotype (``cyvcf2``'s ``gt_types``:
  HOM_REF 0, HET 1, HOM_ALT 2, UNKNOWN missing). Hard calls only (no dosages).
- **Subject ids**: PLINK: the ``.fam`` / ``.psam`` individual id (``ids: iid``) or ``FID_IID``
  (``ids: fid_iid``, joined by ``_``); VCF: the sample names. They are matched against
  the cohort's ``id_column`` like any table's ids.
- **Variants**: PLINK: the ``.bim`` / ``.pvar`` variant ids; VCF: the ``ID`` column, or
  ``CHROM:POS:REF:ALT`` where it is ``.`` (also for a ``.pvar``). ``variants: [...]`` keeps
  only those (in that order); a listed id that is absent is an error.
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


def _file_set(file: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """The main file of a PLINK file set given by its prefix or main file; every part must
    exist."""
    main = file if file.suffix == suffixes[0] else file.with_name(file.name + suffixes[0])
    for part in (main.with_suffix(s) for s in suffixes):
        if not part.is_file():
            needs = ", ".join(suffixes[:-1]) + f" and {suffixes[-1]}"
            raise DataError(f"{part}: file not found ({what} needs {needs})")
    return main


def _subject_ids(fid, iid, mode: str) -> list[str]:
    """Subject ids of a .fam / .psam: the individual id, or ``FID_IID`` (``ids: fid_iid``)."""
    return [f"{f}_{i}" if mode == "fid_iid" else str(i) for f, i in zip(fid, iid, strict=True)]


class PlinkReader:
    """PLINK 1 binary genotypes (see module doc)."""

    kind = "genotype"

    def __init__(self, params: PlinkParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        from bed_reader import open_bed

        bed = _file_set(ctx.root / path, (".bed", ".bim", ".fam"), "PLINK")
        try:
            with open_bed(bed, count_A1=True, num_threads=1) as reader:
                values = reader.read(dtype="float32")
                iid, fid, sid = reader.iid, reader.fid, reader.sid
        except Exception as exc:  # bed-reader raises its own types for a corrupt file
            raise DataError(f"{bed}: cannot read as PLINK: {str(exc).splitlines()[0]}") from None
        ids = _subject_ids(fid, iid, self.params.ids)
        frame = pd.DataFrame(values.astype(float), index=pd.Index(ids), columns=list(sid))
        return TableData(self.kind, _selected(frame, self.params.variants, bed), bed)


class PgenReader:
    """PLINK 2 genotypes (see module doc)."""

    kind = "genotype"

    def __init__(self, params: PlinkParams):
        self.params = params

    def read(self, path: str, ctx: ReadContext) -> TableData:
        import pgenlib

        pgen = _file_set(ctx.root / path, (".pgen", ".pvar", ".psam"), "PLINK 2")
        samples = _plink2_table(pgen.with_suffix(".psam"), ("IID",))
        variants = _plink2_table(pgen.with_suffix(".pvar"), ("CHROM", "POS", "ID", "REF", "ALT"))
        if self.params.ids == "fid_iid" and "FID" not in samples:
            raise DataError(f"{pgen.with_suffix('.psam')}: no FID column (params.ids: fid_iid)")
        ids = _subject_ids(samples.get("FID", samples.IID), samples.IID, self.params.ids)
        names = [
            v.ID if v.ID != "." else f"{v.CHROM}:{v.POS}:{v.REF}:{v.ALT}"
            for v in variants.itertuples()
        ]
        try:
            reader = pgenlib.PgenReader(bytes(pgen), raw_sample_ct=len(ids))
            if reader.get_variant_ct() != len(names):
                raise ValueError(
                    f"{reader.get_variant_ct()} variants but the .pvar lists {len(names)}"
                )
            counts = np.empty((len(names), len(ids)), dtype=np.int32)
            reader.read_range(0, len(names), counts)
            reader.close()
        except (RuntimeError, ValueError) as exc:
            raise DataError(f"{pgen}: cannot read as PLINK 2: {str(exc).splitlines()[0]}") from None
        values = np.where(counts < 0, np.nan, counts.astype(float)).T
        frame = pd.DataFrame(values, index=pd.Index(ids), columns=names)
        return TableData(self.kind, _selected(frame, self.params.variants, pgen), pgen)


def _plink2_table(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    """A .psam or .pvar: tab-separated, ``##`` meta lines skipped, header line starting ``#``."""
    with path.open() as handle:
        lines = [line for line in handle if not line.startswith("##")]
    if not lines or not lines[0].startswith("#"):
        raise DataError(f"{path}: no header line starting with '#' (PLINK 2 {path.suffix})")
    header = lines[0][1:].rstrip("\n").split("\t")
    rows = [line.rstrip("\n").split("\t") for line in lines[1:] if line.strip()]
    if any(len(r) != len(header) for r in rows):
        raise DataError(f"{path}: rows do not have the header's {len(header)} columns")
    table = pd.DataFrame(rows, columns=header, dtype=str)
    missing = [c for c in needed if c not in table]
    if missing:
        raise DataError(f"{path}: no {missing[0]} column")
    return table


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


def write_pgen(frame: pd.DataFrame, prefix: Path) -> None:
    """Write the same table as PLINK 2 ``prefix.pgen/.pvar/.psam`` (REF G, ALT A, chromosome 1;
    the counts are of ALT)."""
    import pgenlib

    writer = pgenlib.PgenWriter(
        bytes(Path(f"{prefix}.pgen")), frame.shape[0], frame.shape[1], False
    )
    for variant in frame.columns:
        calls = frame[variant].to_numpy(dtype=float)
        writer.append_biallelic(np.where(np.isnan(calls), -9, calls).astype(np.int8))
    writer.close()
    Path(f"{prefix}.psam").write_text("#IID\n" + "".join(f"{i}\n" for i in frame.index))
    rows = [f"1\t{1000 + i}\t{v}\tG\tA\n" for i, v in enumerate(frame.columns)]
    Path(f"{prefix}.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n" + "".join(rows))


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
        "pgen",
        PgenReader,
        params=PlinkParams,
        description="PLINK 2 genotypes (.pgen/.pvar/.psam): counts of the first ALT allele.",
        modalities=("genotype",),
    )
    register(
        "vcf",
        VcfReader,
        params=VcfParams,
        description="VCF / BCF genotypes: counts of non-reference alleles per sample.",
        modalities=("genotype",),
    )
