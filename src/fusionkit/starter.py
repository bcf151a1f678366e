"""A first config from a folder of data files (``fusionkit init``).

What it looks for, and how it decides (every choice is written as a comment in the config, to
be checked and edited):

- **tables** (``.csv``, ``.tsv``): the *cohort* is the table with a label column (named
  ``diagnosis``, ``label``, ``class``, ``dx``, ``group``, ``target`` or ``outcome``, or else the
  text column with 2 to 10 values) and the fewest columns; its id column is one named like
  ``subject_id``/``id``/``ptid`` or else the first column with unique values. Every other
  table with that id column is a modality: ``genotype`` when it has at least 20 columns and
  every value is 0, 1, 2 or missing, otherwise ``table``. Numeric columns of the cohort table
  itself (besides id and label) become a ``clinical`` modality. A table listing a subject more
  than once is longitudinal: a column named like ``VISCODE``/``visit`` that tells the rows of a
  subject apart becomes ``visit_column``, with the visit most subjects have first (e.g. ``bl``)
  as ``visit``. Columns of ISO dates are excluded from the features.
- **images** (``.nii.gz``, ``.nii``, ``.dcm``, ``.png``, ``.jpg``, ``.jpeg``) in a folder, named
  after the subject: ``images/S0001.nii.gz`` gives the pattern ``images/{subject_id}.nii.gz``;
  several files per subject (``S0001_a.jpg``, ``S0001_c.jpg``) give ``{subject_id}_[ac].jpg``;
  sub-folders named after subjects (DICOM series, ``dicom/S0001/*.dcm``) give
  ``dicom/{subject_id}``.
- **genotype files**: a ``.bed`` with its ``.bim`` and ``.fam`` is a ``plink`` modality, a
  ``.vcf``, ``.vcf.gz`` or ``.bcf`` a ``vcf`` one.
- **a split**: a cohort column holding only ``train``, ``val`` and ``test`` (train and test at
  least) becomes ``evaluation.split_column``; otherwise 5-fold cross-validation.
- **an external test cohort**: a sub-folder with a table of the cohort's name (e.g.
  ``external/cohort.csv``) becomes ``data.external``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fusionkit.errors import DataError

LABEL_NAMES = ("diagnosis", "label", "class", "dx", "group", "target", "outcome")
ID_NAMES = ("subject_id", "subject", "id", "ptid", "participant_id", "rid", "patient_id")
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".dcm", ".png", ".jpg", ".jpeg")
TABLE_SUFFIXES = (".csv", ".tsv")
VISIT_NAMES = ("viscode", "viscode2", "visit", "visit_code", "visit_id", "session", "timepoint")
FOLDS = 5


@dataclass
class Draft:
    """What `draft` found: the cohort, the modalities, and what it left out (and why)."""

    root: Path
    cohort: str
    id_column: str
    label_column: str
    classes: list[str]
    modalities: dict[str, dict] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    external: str | None = None
    skipped: list[str] = field(default_factory=list)
    small: dict[str, int] = field(default_factory=dict)
    split_column: str | None = None


def _sep(path: Path) -> str:
    return "\t" if path.suffix == ".tsv" else ","


def _read(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep=_sep(path), low_memory=False)
    except (ValueError, OSError, UnicodeDecodeError):
        return None


def _id_column(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        if str(column).lower() in ID_NAMES and frame[column].is_unique:
            return str(column)
    for column in frame.columns:
        if frame[column].notna().all() and frame[column].is_unique:
            return str(column)
    return None


def _label_column(frame: pd.DataFrame, id_column: str) -> str | None:
    for column in frame.columns:
        if str(column).lower() in LABEL_NAMES:
            return str(column)
    for column in frame.columns:
        values = frame[column].dropna()
        text = not pd.api.types.is_numeric_dtype(values)
        if column != id_column and text and 2 <= values.nunique() <= 10:
            return str(column)
    return None


def _is_genotype(frame: pd.DataFrame, id_column: str) -> bool:
    values = frame.drop(columns=[id_column])
    if values.shape[1] < 20 or not all(t.kind in "iuf" for t in values.dtypes):
        return False
    present = pd.unique(values.to_numpy(dtype=float).ravel())
    return set(present[~pd.isna(present)].tolist()) <= {0, 1, 2}


def _table_params(frame: pd.DataFrame, id_column: str) -> tuple[dict, str]:
    """The table reader's params for a modality table, and what they say: a longitudinal
    table's visit rule, date columns left out of the features."""
    from fusionkit.readers.longitudinal import all_dates

    params: dict = {}
    notes = []
    dates = [
        str(c)
        for c in frame.columns
        if c != id_column and not pd.api.types.is_numeric_dtype(frame[c]) and all_dates(frame[c])
    ]
    if not frame[id_column].is_unique:
        column = next(
            (
                str(c)
                for c in frame.columns
                if str(c).lower() in VISIT_NAMES and not frame.duplicated([id_column, c]).any()
            ),
            None,
        )
        if column is None:
            notes.append("ids repeat and no visit column found: set params.visit")
        else:
            first = frame.groupby(id_column, sort=False)[column].first().astype(str)
            params = {"visit_column": column, "visit": first.value_counts().index[0]}
            notes.append(
                f"one row per visit: keeps visit {params['visit']!r}"
                + (f" (or visit: nearest, date_column: {dates[0]})" if dates else "")
            )
    if dates:
        params["exclude"] = dates
        notes.append(f"dates left out: {', '.join(dates)}")
    return params, "; ".join(notes)


