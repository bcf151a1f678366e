"""Encoder outputs, cached per (modality, encoder, fold, data): each encoder trains once a fold.

An encoder for modality ``m`` in fold ``r0f1`` is fitted on that fold's training subjects that
have ``m`` (whatever scenario later uses it: a subset of them never sees more data) and then
embeds every cohort subject having ``m``. Fold ``all`` is fitted on the whole cohort and also
embeds the external cohort. Outputs are written atomically to ``cache/encoders/*.npz`` with a
key covering the encoder's params, the data fingerprint, the folds and the seed; a file whose key
does not match is recomputed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionkit import __version__
from fusionkit.config import EncoderSpec
from fusionkit.encoders.torch_base import TorchEncoder
from fusionkit.experiment.state import RunState, digest, spec_payload
from fusionkit.experiment.store import write_atomic, write_npz


@dataclass(frozen=True)
class EncoderTask:
    """Fit one encoder on one fold's training part and embed the subjects."""

    modality: str
    spec: EncoderSpec
    fold: str  # "r{repeat}f{fold}" or "all"

    @property
    def name(self) -> str:
        return f"{self.modality}-{self.spec.type}-{digest(spec_payload(self.spec))[:8]}-{self.fold}"


def task_key(state: RunState, task: EncoderTask) -> str:
    fingerprints = [state.fingerprints[task.modality], state.fingerprints["labels"]]
    if task.fold == "all" and state.external is not None:
        fingerprints.append(state.fingerprints.get(f"external/{task.modality}", ""))
    return digest(
        [
            __version__,
            state.config.seed,
            spec_payload(task.spec),
            task.fold,
            state.folds_key,
            fingerprints,
            state.ctx.validation_fraction,
            state.ctx.threads,
        ]
    )


def task_file(state: RunState, task: EncoderTask) -> Path:
    return state.run_dir / "cache" / "encoders" / f"{task.name}.npz"


def is_cached(state: RunState, task: EncoderTask) -> bool:
    """Whether the task's output exists with a matching key."""
    path = task_file(state, task)
    if not path.exists():
        return False
    try:
        with np.load(path) as data:
            return str(data["key"]) == task_key(state, task)
    except Exception:
        return False


def fit_encoder(state: RunState, task: EncoderTask) -> dict:
    """Run the task and write its outputs; returns timing and size information."""
    cohort, m = state.cohort, task.modality
    has = cohort.available[m].to_numpy()
    if task.fold == "all":
        train = np.flatnonzero(has)
    else:
        fold = state.fold(task.fold)
        assert fold is not None
        train = fold.train[has[fold.train]]
    data = cohort.modalities[m]
    ids = np.array(cohort.ids)
    start = time.perf_counter()
    encoder = task.spec.build()
    ctx = state.ctx.derive("encoder", m, task.spec.type, task.fold)
    encoder.fit(data.subset(list(ids[train])), cohort.y[train], ctx)
    embed_ids = list(ids[has])
    z = encoder.transform(data.subset(embed_ids))
    if task.fold == "all" and state.external is not None:
        ext = state.external
        ext_has = ext.available[m].to_numpy()
        ext_ids = [f"external:{i}" for i in np.array(ext.ids)[ext_has]]
        if ext_ids:
            z_ext = encoder.transform(ext.modalities[m].subset(list(np.array(ext.ids)[ext_has])))
            z = np.concatenate([z, z_ext]) if len(z) else z_ext
            embed_ids += ext_ids
    seconds = time.perf_counter() - start
    write_npz(
        task_file(state, task),
        ids=np.array(embed_ids, dtype=str),
        z=np.asarray(z, dtype=np.float32),
        key=np.array(task_key(state, task)),
        seconds=np.array(seconds),
        n_train=np.array(len(train)),
        names=np.array(getattr(encoder, "feature_names_", []), dtype=str),
    )
    if task.fold == "all" and isinstance(encoder, TorchEncoder):
        save_backbone(state, task, encoder)
    return {"task": task.name, "seconds": seconds, "n_train": len(train)}


def save_backbone(state: RunState, task: EncoderTask, encoder: TorchEncoder) -> None:
    """Keep the whole-cohort network for transfer learning (``params.weights`` of a later run)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(encoder.backbone_.state_dict(), buffer)
    write_atomic(
        state.run_dir / "models" / f"{task.modality}-{task.spec.type}.pt", buffer.getvalue()
    )


def stored_meta(state: RunState, task: EncoderTask) -> tuple[float | None, list[str]]:
    """(seconds the stored task took, names of its output columns) — one read, no embeddings."""
    try:
        with np.load(task_file(state, task)) as data:
            seconds = float(data["seconds"]) if "seconds" in data else None
            return seconds, data["names"].tolist() if "names" in data else []
    except Exception:
        return None, []


def load_embeddings(state: RunState, task: EncoderTask) -> dict[str, np.ndarray]:
    """Subject id (external ones prefixed ``external:``) -> embedding."""
    with np.load(task_file(state, task)) as data:
        return dict(zip(data["ids"].tolist(), data["z"], strict=True))
