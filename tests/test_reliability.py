"""Reliability regressions: bad inputs as a user makes them (each a one-line error with exit 2
before anything trains, or a visible warning), kill -9 and resume, one run per directory, no
orphaned workers, Ctrl-C, and file permissions."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import BASE_CONFIG

Mutation = Callable[[Path, dict], None]


# -- helpers that break one thing ------------------------------------------------------------
def _csv_edit(name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Mutation:
    def mutate(root: Path, config: dict) -> None:
        path = root / name
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        edit(frame).to_csv(path, index=False)

    return mutate


def _cell(name: str, column: str, value: str, row: int = 1) -> Mutation:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return _csv_edit(name, edit)


def _text(name: str, text: str) -> Mutation:
    return lambda root, config: (root / name).write_text(text)


def _config_text(text: str) -> Mutation:
    return lambda root, config: (root.parent / "x.yaml").write_text(text)


def _set(path: str, value) -> Mutation:
    def mutate(root: Path, config: dict) -> None:
        node = config
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(root: Path, config: dict) -> None:
        for m in mutations:
            m(root, config)

    return mutate


def _with_images(mutate: Mutation | None = None) -> Mutation:
    def both(root: Path, config: dict) -> None:
        config["data"]["modalities"]["img"] = {
            "kind": "image",
            "path": "images/{subject_id}.nii.gz",
        }
        if mutate is not None:
            mutate(root, config)

    return both


def _nifti(array: np.ndarray, which: int = 0) -> Mutation:
    def mutate(root: Path, config: dict) -> None:
        target = sorted((root / "images").glob("*.nii.gz"))[which]
        nib.save(nib.Nifti1Image(array, np.eye(4)), target)

    return _with_images(mutate)


def _duplicate_header(root: Path, config: dict) -> None:
    lines = (root / "ehr.csv").read_text().splitlines()
    header = lines[0].split(",")
    header[3] = header[2]
    (root / "ehr.csv").write_text("\n".join([",".join(header), *lines[1:]]) + "\n")


def _rare_class(root: Path, config: dict) -> None:
    frame = pd.read_csv(root / "cohort.csv", dtype=str)
    keep = (
        frame[frame.diagnosis != "AD"].index.tolist()
        + frame[frame.diagnosis == "AD"].index[:2].tolist()
    )
    frame.loc[sorted(keep)].to_csv(root / "cohort.csv", index=False)


def _ids_renamed(root: Path, config: dict) -> None:
    frame = pd.read_csv(root / "snp.csv", dtype=str)
    frame["subject_id"] = frame.subject_id.str.replace("S", "P")
    frame.to_csv(root / "snp.csv", index=False)


def _cnn_of_size(size: list[int]) -> Mutation:
    def mutate(root: Path, config: dict) -> None:
        config["encoders"] = {"img": {"type": "resnet10", "params": {"spatial_size": size}}}
        config["methods"].append({"type": "deep_concat"})

    return mutate


def _out_is_file(root: Path, config: dict) -> None:
    (root.parent / "out").write_text("my notes")


def _out_parent_is_file(root: Path, config: dict) -> None:
    (root.parent / "parent").write_text("a file")
    config["output"] = {"dir": str(root.parent / "parent" / "run")}


# (case, mutation, exit code, fragment of the first stderr line)
CASES: list[tuple[str, Mutation, int, str]] = [
    # the config
    ("yaml syntax", _config_text("name: [unclosed"), 2, "invalid YAML"),
    ("top level is a list", _config_text("- a\n- b\n"), 2, "expected a mapping"),
    ("unknown top-level key", _set("sedd", 1), 2, "sedd: unknown key (did you mean 'seed'?)"),
    ("misspelled nested key", _set("evaluation.cv_fold", 3), 2, "did you mean 'cv_folds'?"),
    ("one fold", _set("evaluation.cv_folds", 1), 2, "evaluation.cv_folds: input should be greater"),
    ("unknown method", _set("methods", ["random_forrest"]), 2, "did you mean 'random_forest'?"),
    (
        "bad method param",
        _set("methods", [{"type": "svm", "params": {"C": 0}}]),
        2,
        "methods[0].params.C",
    ),
    ("no scenarios", _set("scenarios", []), 2, "scenarios: list should have at least 1 item"),
    ("unknown scenario modality", _set("scenarios", ["ehr+mri"]), 2, "unknown modality 'mri'"),
    ("scenario twice", _set("scenarios", ["ehr", "ehr"]), 2, "scenario 'ehr' is listed twice"),
    ("class listed twice", _set("data.classes", ["CN", "CN", "AD"]), 2, "classes listed twice: CN"),
    (
        "label map target",
        _set("data.label_map", {"AD": "dementia"}),
        2,
        "'dementia' is not one of data.classes",
    ),
    (
        "hold-out above 1",
        _set("evaluation.holdout", 1.5),
        2,
        "evaluation.holdout: input should be less than 1",
    ),
    ("unknown executor", _set("runtime.executor", "ray2"), 2, "unknown executor 'ray2'"),
    ("runtime.jobs", _set("runtime.jobs", 2), 2, "runtime.jobs was replaced by runtime.executor"),
    ("output.checkpoints", _set("output.checkpoints", True), 2, "output.checkpoints was removed"),
    (
        "encoder of no modality",
        _set("encoders", {"mri": "mlp"}),
        2,
        "encoders.mri: unknown modality",
    ),
    ("encoder for another kind", _set("encoders", {"ehr": "resnet10"}), 2, "does not accept table"),
    (
        "final model not run",
        _set("output.final_models", [{"scenario": "ehr", "method": "svm"}]),
        2,
        "unknown method 'svm'",
    ),
    # the cohort table
    (
        "cohort file missing",
        lambda r, c: (r / "cohort.csv").unlink(),
        2,
        "cohort.csv: file not found",
    ),
    ("cohort empty file", _text("cohort.csv", ""), 2, "cohort.csv: empty file"),
    (
        "cohort header only",
        _text("cohort.csv", "subject_id,diagnosis,site\n"),
        2,
        "cohort.csv: no rows (only a header)",
    ),
    (
        "label column missing",
        _set("data.label_column", "dx"),
        2,
        "column 'dx' (data.label_column) not found",
    ),
    (
        "label not a class",
        _cell("cohort.csv", "diagnosis", "Dementia"),
        2,
        "label 'Dementia' in column 'diagnosis'",
    ),
    (
        "duplicate subject",
        _cell("cohort.csv", "subject_id", "S0001", row=3),
        2,
        "duplicate subject_id 'S0001'",
    ),
    (
        "class too small for the folds",
        _rare_class,
        2,
        "class 'AD' has 2 subjects, fewer than evaluation.cv_folds = 3",
    ),
    (
        "hold-out too small",
        _set("evaluation.holdout", 0.02),
        2,
        "fewer than 1 / evaluation.holdout = 50",
    ),
    # modality tables
    (
        "table header only",
        _csv_edit("ehr.csv", lambda f: f.iloc[:0]),
        2,
        "ehr.csv: no rows (only a header)",
    ),
    (
        "text in a numeric column",
        _cell("ehr.csv", "mmse", "thirty"),
        2,
        "column 'mmse': 'thirty' is not a number",
    ),
    ("decimal comma", _cell("ehr.csv", "age", "82,5"), 2, "column 'age': '82,5' is not a number"),
    ("duplicated header", _duplicate_header, 2, "appears twice in the header"),
    ("infinite value", _cell("ehr.csv", "age", "inf"), 2, "column 'age': inf is infinite"),
    ("beyond float32", _cell("ehr.csv", "age", "1e308"), 2, "beyond the float32 range"),
    ("genotype not 0/1/2", _cell("snp.csv", "rs100001", "3"), 2, "is not a minor-allele count"),
    ("ids match nothing", _ids_renamed, 2, "none of its"),
    (
        "required modality missing",
        _set("data.modalities.snp.required", True),
        2,
        "required is true",
    ),
    (
        "unknown column selected",
        _set("data.modalities.ehr.reader", {"type": "table", "params": {"columns": ["agee"]}}),
        2,
        "column 'agee' (named in params.columns) not found",
    ),
    # images
    (
        "pattern matches no file",
        _with_images(_set("data.modalities.img.path", "scans/{subject_id}.nii")),
        2,
        "no image file matches",
    ),
    (
        "corrupt NIfTI",
        _with_images(lambda r, c: sorted((r / "images").glob("*.nii.gz"))[0].write_bytes(b"junk")),
        2,
        "cannot read as NIFTI",
    ),
    (
        "all-zero volume",
        _nifti(np.zeros((10, 12, 10), np.float32)),
        2,
        "constant image (every value is 0)",
    ),
    (
        "4D NIfTI",
        _nifti(np.random.default_rng(0).random((10, 12, 10, 3)).astype(np.float32)),
        2,
        "more than 3 dimensions",
    ),
    (
        "2D among 3D",
        _nifti(np.random.default_rng(0).random((10, 12)).astype(np.float32)),
        2,
        "2D image, but the modality's other images are 3D",
    ),
    (
        "spatial_size of 2D for 3D",
        _with_images(_cnn_of_size([8, 8])),
        2,
        "encoders.img: params.spatial_size has 2 values but the images",
    ),
    # the output
    ("--out is a file", _out_is_file, 2, "exists and is not a directory"),
    ("parent of output is a file", _out_parent_is_file, 2, "is a file, so"),
    ("output not writable", _set("output.dir", "/sys/fusionkit_run"), 2, "cannot be made"),
    (
        "output is the data folder",
        lambda root, config: _set("output.dir", str(root))(root, config),
        2,
        "holds the data (data.root",
    ),
    # dates
    (
        "a scan date that is no ISO date",
        _both(
            _csv_edit("cohort.csv", lambda frame: frame.assign(scan_date="2010-05-03")),
            _cell("cohort.csv", "scan_date", "03/05/2010"),
            _set("data.date_column", "scan_date"),
        ),
        2,
        "row 3, column 'scan_date': '03/05/2010' is not a date (write dates as YYYY-MM-DD)",
    ),
    (
        "a column of dates among the features",
        _csv_edit("ehr.csv", lambda frame: frame.assign(visit_date="2010-05-03")),
        2,
        "column 'visit_date' holds dates, which are no feature",
    ),
    # visible warnings, exit 0
    ("unlabelled subjects", _cell("cohort.csv", "diagnosis", ""), 0, "warning: "),
    ("stray ids in a table", _cell("ehr.csv", "subject_id", "Z9999"), 0, "warning: "),
]


@pytest.fixture
def cohort_copy(small_cohort, tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(small_cohort, root)
    return root


def _config(root: Path) -> dict:
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(root)
    config["data"]["modalities"].pop("img")
    config["data"]["external"] = {"root": "external"}
    config["scenarios"] = "all"
    config["methods"] = [{"type": "logistic_regression"}]
    return config


@pytest.mark.parametrize(("case", "mutate", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(cli, cohort_copy, case, mutate, code, fragment):
    config = _config(cohort_copy)
    config_file = cohort_copy.parent / "x.yaml"
    out = cohort_copy.parent / "out"
    mutate(cohort_copy, config)
    if not config_file.exists():
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    before = out.read_bytes() if out.is_file() else None
    args = ["run", config_file] + (
        [] if "output" in config and "dir" in config["output"] else ["--out", out]
    )
    result = cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines, "no message"
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert fragment in lines[0], lines[0]
        assert "Traceback" not in result.stdout + result.stderr
        if before is not None:
            assert out.read_bytes() == before  # nothing overwritten
        else:
            assert not out.exists()  # nothing written before the error
    else:
        assert any(line.startswith(fragment) for line in lines), result.stderr


# -- processes: kill, resume, lock, orphans, Ctrl-C --------------------------------------------
def _quick_config(small_cohort: Path, path: Path, epochs: int = 30) -> Path:
    config = copy.deepcopy(BASE_CONFIG)
    config["data"]["root"] = str(small_cohort)
    config["data"]["modalities"].pop("img")
    config["encoders"] = {
        m: {
            "type": "mlp",
            "params": {"hidden": [16], "train": {"epochs": epochs, "patience": epochs}},
        }
        for m in ("ehr", "snp")
    }
    config["methods"] = [
        {"type": "logistic_regression"},
        {"type": "feature_level", "params": {"features": "encoded"}},
        {"type": "deep_concat", "params": {"train": {"epochs": epochs, "patience": epochs}}},
    ]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _start(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "fusionkit", "run", str(config), "--out", str(out), *extra]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _count(folder: Path, pattern: str) -> int:
    return len(list(folder.glob(pattern))) if folder.is_dir() else 0


@pytest.fixture(scope="module")
def uninterrupted(small_cohort, tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("reliable")
    config = _quick_config(small_cohort, tmp / "quick.yaml")
    run = _start(config, tmp / "whole")
    assert run.wait(timeout=600) == 0, run.stderr.read()
    return config, tmp / "whole"


@pytest.mark.slow
def test_kill_9_at_several_points_then_resume_gives_the_same_bytes(uninterrupted, tmp_path):
    config, whole = uninterrupted
    out = tmp_path / "killed"
    points = [
        lambda: _count(out / "cache" / "encoders", "*.npz") >= 1,  # during the encoder stage
        lambda: _count(out / "cells", "*.json") >= 3,  # during the cell stage
        lambda: _count(out / "cells", "*.json") >= 20,
    ]
    for point in points:
        run = _start(config, out)
        _wait_for(lambda point=point, run=run: point() or run.poll() is not None)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    resumed = _start(config, out)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert "note: took over the lock of an earlier run" in resumed.stderr.read()
    for name in ("results.csv", "summary.csv", "predictions.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.mark.slow
def test_a_second_run_into_the_same_directory_is_refused(uninterrupted, cli, tmp_path):
    config, _ = uninterrupted
    out = tmp_path / "shared"
    first = _start(config, out)
    try:
        _wait_for(lambda: (out / "run.lock").exists())
        second = cli("run", config, "--out", out)
        assert second.exit_code == 2
        assert f"another fusionkit run is using this directory (pid {first.pid}" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, parent in parents.items() if parent in frontier}
        found |= children
        frontier = children
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its entry waits to be reaped


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_a_jobs_2_run_leaves_no_process_behind(uninterrupted, tmp_path):
    config, _ = uninterrupted
    out = tmp_path / "pool"
    run = _start(config, out, "--jobs", "2")
    _wait_for(lambda: len(_descendants(run.pid)) >= 2 or run.poll() is not None)
    _wait_for(lambda: _count(out / "cache" / "encoders", "*.npz") >= 1 or run.poll() is not None)
    workers = _descendants(run.pid)
    assert len(workers) >= 2, "the pool should be running"
    os.kill(run.pid, signal.SIGKILL)  # the driver only, as an OOM killer would
    run.wait()
    _wait_for(lambda: not any(_running(p) for p in workers), timeout=15)


@pytest.mark.slow
def test_ctrl_c_stops_workers_keeps_finished_cells_and_releases_the_lock(uninterrupted, tmp_path):
    config, whole = uninterrupted
    out = tmp_path / "interrupted"
    run = _start(config, out, "--jobs", "2")
    _wait_for(lambda: _count(out / "cells", "*.json") >= 2 or run.poll() is not None)
    workers = _descendants(run.pid)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    assert run.wait(timeout=60) == 130
    assert "interrupted: finished cells are kept" in run.stderr.read()
    _wait_for(lambda: not any(_running(p) for p in workers), timeout=15)
    assert not (out / "run.lock").exists()
    kept = _count(out / "cells", "*.json")
    resumed = _start(config, out)
    assert resumed.wait(timeout=600) == 0
    assert f"{kept} reused" in resumed.stdout.read()
    assert (out / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()


@pytest.mark.slow
def test_outputs_follow_the_umask(uninterrupted):
    _, whole = uninterrupted
    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    for path in (whole / "results.csv", whole / "cells", whole / "manifest.json"):
        if path.is_dir():
            path = next(path.glob("*.json"))
        assert path.stat().st_mode & 0o777 == expected, path
    kept = next((whole / "models" / "cells").iterdir())
    assert kept.stat().st_mode & 0o777 == 0o777 & ~mask
    assert (kept / "state.json").stat().st_mode & 0o777 == expected
    manifest = json.loads((whole / "manifest.json").read_text())
    assert manifest["cells"]["finished"] == manifest["cells"]["planned"]
