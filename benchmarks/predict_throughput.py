"""How fast `fusionkit predict` classifies images with a kept ResNet-50, measured in one run.

Trains the five-class image classifier briefly (ResNet-50, built-in synthetic 64 x 64 PNGs, one
epoch: the weights do not matter for speed) with a final model, then predicts the same images
through the `predict` path (kept model loaded from its safe formats, images read and
preprocessed, `DataLoader` batches) with batch size 1 (one image at a time, as before batching)
and with ``--batch-size``. Prints images per second of each and their ratio; reading and
preprocessing are included, model loading is not.

    python benchmarks/predict_throughput.py [--images 200] [--batch-size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from fusionkit.config import load_config
from fusionkit.data.image_tensors import prepared_image
from fusionkit.data.synthetic.imaging_5class import generate
from fusionkit.experiment.predict import load_model, predict, read_inputs
from fusionkit.experiment.runner import run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--smoke", action="store_true", help="25 images, a narrow network: checks that it runs"
    )
    args = parser.parse_args()
    width = 1.0
    if args.smoke:
        args.images, args.batch_size, width = 25, 4, 0.125
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "images", seed=0, per_class=max(args.images // 5, 4), size=64)
        config = {
            "name": "throughput",
            "data": {
                "root": str(root / "images"),
                "cohort": ".",
                "classes": ["chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct"],
                "modalities": {"img": {"kind": "image", "path": "{subject_id}.png"}},
            },
            "encoders": {
                "img": {
                    "type": "resnet50",
                    "params": {"spatial_size": [64, 64], "channels": "rgb", "widen_factor": width},
                }
            },
            "scenarios": ["img"],
            "methods": [
                {
                    "name": "resnet50",
                    "type": "deep_concat",
                    "params": {"end_to_end": True, "head": {"hidden": []}, "train": {"epochs": 1}},
                }
            ],
            "evaluation": {"holdout": 0.2},
            "runtime": {"threads": args.threads, "device": "cpu"},
            "output": {"final_models": [{"scenario": "img", "method": "resnet50"}]},
        }
        path = root / "c.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        run_experiment(load_config(path), root / "run")
        model = load_model(root / "run")
        files = sorted((root / "images").rglob("*.png"))[: args.images]
        ids, data, available, _ = read_inputs(model, files, "subject_id")
        rates = {}
        for batch in (1, args.batch_size):
            prepared_image.cache_clear()  # each pass reads and preprocesses every image
            start = time.perf_counter()
            predict(model, ids, data, available, batch_size=batch)
            rates[batch] = len(ids) / (time.perf_counter() - start)
        print(f"model: {model.name}, {len(ids)} images of 64 x 64, {args.threads} threads, CPU")
        for batch, rate in rates.items():
            print(f"  batch size {batch:>3}: {rate:7.1f} images/s ({1000 / rate:.1f} ms per image)")
        print(f"  batched / one at a time: {rates[args.batch_size] / rates[1]:.1f}x")


if __name__ == "__main__":
    main()
