"""``fusionkit predict``: classify new subjects with a kept (final) model of an earlier run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionkit.cli.app import app, err, handle_input_errors


@app.command("predict")
@handle_input_errors
def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with final models.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Image files or folders (image models), or one table of subjects."),
    ],
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the predictions here.")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="A final model (scenario__method) or any kept cell model (default: the best "
            "final model).",
        ),
    ] = None,
    id_column: Annotated[
        str, typer.Option("--id-column", help="Id column of an input table.")
    ] = "subject_id",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 64,
) -> None:
    """Predict the class (argmax) and every class probability of each subject or image."""
    import time

    from fusionkit.errors import DataError
    from fusionkit.experiment.predict import complete_only, load_model, predict, read_inputs

    if csv is not None and csv.exists():
        raise DataError(f"{csv}: already exists; choose another --csv path")
    kept = load_model(run_dir, model)
    ids, data, available, failures = read_inputs(kept, inputs, id_column)
    ids, data, available, left_out = complete_only(kept, ids, data, available)
    if left_out:
        err(
            f"warning: {len(left_out)} subjects lack one of {', '.join(kept.modalities)} and are "
            f"not predicted: {kept.name} was fitted on complete cases (e.g. {left_out[0]})"
        )
    start = time.perf_counter()
    proba = predict(kept, ids, data, available, batch_size)
    seconds = time.perf_counter() - start
    classes = kept.classes
    width = max((len(i) for i in ids), default=4)
    print(f"model: {kept.name}")
    print(f"{'subject':<{width}}  {'class':<12}" + "".join(f"{c:>12}" for c in classes))
    for subject, row in zip(ids, proba, strict=True):
        probs = "".join(f"{p:>12.4f}" for p in row)
        print(f"{subject:<{width}}  {classes[int(row.argmax())]:<12}{probs}")
    if ids:
        print(f"{len(ids)} predicted in {seconds:.2f} s ({len(ids) / max(seconds, 1e-9):.1f}/s)")
    if csv is not None:
        import pandas as pd

        from fusionkit.experiment.store import write_atomic

        frame = pd.DataFrame(proba, columns=[f"p_{c}" for c in classes])
        frame.insert(0, "predicted", [classes[int(i)] for i in proba.argmax(axis=1)])
        frame.insert(0, "model", kept.name)
        frame.insert(0, "subject", ids)
        write_atomic(csv, frame.to_csv(index=False, float_format="%.6f").encode())
        print(f"wrote {csv}")
    for problem in failures:
        err(f"error: {problem}")
    if failures:
        raise typer.Exit(code=2)
