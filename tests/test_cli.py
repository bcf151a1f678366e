"""The command line as a user meets it: help, version, validate, run (plan), exit codes."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, small_run


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    commands = ("plugins", "validate", "run", "cohort", "demo-data", "predict", "enhance")
    for command in (*commands, "init", "schema", "convert"):
        assert command in result.stdout


def test_version(cli):
    from fusionkit import __version__

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"fusionkit {__version__}"


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "fusionkit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("fusionkit ")


def test_validate_summary(cli, base_config, write_config):
    result = cli("validate", write_config(base_config))
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout.splitlines()[0]
    assert "scenarios   ehr, snp, img, ehr+snp, ehr+img, snp+img, ehr+snp+img" in result.stdout
    assert "cells       56" in result.stdout


def test_run_prints_the_plan(cli, base_config, write_config, tmp_path):
    result = cli("run", write_config(base_config), "--out", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "7 scenarios x 2 methods x 3 folds + external test = 56 cells" in result.stdout
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_run_says_what_is_skipped_and_why(cli, base_config, write_config, tmp_path):
    config = dict(base_config, methods=[{"type": "deep_concat"}])
    result = cli("run", write_config(config), "--dry-run")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "skipped deep_concat on img: no encoder for 'img' in `encoders`" in text
    assert "= 0 cells" in text


def test_default_config_validates(cli):
    result = cli("validate", ROOT / "configs" / "ehr_img_snp.yaml")
    assert result.exit_code == 0, result.output


def test_misspelled_key_in_default_config(cli, tmp_path):
    text = (ROOT / "configs" / "ehr_img_snp.yaml").read_text().replace("cv_folds:", "cv_fold:")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: evaluation.cv_fold: unknown key (did you mean 'cv_folds'?)"
    )


def test_end_to_end_with_an_untrainable_encoder_is_skipped_with_the_reason(
    cli, base_config, write_config
):
    config = dict(
        base_config,
        encoders={"ehr": {"type": "raw"}},
        scenarios=["ehr"],
        methods=[{"type": "deep_concat", "params": {"end_to_end": True}}],
    )
    result = cli("run", write_config(config), "--dry-run")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "trains encoders end to end; encoder 'raw' has no trainable network" in text


def test_run_in_a_log_prints_progress_lines_the_answer_and_the_report(cli, tmp_path):
    """Output that is not a terminal (SLURM, nohup, CI) gets plain timestamped progress lines;
    the run ends with the verdict and the report's path."""
    import re

    out, result = small_run(tmp_path, cli)
    assert re.search(r"^\[\d\d:\d\d:\d\d\] cells 18/18 \(100%\), elapsed", result.stdout, re.M)
    assert "; last: " in result.stdout
    assert re.search(r"^answer: ehr\+snp x \w+ \(f1_macro 0\.\d{3}\) ", result.stdout, re.M)
    assert f"report: {out / 'report.html'}" in result.stdout


def test_progress_lines_are_periodic_with_an_eta():
    from rich.console import Console

    from fusionkit.cli.progress import LineProgress

    console = Console(record=True, width=200)
    now = [0.0]
    progress = LineProgress(console, every=30, clock=lambda: now[0])
    progress("cells", 0, 10)
    for done in range(1, 11):
        now[0] += 10
        progress("cells", done, 10, f"cell{done}")
    lines = console.export_text().splitlines()
    # the start, every 30 s, and the end
    assert [line.split("] ")[1].split(",")[0] for line in lines] == [
        "cells 0/10 (0%)",
        "cells 3/10 (30%)",
        "cells 6/10 (60%)",
        "cells 9/10 (90%)",
        "cells 10/10 (100%)",
    ]
    assert "ETA 0:01:10; last: cell3" in lines[1]  # 30 s for 3 cells, 7 to go