def _name(path: Path, root: Path) -> str:
    stem = path.relative_to(root).as_posix()
    for suffix in (*IMAGE_SUFFIXES, *TABLE_SUFFIXES, ".vcf.gz", ".vcf", ".bcf"):
        stem = stem.removesuffix(suffix)
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", stem).strip("_").lower() or "modality"
    return name if name[0].isalpha() else f"m_{name}"


def _genotype_file(path: Path) -> str | None:
    """``plink`` for a .bed with its .bim and .fam, ``pgen`` for a .pgen with its .pvar and
    .psam, ``vcf`` for a VCF / BCF file."""
    if path.suffix == ".bed" and all(path.with_suffix(s).is_file() for s in (".bim", ".fam")):
        return "plink"
    if path.suffix == ".pgen" and all(path.with_suffix(s).is_file() for s in (".pvar", ".psam")):
        return "pgen"
    if path.name.endswith((".vcf", ".vcf.gz", ".bcf")):
        return "vcf"
    return None


def _series_pattern(folder: Path, root: Path, ids: set[str]) -> str | None:
    """``folder/{subject_id}`` when its sub-folders are subjects' DICOM series."""
    subs = [p for p in folder.iterdir() if p.is_dir()]
    series = [p for p in subs if p.name in ids and any(f.is_file() for f in p.iterdir())]
    if not series or len(series) < len(subs) / 2:
        return None
    return f"{folder.relative_to(root).as_posix()}/{{subject_id}}"


def _image_pattern(folder: Path, root: Path, ids: set[str]) -> str | None:
    """``folder/{subject_id}<rest>`` when the files are named after subjects."""
    rests: set[str] = set()
    matched = 0
    files = [p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)]
    for path in files:
        subject = max((s for s in ids if path.name.startswith(s)), key=len, default=None)
        if subject is None:
            continue
        matched += 1
        rests.add(path.name[len(subject) :])
    if not matched or matched < len(files) / 2:
        return None
    rel = folder.relative_to(root).as_posix()
    if len(rests) == 1:
        rest = rests.pop()
    else:
        lengths = {len(r) for r in rests}
        if len(lengths) != 1:
            return None
        chars = list(zip(*sorted(rests), strict=True))
        varying = [i for i, c in enumerate(chars) if len(set(c)) > 1]
        if len(varying) != 1:
            return None
        i = varying[0]
        first = sorted(rests)[0]
        rest = first[:i] + "[" + "".join(sorted(set(chars[i]))) + "]" + first[i + 1 :]
    return f"{rel}/{{subject_id}}{rest}"


