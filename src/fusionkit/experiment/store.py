"""The run directory: one `RunStore` owns its paths; every file is written atomically (a
reader sees the old file or the new one, never half of one).

Layout::

    cells/<cell>.json             CellResult of the plain evaluation (cells/<cell>@<variant>.json)
    models/cells/<cell>/          the fitted cell (fusionkit.persist formats)
    models/encoders/<task>/       the fitted encoder of an encoder task
    models/<modality>-<enc>.pt    whole-cohort network state dict (transfer learning)
    cache/encoders/<task>.npz     the task's embeddings of every subject
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from fusionkit.errors import DataError
from fusionkit.experiment.records import PLAIN, CellResult, EncoderOutput, FittedCell
from fusionkit.files import file_mode, write_atomic

__all__ = ["RunLock", "RunStore", "read_json", "write_atomic", "write_json", "write_npz"]


def write_json(path: Path, payload: Any, indent: int | None = 1) -> str:
    """Atomic, stable JSON (sorted keys, NaN as null); returns the text written. ``indent``
    None: compact (Python's C encoder; a run writes thousands of cell results)."""
    text = json.dumps(_clean(payload), indent=indent, sort_keys=True, allow_nan=False)
    write_atomic(path, (text + "\n").encode())
    return text


def read_json(path: Path) -> Any | None:
    """The JSON at ``path``, or None if it is missing or unreadable (e.g. from a killed run)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomic ``.npz``."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class RunStore:
    """Reads and writes the run directory (see module docstring); only the driver writes."""

    def __init__(self, root: Path):
        self.root = Path(root)

    # -- cell results ----------------------------------------------------------------------
    def result_file(self, cell_id: str, variant: str = PLAIN) -> Path:
        name = cell_id if variant == PLAIN else f"{cell_id}@{variant}"
        return self.root / "cells" / f"{name}.json"

    def read_result(self, cell_id: str, key: str, variant: str = PLAIN) -> CellResult | None:
        """The stored result if it is complete and was computed with the current ``key``."""
        payload = read_json(self.result_file(cell_id, variant))
        if not payload or payload.get("key") != key or payload.get("variant", PLAIN) != variant:
            return None
        try:
            return CellResult.model_validate(payload)
        except ValueError:
            return None

    def write_result(self, result: CellResult) -> CellResult:
        """Keep a result; returns it as stored (keys sorted, a number that is not finite as
        None): the one form the run's tables are built from, whether a result is fresh or
        reused, so a resumed run's tables are the same as a fresh run's."""
        text = write_json(
            self.result_file(result.id, result.variant), result.model_dump(mode="json")
        )
        return CellResult.model_validate_json(text)

    # -- fitted cells ----------------------------------------------------------------------
    def model_dir(self, cell_id: str) -> Path:
        return self.root / "models" / "cells" / cell_id

    def write_fitted(self, fitted: FittedCell) -> None:
        from fusionkit.persist import save_state

        state = {"meta": fitted.meta, "fusion": fitted.model.get_state()}
        save_state(state, self.model_dir(fitted.meta["cell"]))

    def fitted_key(self, cell_id: str) -> str | None:
        """The key of a kept fitted cell (without loading its model), or None."""
        payload = read_json(self.model_dir(cell_id) / "state.json")
        try:
            return payload["meta"]["key"]  # type: ignore[index]
        except (TypeError, KeyError):
            return None

    def load_fitted(self, cell_id: str) -> FittedCell:
        """A kept fitted cell, its method rebuilt through the registry (safe formats only)."""
        from fusionkit.config import build_spec_data
        from fusionkit.errors import DataError
        from fusionkit.persist import load_state

        folder = self.model_dir(cell_id)
        if not (folder / "state.json").is_file():
            raise DataError(f"{folder}: no kept model")
        state = load_state(folder)
        meta = state["meta"]
        model = build_spec_data(meta["method_kind"], meta["method_spec"])
        model.set_state(state["fusion"])
        return FittedCell(meta, model)

    # -- encoders ---------------------------------------------------------------------------
    def encoder_file(self, task: str) -> Path:
        return self.root / "cache" / "encoders" / f"{task}.npz"

    def encoder_dir(self, task: str) -> Path:
        return self.root / "models" / "encoders" / task

    def encoder_key(self, task: str) -> str | None:
        """The key a stored encoder task was computed with, or None."""
        try:
            with np.load(self.encoder_file(task)) as data:
                return str(data["key"])
        except Exception:
            return None

    def write_encoder(self, out: EncoderOutput) -> None:
        from fusionkit.persist import save_state

        if out.encoder is not None and hasattr(out.encoder, "get_state"):
            save_state(
                {"key": out.key, "encoder": out.encoder.get_state()}, self.encoder_dir(out.name)
            )
        write_npz(
            self.encoder_file(out.name),
            ids=np.array(out.ids, dtype=str),
            z=np.asarray(out.z, dtype=np.float32),
            key=np.array(out.key),
            seconds=np.array(out.seconds),
            n_train=np.array(out.n_train),
            names=np.array(out.names, dtype=str),
        )

    def load_embeddings(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """(subject ids, embeddings) of an encoder task (external ids prefixed ``external:``)."""
        with np.load(self.encoder_file(task)) as data:
            return data["ids"], data["z"]

    def encoder_meta(self, task: str) -> tuple[float | None, list[str]]:
        """(seconds the stored task took, names of its output columns); no embeddings read."""
        try:
            with np.load(self.encoder_file(task)) as data:
                seconds = float(data["seconds"]) if "seconds" in data else None
                return seconds, data["names"].tolist() if "names" in data else []
        except Exception:
            return None, []

    def load_encoder(self, task: str, spec_data: dict) -> object:
        """A kept fitted encoder, rebuilt through the registry."""
        from fusionkit.config import build_spec_data
        from fusionkit.errors import DataError
        from fusionkit.persist import load_state

        folder = self.encoder_dir(task)
        if not (folder / "state.json").is_file():
            raise DataError(f"{folder}: no kept encoder")
        encoder = build_spec_data("encoder", spec_data)
        encoder.set_state(load_state(folder)["encoder"])
        return encoder

    def load_cell_encoders(self, fitted: FittedCell) -> dict[str, object | None]:
        """The fitted encoders feeding a kept cell, by modality (None: the method encodes that
        modality itself, end to end)."""
        return {
            m: None
            if info["encoder_task"] is None
            else self.load_encoder(info["encoder_task"], info["encoder"])
            for m, info in fitted.meta["modalities"].items()
        }

    def write_transfer_model(self, modality: str, encoder_type: str, backbone) -> None:
        """The whole-cohort network, for ``params.weights`` of a later run."""
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(backbone.state_dict(), buffer)
        write_atomic(self.root / "models" / f"{modality}-{encoder_type}.pt", buffer.getvalue())


def check_output(run_dir: Path) -> None:
    """The run directory can be made or written (checked before the data are read, without
    creating anything): a file in its place, or a parent that is a file, is an error."""
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(f"{run_dir}: exists and is not a directory (--out / output.dir)")
    parent = run_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"{parent}: is a file, so {run_dir} cannot be made (--out / output.dir)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{parent}: not writable, so {run_dir} cannot be made (--out / output.dir)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``run.lock`` (PID, host, start time) held for a run's life: one run per directory.

    A second run into the directory is an error naming the holder. A lock left by a run that
    no longer exists (killed: same host, PID gone) is taken over, with a note.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "run.lock"
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; returns a note if a stale lock was taken over."""
        note = None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode())
            except FileExistsError:
                holder = read_json(self.path) or {}
                pid, host = holder.get("pid"), holder.get("host")
                if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
                    self.path.unlink(missing_ok=True)
                    note = f"took over the lock of an earlier run (pid {pid}) that is gone"
                    continue
                raise DataError(
                    f"{self.path.parent}: another fusionkit run is using this directory (pid "
                    f"{pid} on {host}, started {holder.get('started')}); wait for it, or delete "
                    f"{self.path} if that run is gone"
                ) from None
            except OSError as exc:
                raise DataError(f"{self.path.parent}: not writable ({exc.strerror})") from None
            payload = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle)
            self.held = True
            return note
        raise DataError(f"{self.path}: could not take the run lock")

    def release(self) -> None:
        if self.held:
            holder = read_json(self.path) or {}
            if holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False