def test_init_writes_a_config_that_validates_and_runs(cli, tmp_path):
    """demo-data -> init -> validate -> run: the three steps to a first result on a folder."""
    import yaml

    data = tmp_path / "study"
    made = cli(
        "demo-data", "adni-like", "--out", data, "--n-subjects", "45", "--n-external", "15",
        "--image-shape", "8,8,8",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    config = tmp_path / "study.yaml"
    result = cli("init", data, "--out", config)
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(config.read_text())
    assert written["data"]["cohort"] == "cohort.csv"
    assert written["data"]["label_column"] == "diagnosis"
    kinds = {m: spec["kind"] for m, spec in written["data"]["modalities"].items()}
    assert kinds == {"ehr": "table", "snp": "genotype", "images": "image"}
    assert written["data"]["modalities"]["images"]["path"] == "images/{subject_id}.nii.gz"
    assert written["data"]["external"] == {"root": "external"}
    assert "# " in config.read_text()  # every choice commented
    assert cli("validate", config).exit_code == 0
    again = cli("init", data, "--out", config)
    assert again.exit_code == 2 and "already exists" in again.stderr
    # runs as written; fewer folds and epochs only to keep the test short
    fast = [
        "--set", "evaluation.cv_folds=3",
        "--set", "encoders.images.params.train.epochs=1",
        "--set", "encoders.ehr.params.train.epochs=3",
        "--set", "encoders.snp.params.train.epochs=3",
        "--set", "methods=[logistic_regression, feature_level, deep_concat]",
    ]  # fmt: skip
    run = cli("run", config, "--out", tmp_path / "run", *fast)
    assert run.exit_code == 0, run.output
    assert (tmp_path / "run" / "report.html").is_file()


def test_init_says_what_it_cannot_find(cli, tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n3,4\n")
    result = cli("init", tmp_path, "--out", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path}: no cohort table found")
    assert not (tmp_path / "x.yaml").exists()


def test_init_finds_multi_view_images_and_dicom_series(cli, tmp_path):
    import yaml

    data = tmp_path / "study"
    (data / "views").mkdir(parents=True)
    rows = ["pid,group,age,score"]
    for i in range(12):
        subject = f"P{i:02d}"
        rows.append(f"{subject},{'AD' if i % 2 else 'CN'},{60 + i},{i % 5}")
        for view in "ax":
            (data / "views" / f"{subject}_{view}.png").write_bytes(b"")
        (data / "dicom" / subject).mkdir(parents=True)
        (data / "dicom" / subject / "1.dcm").write_bytes(b"")
    (data / "clinical.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "c.yaml"
    result = cli("init", data, "--out", config)
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(config.read_text())["data"]
    assert (written["id_column"], written["label_column"]) == ("pid", "group")
    assert written["classes"] == ["AD", "CN"]
    modalities = written["modalities"]
    assert modalities["views"]["path"] == "views/{subject_id}_[ax].png"
    assert modalities["dicom"]["path"] == "dicom/{subject_id}"
    assert modalities["clinical"]["reader"]["params"]["columns"] == ["age", "score"]


def test_plugins_name_shows_params_with_the_components_own_defaults(cli):
    result = cli("plugins", "deep_concat")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fusion deep_concat: ")
    # deep_concat trains its head for up to 100 epochs, not TrainParams' general 50
    assert any(line.split() == ["train.epochs", "int", "=", "100"] for line in lines)
    assert any(line.split()[:2] == ["staged.encoder_lr_scale", "float"] for line in lines)
    unknown = cli("plugins", "deep_concatt")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: no component named 'deep_concatt' (known: ")


def test_schema_describes_the_config(cli, tmp_path):
    import json

    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"data", "methods", "evaluation"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"name", "data", "methods"}


def test_init_finds_plink_and_vcf_genotypes(cli, small_cohort, tmp_path):
    import shutil

    import pandas as pd
    import yaml

    from fusionkit.readers.genotype_files import write_pgen, write_plink, write_vcf

    data = tmp_path / "study"
    data.mkdir()
    shutil.copy(small_cohort / "cohort.csv", data / "cohort.csv")
    snp = pd.read_csv(small_cohort / "snp.csv", index_col="subject_id")
    write_plink(snp, data / "chip")
    write_vcf(snp, data / "wgs.vcf")
    write_pgen(snp, data / "imputed")
    config = tmp_path / "c.yaml"
    assert cli("init", data, "--out", config).exit_code == 0
    modalities = yaml.safe_load(config.read_text())["data"]["modalities"]
    assert modalities["chip"] == {"kind": "genotype", "path": "chip", "reader": "plink"}
    assert modalities["wgs"] == {"kind": "genotype", "path": "wgs.vcf", "reader": "vcf"}
    assert modalities["imputed"] == {"kind": "genotype", "path": "imputed", "reader": "pgen"}
    assert cli("validate", config).exit_code == 0
