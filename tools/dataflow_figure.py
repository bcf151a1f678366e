"""Draw docs/images/dataflow.png, the one-way data flow of `fusionkit run` (matplotlib).

python tools/dataflow_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STEPS = [
    ("config.yaml", "validated: every\nproblem in one line,\nexit code 2"),
    ("cohort", "tables, genotypes\n(0/1/2), NIfTI,\nDICOM, PNG / JPEG"),
    ("folds", "seeded, stratified,\ngrouped; external\ncohort kept apart"),
    ("encoders", "fitted on each\ntraining part only,\nonce per fold"),
    ("cells", "scenario x method\nx fold: classifiers\nand fusions (plugins)"),
    ("evaluation", "CV + external test,\nrobustness,\ncontribution"),
    ("outputs", "CSVs, report.html,\nkept models,\nmanifest"),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(12, 2.6))
    ax.set_xlim(0, len(STEPS) * 1.7)
    ax.set_ylim(0, 2.2)
    ax.axis("off")
    for i, (title, text) in enumerate(STEPS):
        x = 0.1 + i * 1.7
        colour = "#dbe9f6" if title not in ("cells", "encoders") else "#fde7cf"
        ax.add_patch(
            FancyBboxPatch(
                (x, 0.2), 1.35, 1.8, boxstyle="round,pad=0.03", fc=colour, ec="#555", lw=1
            )
        )
        ax.text(x + 0.675, 1.7, title, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x + 0.675, 0.95, text, ha="center", va="center", fontsize=7.5)
        if i:
            ax.add_patch(
                FancyArrowPatch(
                    (x - 0.33, 1.1), (x - 0.02, 1.1), arrowstyle="-|>", mutation_scale=14
                )
            )
    fig.tight_layout()
    out = Path(__file__).resolve().parents[1] / "docs" / "images" / "dataflow.png"
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
