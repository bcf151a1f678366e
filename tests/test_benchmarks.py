"""Every benchmark script runs: ``--help`` and a ``--smoke`` run at tiny sizes, so a changed
signature breaks a test here, not a page of the docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))
# what each smoke run prints when it got to the end (a measured figure, not just no crash)
PRINTS = {
    "fusion_quality.py": "best single modality",
    "ga_throughput.py": "the GA takes",
    "predict_throughput.py": "batched / one at a time",
    "run_stages.py": "outputs (tables, report)",
    "scaling.py": "speed-up over local",
    "synthetic_information.py": "bal.acc",
    "training_overhead.py": "ratio to bare",
}


def _run(script: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_every_benchmark_is_covered():
    assert {s.name for s in SCRIPTS} == set(PRINTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_benchmark_help(script):
    result = _run(script, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--smoke" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_benchmark_smoke(script, tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONKIT_CACHE", str(tmp_path / "cache"))
    result = _run(script, "--smoke")
    assert result.returncode == 0, result.stderr[-3000:]
    assert PRINTS[script.name] in result.stdout, result.stdout[-2000:]
