"""Keep fitted state in safe formats: JSON, numpy ``.npz``, torch state dicts, skops.

A component's ``get_state()`` returns a nested dict/list of plain values; `save_state` writes it
to a folder without pickle:

- numbers, text, booleans and ``None`` -> ``state.json``;
- numpy arrays -> ``arrays.npz`` (read back with ``allow_pickle=False``);
- torch tensors (e.g. a module's ``state_dict()``) -> ``tensors.pt`` (read back with
  ``torch.load(weights_only=True)``);
- scikit-learn estimators and pipelines, XGBoost models inside them included -> one
  ``.skops`` file each (read back with `skops.io.load`, trusting only types from scikit-learn,
  numpy, scipy, XGBoost, fusionkit and the installed fusionkit plugins; anything else is refused).

Loading such a folder never runs code from the folder. (The ``checkpoints/*.pt`` pickles of
fusionkit 0.1 are no longer read.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fusionkit.errors import DataError
from fusionkit.files import dir_mode

TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "xgboost", "fusionkit", "builtins")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit")


def save_state(state: dict[str, Any], folder: Path) -> None:
    """Write ``state`` to ``folder`` (replaced as a whole, atomically: old or new, never half)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    os.chmod(tmp, dir_mode())  # mkdtemp gives 0700 whatever the umask
    try:
        arrays: dict[str, np.ndarray] = {}
        tensors: dict[str, Any] = {}
        estimators: list[str] = []

        def encode(value: Any, key: str) -> Any:
            if isinstance(value, dict):
                return {str(k): encode(v, f"{key}.{k}") for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [encode(v, f"{key}[{i}]") for i, v in enumerate(value)]
            if isinstance(value, np.ndarray):
                if value.dtype == object:
                    value = value.astype(str)
                arrays[key] = value
                return {"$array": key}
            if isinstance(value, np.generic):
                return value.item()
            if isinstance(value, Path):
                return str(value)
            if value is None or isinstance(value, bool | int | float | str):
                return value
            if _is_tensor(value):
                tensors[key] = value.detach().cpu()
                return {"$tensor": key}
            if _is_estimator(value):
                import skops.io as sio

                name = f"estimator{len(estimators)}.skops"
                # zipfile.ZIP_DEFLATED at its fastest level: a run keeps hundreds of models
                sio.dump(value, tmp / name, compression=8, compresslevel=1)
                estimators.append(name)
                return {"$skops": name}
            raise TypeError(f"state {key!r}: cannot keep a {type(value).__name__} safely")

        doc = encode(state, "state")
        if arrays:
            np.savez(tmp / "arrays.npz", **arrays)
        if tensors:
            import torch

            torch.save(tensors, tmp / "tensors.pt")
        (tmp / "state.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_state(folder: Path) -> dict[str, Any]:
    """The state written by `save_state`; `DataError` naming the file if it cannot be read."""
    doc_file = folder / "state.json"
    try:
        doc = json.loads(doc_file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{doc_file}: cannot read kept model: {exc}") from None
    arrays: dict[str, np.ndarray] = {}
    if (folder / "arrays.npz").exists():
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    tensors: dict[str, Any] = {}
    if (folder / "tensors.pt").exists():
        import torch

        tensors = torch.load(folder / "tensors.pt", map_location="cpu", weights_only=True)

    def decode(value: Any) -> Any:
        if isinstance(value, list):
            return [decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"$array"}:
            return arrays[value["$array"]]
        if set(value) == {"$tensor"}:
            return tensors[value["$tensor"]]
        if set(value) == {"$skops"}:
            return load_estimator(folder / value["$skops"])
        return {k: decode(v) for k, v in value.items()}

    return decode(doc)


def trusted_packages() -> set[str]:
    """Top-level packages whose types a kept estimator may contain."""
    from fusionkit.plugins import get_plugins

    packages = set(TRUSTED_PACKAGES)
    for plugin in get_plugins().pm.get_plugins():
        module = getattr(plugin, "__name__", "") or type(plugin).__module__
        packages.add(module.split(".")[0])
    return packages


def load_estimator(path: Path) -> Any:
    """A scikit-learn/XGBoost estimator from a ``.skops`` file, trusting known packages only."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read kept estimator: {exc}") from None
    allowed = trusted_packages()
    refused = [t for t in untrusted if t.split(".")[0] not in allowed]
    if refused:
        raise DataError(f"{path}: refusing to load untrusted types: {', '.join(refused)}")
    return sio.load(path, trusted=untrusted)
