"""Encoder tasks: each encoder is fitted once per fold, its outputs cached per (modality,
encoder, fold, data).

An encoder for modality ``m`` in fold ``r0f1`` is fitted on that fold's training subjects that
have ``m`` (whatever scenario later uses it: a subset of them never sees more data) and then
embeds every cohort subject having ``m``. Fold ``all`` is fitted on the whole cohort and also
embeds the external cohort. The driver keeps the output (``cache/encoders/*.npz``) and the fitted
encoder (``models/encoders/``) with a key covering the encoder's params and plugin version, the
data fingerprint, the folds and the seed; a file whose key does not match is recomputed.
"""

from __future__ import annotations

import time

import numpy as np

from fusionkit.api import Encoder, conforming
from fusionkit.experiment.planner import EncoderTask
from fusionkit.experiment.records import EncoderOutput
from fusionkit.experiment.state import RunState


def fit_encoder(state: RunState, task: EncoderTask) -> EncoderOutput:
    """Fit the task's encoder on its training subjects and embed every subject (by value)."""
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
    encoder = conforming(task.spec.build(), Encoder, f"encoder {task.spec.type!r}")
    ctx = state.ctx.derive("encoder", m, task.spec.type, task.fold)
    encoder.fit(data.subset(list(ids[train])), cohort.y[train], ctx)
    embed_ids = list(ids[has])
    z = encoder.transform(data.subset(embed_ids))
    k = state.cross_fit(task)
    if k and len(train):
        row = {s: i for i, s in enumerate(embed_ids)}
        rows = [row[s] for s in ids[train]]
        z[rows] = _out_of_fold(state, task, data, ids[train], cohort.y[train], k, z.shape[1])
    if task.fold == "all" and state.external is not None:
        ext = state.external
        ext_has = ext.available[m].to_numpy()
        ext_ids = [f"external:{i}" for i in np.array(ext.ids)[ext_has]]
        if ext_ids:
            z_ext = encoder.transform(ext.modalities[m].subset(list(np.array(ext.ids)[ext_has])))
            z = np.concatenate([z, z_ext]) if len(z) else z_ext
            embed_ids += ext_ids
    return EncoderOutput(
        name=task.name,
        key=state.encoder_keys[task.name],
        ids=np.array(embed_ids, dtype=str),
        z=np.asarray(z, dtype=np.float32),
        names=list(getattr(encoder, "feature_names_", [])),
        seconds=time.perf_counter() - start,
        n_train=len(train),
        encoder=encoder,
    )


def _out_of_fold(state, task, data, ids, y, k: int, width: int) -> np.ndarray:
    """Embeddings of the training subjects, each by an encoder fitted on the other inner folds
    (stratified when every class has k members)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    ctx = state.ctx.derive("encoder", task.modality, task.spec.type, task.fold, "cross_fit")
    counts = np.bincount(y)
    stratify = counts[counts > 0].min() >= k
    splitter = (StratifiedKFold if stratify else KFold)(k, shuffle=True, random_state=ctx.seed)
    out = np.zeros((len(ids), width), dtype=np.float32)
    for i, (fit, held) in enumerate(splitter.split(ids, y if stratify else None)):
        encoder = conforming(task.spec.build(), Encoder, f"encoder {task.spec.type!r}")
        encoder.fit(data.subset(list(ids[fit])), y[fit], ctx.derive(i))
        out[held] = encoder.transform(data.subset(list(ids[held])))
    return out
