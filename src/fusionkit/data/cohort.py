"""Build a cohort: subjects joined by id (never by row position), labels, modalities, availability.

The cohort table (``data.cohort``) holds one row per subject with the id and label columns; each
modality is read by its reader and joined to it by subject id. A folder instead of a table is a
class-folder cohort: every image file under ``<class>/`` is a subject labelled by its folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fusionkit.api import PredictionTask
from fusionkit.config import ExperimentConfig, label_text
from fusionkit.data.images import SUFFIXES
from fusionkit.data.modality import ImageData, ModalityData, TableData
from fusionkit.errors import DataError
from fusionkit.readers.base import ReadContext
from fusionkit.readers.longitudinal import parse_dates
from fusionkit.readers.table import read_table_file


@dataclass
class Cohort:
    """Subjects, their labels and every modality's data, aligned by subject id."""

    ids: list[str]
    y: np.ndarray
    classes: list[str]
    modalities: dict[str, ModalityData]
    available: pd.DataFrame
    groups: np.ndarray
    source: Path
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    splits: np.ndarray | None = None  # per subject: split_column's or leave_out_column's value

    def class_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Subjects per class (optionally among ``mask``)."""
        y = self.y if mask is None else self.y[mask]
        return {c: int(np.sum(y == i)) for i, c in enumerate(self.classes)}

    def complete(self, modalities: tuple[str, ...] | list[str]) -> np.ndarray:
        """Boolean mask of subjects that have every one of ``modalities``."""
        return self.available[list(modalities)].all(axis=1).to_numpy()

    def scored(self, scenario: tuple[str, ...] | list[str], policy: str) -> np.ndarray:
        """Boolean mask of the subjects a scenario fits and scores under the missing-modality
        policy: ``complete_case`` those having all of its modalities, ``available`` those
        having any."""
        have = self.available[list(scenario)].to_numpy()
        return have.all(axis=1) if policy == "complete_case" else have.any(axis=1)


def data_root(config: ExperimentConfig, external: bool = False) -> Path:
    """Where relative data paths start: data.root (relative to the config file), the built-in
    dataset's cache folder, or the config file's folder."""
    base = config.source.parent if config.source else Path.cwd()
    data = config.data
    if data.root is not None:
        root = base / data.root
    elif data.dataset is not None:
        from fusionkit.datasets.cache import materialize

        root = materialize(data.dataset)
    else:
        root = base
    if external:
        assert data.external is not None
        root = root / data.external.root
    return Path(os.path.normpath(root))


def load_cohort(
    config: ExperimentConfig,
    external: bool = False,
    verify: bool = True,
    task: PredictionTask | None = None,
) -> Cohort:
    """Read the cohort table and every modality; `DataError` names the file for any problem.
    The target column is read by the run's ``task`` (built from ``config.task`` if not given)."""
    data = config.data
    root = data_root(config, external)
    cohort_name = (
        data.external.cohort if external and data.external and data.external.cohort else data.cohort
    )
    cohort_path = root / cohort_name
    notes: list[str] = []  # expected, e.g. a modality missing for some subjects
    warnings: list[str] = []  # worth a look: subjects left out, ids that match nothing
    if cohort_path.is_dir():
        table = _class_folder_table(cohort_path, data.id_column, data.label_column)
    else:
        table = read_table_file(cohort_path, data.id_column)
    evaluation = config.evaluation
    split_column = evaluation.scheme_column if not external else None
    fields = {
        "data.label_column": data.label_column,
        "data.group_column": data.group_column,
        "data.date_column": data.date_column,
    }
    if split_column is not None:
        key = "split_column" if evaluation.split_column else "leave_out_column"
        fields[f"evaluation.{key}"] = split_column
    for field_name, column in fields.items():
        if column is not None and column not in table.columns:
            raise DataError(f"{cohort_path}: column {column!r} ({field_name}) not found")
    dates = None  # parsed before any row is left out, so that an error's row number is right
    if data.date_column is not None:
        dates = parse_dates(table[data.date_column], cohort_path, data.date_column)
        dates.index = table.index

    listed = frozenset(table.index)
    if task is None:
        task = config.task.build(data=config.data)
    target = task.target(list(table[data.label_column]), list(table.index), cohort_path)
    warnings.extend(target.warnings)
    table = table[target.kept]
    ids = list(table.index)
    y = target.y
    groups = (
        np.array([label_text(g) for g in table[data.group_column]])
        if data.group_column
        else np.array(ids)
    )
    splits = None
    if split_column is not None:
        splits = np.array([label_text(v) for v in table[split_column]])
        empty = [i for i, v in zip(ids, splits, strict=True) if v in ("", "nan")]
        if empty:
            raise DataError(f"{cohort_path}: subject {empty[0]}: no value in {split_column!r}")
    if evaluation.split_column is not None and not external:
        names = config.evaluation.split_names
        allowed = (names.train, names.val, names.test)
        for row, value in enumerate(splits):
            if value not in allowed:
                raise DataError(
                    f"{cohort_path}: subject {ids[row]}: {str(value)!r} in column {split_column!r} "
                    f"(evaluation.split_column) is not one of {list(allowed)}"
                )

    known = frozenset(ids)
    reference_dates = None if dates is None else {i: dates[i] for i in ids}
    modalities: dict[str, ModalityData] = {}
    available = pd.DataFrame(index=pd.Index(ids, name=data.id_column))
    for name, spec in data.modalities.items():
        assert spec.reader is not None
        ctx = ReadContext(
            modality=name,
            kind=spec.kind,
            root=cohort_path if cohort_path.is_dir() else root,
            id_column=spec.id_column or data.id_column,
            exclude=frozenset(
                {data.label_column, data.id_column}
                | _optional(data.group_column)
                | _optional(data.date_column)
                | _optional(split_column)
            ),
            known_ids=known,
            verify=verify,
            reference_dates=reference_dates,
        )
        read = spec.reader.build().read(spec.path, ctx)
        if read.kind != spec.kind:
            raise DataError(
                f"{read.source}: reader gave {read.kind} data for a {spec.kind} modality"
            )
        present = set(read.ids)
        if present and not present & known:
            example = sorted(present)[0]
            raise DataError(
                f"{read.source}: none of its {len(present)} subject ids match the cohort's "
                f"{data.id_column!r} (e.g. {example!r} vs {ids[0]!r}); check the id columns"
            )
        stray = [i for i in read.ids if i not in listed]
        if stray:
            warnings.append(
                f"{name}: {len(stray)} ids not in the cohort were ignored (e.g. {stray[0]})"
            )
        has = [i in present for i in ids]
        if isinstance(read, TableData):
            notes.extend(f"{name}: {n}" for n in read.notes)
            warnings.extend(f"{name}: {w}" for w in read.warnings)
            rows = read.frame.reindex(ids)
            empty = rows.isna().all(axis=1).to_numpy()
            has = [h and not e for h, e in zip(has, empty, strict=True)]
            read = TableData(read.kind, rows, read.source, read.categorical)
        else:
            read = ImageData(
                read.kind,
                {i: read.files[i] for i in ids if i in present},
                read.source,
                read.missing_files,
                read.shapes,
            )
        n_missing = len(ids) - sum(has)
        if n_missing and spec.required:
            first = next(i for i, h in zip(ids, has, strict=True) if not h)
            raise DataError(
                f"{read.source}: {n_missing} subjects have no {name} data (e.g. {first}) but "
                f"data.modalities.{name}.required is true"
            )
        if n_missing:
            notes.append(f"{name}: {n_missing} of {len(ids)} subjects have no data (missing)")
        modalities[name] = read
        available[name] = has
    return Cohort(
        ids,
        y,
        list(data.classes),
        modalities,
        available,
        groups,
        cohort_path,
        notes,
        warnings,
        splits,
    )