def draft(root: Path, label: str | None = None, id_column: str | None = None) -> Draft:
    """Look through ``root`` (see module doc); ``label``/``id_column`` name the cohort's
    columns instead of guessing. DataError if no cohort table is found."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    tables = {
        p: f
        for p in sorted(root.glob("*"))
        if p.is_file() and p.suffix in TABLE_SUFFIXES and (f := _read(p)) is not None
    }
    candidates = []
    for path, frame in tables.items():
        if label is not None and label not in frame.columns:
            continue
        ids_in = id_column if id_column in frame.columns else _id_column(frame)
        found = label or (_label_column(frame, ids_in) if ids_in else None)
        if ids_in and found:
            candidates.append((frame.shape[1], path, ids_in, found))
    if not candidates:
        wanted = (
            f"a label column {label!r}"
            if label
            else (f"a label column such as {', '.join(LABEL_NAMES[:4])} (or name it: --label)")
        )
        raise DataError(
            f"{root}: no cohort table found (a .csv or .tsv with a unique id column and {wanted})"
        )
    _, cohort_path, id_column, label = min(candidates, key=lambda c: (c[0], str(c[1])))
    cohort = tables[cohort_path]
    ids = set(cohort[id_column].astype(str))
    as_text = pd.read_csv(cohort_path, usecols=[label], dtype=str, sep=_sep(cohort_path))[label]
    counts = as_text.value_counts()
    classes = sorted(counts.index.tolist())  # as the cohort reader reads them
    out = Draft(root, cohort_path.name, id_column, label, classes)
    out.small = {c: int(counts[c]) for c in classes if counts[c] < FOLDS}
    out.split_column = next(
        (
            str(c)
            for c in cohort.columns
            if {"train", "test"} <= set(cohort[c].astype(str)) <= {"train", "val", "test"}
        ),
        None,
    )
    extra = [
        str(c)
        for c in cohort.columns
        if c not in (id_column, label) and cohort[c].dtype.kind in "iuf"
    ]
    if extra:
        out.modalities["clinical"] = {
            "kind": "table",
            "path": cohort_path.name,
            "reader": {"type": "table", "params": {"columns": extra}},
        }
        out.reasons["clinical"] = f"numeric columns of {cohort_path.name}"
    for path, frame in tables.items():
        if path == cohort_path:
            continue
        if id_column not in frame.columns:
            out.skipped.append(f"{path.name}: no {id_column!r} column")
            continue
        kind = "genotype" if _is_genotype(frame, id_column) else "table"
        name = _name(path, root)
        out.modalities[name] = {"kind": kind, "path": path.name}
        why = "0/1/2 values in 20+ columns" if kind == "genotype" else "a table of values"
        out.reasons[name] = f"{frame.shape[1] - 1} columns; {why}"
        if kind == "table":
            params, note = _table_params(frame, id_column)
            if params:
                out.modalities[name]["reader"] = {"type": "table", "params": params}
            if note:
                out.reasons[name] += f"; {note}"
    for path in sorted(root.glob("*")):
        reader = _genotype_file(path)
        if reader is not None:
            prefix = reader in ("plink", "pgen")  # named by the file set's common prefix
            name = _name(path.with_suffix("") if prefix else path, root)
            target = path.with_suffix("").name if prefix else path.name
            out.modalities[name] = {"kind": "genotype", "path": target, "reader": reader}
            out.reasons[name] = {
                "plink": "PLINK .bed/.bim/.fam",
                "pgen": "PLINK 2 .pgen/.pvar/.psam",
                "vcf": "VCF / BCF",
            }[reader]
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        if folder.name in ids:
            continue  # a subject's series, found from its parent
        pattern = _series_pattern(folder, root, ids) or _image_pattern(folder, root, ids)
        if pattern is None:
            continue
        if (root / folder.relative_to(root).parts[0] / out.cohort).is_file():
            continue  # an external cohort's images
        name = _name(folder, root)
        out.modalities[name] = {"kind": "image", "path": pattern}
        what = "DICOM series folders" if pattern.endswith("}") else "image files"
        out.reasons[name] = f"{what} named after subjects"
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if (sub / out.cohort).is_file():
            out.external = sub.name
    if not out.modalities:
        raise DataError(f"{root}: found the cohort {out.cohort} but no modality files")
    return out


def _encoder(kind: str) -> str:
    if kind == "image":
        return (
            "{type: resnet10, params: {widen_factor: 0.25, "
            "train: {epochs: 10, batch_size: 16, patience: 4}}}"
        )
    return "{type: mlp, params: {hidden: [32, 16], train: {epochs: 60, patience: 8}}}"


def config_text(found: Draft, name: str) -> str:
    """The config as commented YAML."""
    import yaml

    def flow(value) -> str:
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
        return text.strip()

    lines = [
        f"# Written by `fusionkit init {found.root}`: check every line, then",
        f"#   fusionkit validate {name}.yaml && fusionkit run {name}.yaml",
        f"name: {name}",
        "seed: 42",
        "",
        "data:",
        f"  root: {found.root.resolve()}",
        f"  cohort: {found.cohort}          # the table with one row per subject and its label",
        f"  id_column: {found.id_column}",
        f"  label_column: {found.label_column}",
        f"  classes: {flow(found.classes)}   # the order used in tables and plots",
    ]
    for label, count in found.small.items():
        i = found.classes.index(label)
        other = found.classes[i - 1] if i else found.classes[min(1, len(found.classes) - 1)]
        lines.append(
            f"  # class {label!r} has {count} subjects, fewer than the {FOLDS} folds: merge it "
            f"into its neighbour, e.g. label_map: {{{label!r}: {other!r}}} and drop it from classes"
        )
    lines += [
        "  modalities:",
    ]
    for modality, spec in found.modalities.items():
        lines.append(f"    {modality}: {flow(spec)}   # {found.reasons[modality]}")
    if found.external:
        lines.append(f"  external: {{root: {found.external}}}   # the same files, another cohort")
    for skipped in found.skipped:
        lines.append(f"  # left out: {skipped}")
    lines += [
        "",
        "# The deep model of each modality (small, for a CPU; raise epochs and width on a GPU).",
        "encoders:",
    ]
    for modality, spec in found.modalities.items():
        lines.append(f"  {modality}: {_encoder(spec['kind'])}")
    lines += [
        "",
        "scenarios: all   # every modality alone and every combination",
        "",
        "methods:",
        "  - logistic_regression   # shallow baselines on each modality's own features",
        "  - {type: random_forest, params: {n_estimators: 200}}",
        "  - xgboost",
        "  - {name: feature_level, type: feature_level, params: {features: encoded}}",
        "  - {name: decision_level, type: decision_level, params: {features: encoded, "
        "combine: stacking}}",
        "  - deep_concat",
        "",
        "evaluation:",
        (
            f"  split_column: {found.split_column}   # the cohort's own train / val / test split"
            if found.split_column
            else f"  cv_folds: {FOLDS}"
        ),
        "  missing: complete_case   # or available: use every subject with any modality",
        "",
    ]
    return "\n".join(lines)
