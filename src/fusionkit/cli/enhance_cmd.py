"""``fusionkit enhance``: genetic-algorithm contrast enhancement of image files."""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import app, err, handle_input_errors


@app.command("enhance")
@handle_input_errors
def enhance_command(
    images: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for enhanced PNGs and fitness.png.")],
    generations: Annotated[int, typer.Option("--generations", min=1)] = 12,
    population: Annotated[int, typer.Option("--population", min=4)] = 16,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
) -> None:
    """Enhance each image with the ga_enhance transform; write PNGs and a fitness plot."""
    import numpy as np
    from PIL import Image

    from fusionkit.data.images import load_image
    from fusionkit.errors import DataError
    from fusionkit.experiment.predict import expand_inputs
    from fusionkit.experiment.store import write_atomic
    from fusionkit.plugins import get_registry
    from fusionkit.transforms.ga_enhance import fitness, to_unit

    files = expand_inputs(images)
    targets = [out / f"{f.name.split('.')[0]}_enhanced.png" for f in files]
    clashes = [t for t in targets if t.exists()]
    if clashes:
        raise DataError(f"{clashes[0]}: already exists; choose another --out folder")
    out.mkdir(parents=True, exist_ok=True)
    params = {"generations": generations, "population": population, "seed": seed}
    transform = get_registry().get("transform", "ga_enhance").build(params)
    histories, rows, failures = {}, [], []
    start = time.perf_counter()
    for file, target in zip(files, targets, strict=True):
        try:
            image = load_image(file)
        except DataError as exc:
            failures.append(str(exc))
            continue
        if image.ndim != 3:
            failures.append(f"{file}: only 2D images are written as PNG (got {image.ndim - 1}D)")
            continue
        enhanced = transform(image)
        before = float(
            fitness(to_unit(image.mean(axis=0))[None], transform.params.edge_threshold)[0]
        )
        after = float(fitness(enhanced.mean(axis=0)[None], transform.params.edge_threshold)[0])
        array = (np.moveaxis(enhanced, 0, -1) * 255).round().astype(np.uint8)
        array = array[..., 0] if array.shape[-1] == 1 else array
        # MONAI's PIL reader returns (width, height): transpose back to PIL's (height, width).
        array = np.swapaxes(array, 0, 1)
        buffer = BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        write_atomic(target, buffer.getvalue())
        histories[file.name] = transform.history_
        gamma, gain, cutoff = transform.solution_
        rows.append(f"{file},{target},{gamma:.4f},{gain:.4f},{cutoff:.4f},{before:.4f},{after:.4f}")
        print(f"{file} -> {target}  fitness {before:.3f} -> {after:.3f}")
    seconds = time.perf_counter() - start
    if rows:
        header = "input,output,gamma,gain,cutoff,fitness_before,fitness_after"
        write_atomic(out / "enhance.csv", ("\n".join([header, *rows]) + "\n").encode())
        _plot(histories, out / "fitness.png")
        print(
            f"{len(rows)} images in {seconds:.2f} s ({len(rows) / seconds:.1f} images/s); "
            f"wrote {out / 'fitness.png'} and {out / 'enhance.csv'}"
        )
    for problem in failures:
        err(f"error: {problem}")
    if failures:
        raise typer.Exit(code=2)


def _plot(histories: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, history in list(histories.items())[:20]:
        ax.plot(range(1, len(history) + 1), history, marker=".", label=name)
    ax.set(
        xlabel="generation",
        ylabel="best fitness (Munteanu-Rosa)",
        title="GA enhancement: best fitness per generation",
    )
    if len(histories) <= 8:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