def _optional(value: str | None) -> set[str]:
    return {value} if value else set()


def _class_folder_table(folder: Path, id_column: str, label_column: str) -> pd.DataFrame:
    """One row per image file under ``folder/<class>/``: id = relative path minus suffix."""
    rows = []
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        if not file.is_file() or len(rel.parts) < 2 or any(p.startswith(".") for p in rel.parts):
            continue
        name = rel.as_posix()
        suffix = next(
            (s for s in sorted(SUFFIXES, key=len, reverse=True) if name.lower().endswith(s)), None
        )
        if suffix is None:
            continue
        rows.append((name[: -len(suffix)], rel.parts[0]))
    if not rows:
        raise DataError(
            f"{folder}: no images in class sub-folders (expected {folder}/<class>/*.png)"
        )
    frame = pd.DataFrame(rows, columns=[id_column, label_column]).set_index(id_column)
    return frame


def check_class_sizes(cohort: Cohort, folds: int, where: str = "evaluation.cv_folds") -> None:
    """Every class needs at least ``folds`` subjects, or stratified splitting is impossible."""
    for name, count in cohort.class_counts().items():
        if count < folds:
            raise DataError(
                f"{cohort.source}: class {name!r} has {count} subjects, "
                f"fewer than {where}{'' if where.endswith('=') else ' ='} {folds}"
            )


def check_predefined_split(cohort: Cohort, evaluation) -> None:
    """A predefined split needs every class twice in its train part and a test part."""
    names, column = evaluation.split_names, evaluation.split_column
    assert cohort.splits is not None
    train = cohort.splits == names.train
    for name, count in cohort.class_counts(train).items():
        if count < 2:
            raise DataError(
                f"{cohort.source}: class {name!r} has {count} subjects in the {names.train!r} "
                f"part of column {column!r} (evaluation.split_column); it needs at least 2"
            )
    if not np.any(cohort.splits == names.val):  # visible: printed by run, kept in the manifest
        cohort.warnings.append(
            f"no subject has {names.val!r} in column {column!r}: networks stop early on a "
            "validation part carved at random from the training part"
        )
    if not np.any(cohort.splits == names.test):
        raise DataError(
            f"{cohort.source}: no subject has {names.test!r} in column {column!r} "
            "(evaluation.split_column): nothing to score"
        )


def check_leave_out(cohort: Cohort, evaluation) -> None:
    """Leaving groups out needs two groups, and every class in each fold's training part."""
    column = evaluation.leave_out_column
    assert cohort.splits is not None
    values = sorted(set(cohort.splits.tolist()))
    if len(values) < 2:
        raise DataError(
            f"{cohort.source}: column {column!r} (evaluation.leave_out_column) has "
            f"{len(values)} value; leaving groups out needs at least 2"
        )
    for value in values:
        rest = cohort.splits != value
        for name, count in cohort.class_counts(rest).items():
            if count < 2:
                raise DataError(
                    f"{cohort.source}: without group {value!r} of column {column!r} "
                    f"(evaluation.leave_out_column), class {name!r} has {count} training "
                    "subjects; it needs at least 2"
                )
