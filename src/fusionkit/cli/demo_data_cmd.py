"""``fusionkit demo-data``: write a built-in synthetic dataset as real files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from fusionkit.cli.app import app, handle_input_errors
from fusionkit.errors import DataError

demo_app = typer.Typer(
    help="Write a built-in synthetic dataset as real files.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo-data")

OutOption = Annotated[Path, typer.Option("--out", help="New (or empty) folder to write into.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Generator seed.")]


def _write(dataset: str, out: Path, params: dict[str, Any]) -> dict:
    """Generate a registered dataset into ``out`` (`write_folder`)."""
    from fusionkit.plugins import get_registry

    component = get_registry().get("dataset", dataset)
    return write_folder(out, lambda tmp: component.build(params).materialize(tmp))


def write_folder(out: Path, fill: Callable[[Path], dict]) -> dict:
    """``fill`` a temporary sibling folder, then move it into place: never overwrites."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: already exists and is not empty; choose a new --out folder")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        summary = fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    return summary


@demo_app.command("adni-like")
@handle_input_errors
def adni_like(
    out: OutOption,
    seed: SeedOption = 0,
    n_subjects: Annotated[int, typer.Option("--n-subjects", min=30)] = 400,
    n_external: Annotated[int, typer.Option("--n-external", min=0)] = 150,
    image_shape: Annotated[
        str, typer.Option("--image-shape", help="MRI size in voxels, e.g. 32,40,32.")
    ] = "32,40,32",
) -> None:
    """Synthetic ADNI-style cohort: cohort.csv, ehr.csv, snp.csv, images/*.nii.gz, external/."""
    try:
        shape = tuple(int(v) for v in image_shape.split(","))
        assert len(shape) == 3 and min(shape) >= 8
    except (ValueError, AssertionError):
        raise DataError(
            f"--image-shape {image_shape}: expected three sizes >= 8, e.g. 32,40,32"
        ) from None
    summary = _write(
        "adni_like",
        out,
        {"seed": seed, "n_subjects": n_subjects, "n_external": n_external, "image_shape": shape},
    )
    for part in ("main", "external"):
        s = summary[part]
        classes = ", ".join(f"{k} {v}" for k, v in s["classes"].items())
        print(
            f"{part}: {s['subjects']} subjects ({classes}); SNP {s['with_snp']}, "
            f"MRI {s['with_mri']}, all three {s['with_all']}"
        )
    print(f"wrote {out}")


@demo_app.command("imaging-5class")
@handle_input_errors
def imaging_5class(
    out: OutOption,
    seed: SeedOption = 0,
    per_class: Annotated[int, typer.Option("--per-class", min=2)] = 60,
    size: Annotated[int, typer.Option("--size", min=16, max=1024)] = 64,
) -> None:
    """Synthetic five-class PNG folders (chest_xray, ct, endoscopy, hand_xray, lung_ct)."""
    summary = _write("imaging_5class", out, {"seed": seed, "per_class": per_class, "size": size})
    print(f"wrote {sum(summary['classes'].values())} images of {size}x{size} px to {out}")


convert_app = typer.Typer(
    help="Convert data shipped in a bundle format into files fusionkit reads.",
    no_args_is_help=True,
)
app.add_typer(convert_app, name="convert")


@convert_app.command("medmnist")
@handle_input_errors
def convert_medmnist(
    npz: Annotated[Path, typer.Argument(help="A MedMNIST .npz file (e.g. breastmnist.npz).")],
    out: OutOption,
) -> None:
    """MedMNIST .npz -> images/*.png and cohort.csv with the official split in column `split`."""
    from fusionkit.data.medmnist import convert

    if not npz.is_file():
        raise DataError(f"{npz}: file not found")
    counts = write_folder(out, lambda tmp: convert(npz, tmp))
    print(f"{out}: " + ", ".join(f"{split} {n}" for split, n in counts.items()))
