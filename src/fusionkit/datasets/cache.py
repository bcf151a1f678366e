"""Generate a built-in dataset once into a cache folder and reuse it.

The folder is ``$FUSIONKIT_CACHE/datasets/<type>-<hash>`` (default cache:
``~/.cache/fusionkit``), the hash covering the dataset's type, params and generator version.
Generation writes into a temporary folder that is renamed into place only when complete, so an
interrupted generation never leaves a half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from fusionkit.config import DatasetSpec


def cache_root() -> Path:
    """``$FUSIONKIT_CACHE`` or ``~/.cache/fusionkit``."""
    return Path(os.environ.get("FUSIONKIT_CACHE") or Path.home() / ".cache" / "fusionkit")


def materialize(spec: DatasetSpec) -> Path:
    """The folder holding the dataset's files, generated first if not cached yet."""
    component = spec.component
    payload = json.dumps(
        {
            "type": spec.type,
            "params": spec.resolved_params.model_dump(mode="json"),
            "version": component.version,
        },
        sort_keys=True,
    )
    key = hashlib.sha256(payload.encode()).hexdigest()[:12]
    dest = cache_root() / "datasets" / f"{spec.type}-{key}"
    if (dest / ".complete").exists():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    spec.build().materialize(tmp)
    (tmp / ".complete").write_text(payload + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest
