"""``fusionkit predict``: classify image files with the best checkpoint of an earlier run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import app, err, handle_input_errors


@app.command("predict")
@handle_input_errors
def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with checkpoints/.")],
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the predictions here.")] = None,
    checkpoint: Annotated[
        str | None, typer.Option("--checkpoint", help="Cell id (default: the best one).")
    ] = None,
) -> None:
    """Predict the class (argmax) and every class probability of each image."""
    from fusionkit.experiment.predict import expand_inputs, load_checkpoint, predict_files

    if csv is not None and csv.exists():
        from fusionkit.errors import DataError

        raise DataError(f"{csv}: already exists; choose another --csv path")
    bundle = load_checkpoint(run_dir, checkpoint)
    files = expand_inputs(inputs)
    rows, failures = predict_files(bundle, files)
    classes = bundle["classes"]
    width = max((len(str(r["file"])) for r in rows), default=4)
    print(f"checkpoint: {bundle['path']}")
    print(f"{'file':<{width}}  {'class':<12}" + "".join(f"{c:>12}" for c in classes))
    for row in rows:
        probs = "".join(f"{row[f'p_{c}']:>12.4f}" for c in classes)
        print(f"{row['file']!s:<{width}}  {row['predicted']:<12}{probs}")
    if csv is not None:
        import pandas as pd

        from fusionkit.experiment.store import write_atomic

        frame = pd.DataFrame(rows, columns=["file", "predicted", *[f"p_{c}" for c in classes]])
        write_atomic(csv, frame.to_csv(index=False, float_format="%.6f").encode())
        print(f"wrote {csv}")
    for problem in failures:
        err(f"error: {problem}")
    if failures:
        raise typer.Exit(code=2)
