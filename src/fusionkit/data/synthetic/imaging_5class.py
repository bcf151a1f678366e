"""A synthetic five-class image set imitating the seed study's modalities (clearly synthetic).

Classes (folder names): ``chest_xray``, ``ct``, ``endoscopy``, ``hand_xray``, ``lung_ct``.
Each image is drawn from a small procedural model of its modality: body outlines, lung fields,
bones, vessels, a colour mucosa with specular highlights, with random position, size, rotation,
contrast and noise, so the classes overlap in simple statistics and a classifier has to look at
shape and texture. Grey classes are written as 8-bit grey PNG, endoscopy as RGB PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("chest_xray", "ct", "endoscopy", "hand_xray", "lung_ct")


def generate(out: str | Path, *, seed: int = 0, per_class: int = 60, size: int = 64) -> dict:
    """Write ``per_class`` PNG images of ``size`` x ``size`` into ``out/<class>/``."""
    from PIL import Image

    out = Path(out)
    rng = np.random.default_rng(seed)
    counts = {}
    for name in CLASSES:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        draw = _DRAW[name]
        for i in range(per_class):
            image = draw(rng, size)
            image = np.clip(image + rng.normal(0, 0.04, image.shape), 0, 1)
            array = (image * 255).round().astype(np.uint8)
            mode = "RGB" if array.ndim == 3 else "L"
            Image.fromarray(array, mode=mode).save(folder / f"{name}_{i:04d}.png")
        counts[name] = per_class
    return {"classes": counts, "size": size, "seed": seed}


def _grid(rng: np.random.Generator, size: int):
    """Coordinates in [-1, 1], randomly shifted, scaled and rotated."""
    y, x = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    angle = rng.uniform(-0.35, 0.35)
    scale = rng.uniform(0.85, 1.15)
    dx, dy = rng.uniform(-0.12, 0.12, 2)
    xr = (np.cos(angle) * (x - dx) - np.sin(angle) * (y - dy)) / scale
    yr = (np.sin(angle) * (x - dx) + np.cos(angle) * (y - dy)) / scale
    return xr, yr


def _ellipse(x, y, cx, cy, rx, ry, soft=0.08):
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return 1 / (1 + np.exp((r - 1) / soft))


def _chest_xray(rng, size):
    x, y = _grid(rng, size)
    body = _ellipse(x, y, 0, 0.1, 0.95, 1.1)
    lungs = _ellipse(x, y, -0.38, -0.05, 0.3, 0.55) + _ellipse(x, y, 0.38, -0.05, 0.3, 0.55)
    heart = _ellipse(x, y, 0.12, 0.25, 0.25, 0.22)
    ribs = 0.08 * (np.sin(14 * y + rng.uniform(0, 6)) > 0.6) * lungs
    return np.clip(0.75 * body - 0.5 * lungs + 0.3 * heart + ribs, 0, 1) * rng.uniform(0.8, 1)


def _ct(rng, size):
    x, y = _grid(rng, size)
    body = _ellipse(x, y, 0, 0, 0.85, 0.65)
    bone = body - _ellipse(x, y, 0, 0, 0.78, 0.58)
    organs = sum(
        rng.uniform(0.1, 0.3)
        * _ellipse(x, y, *rng.uniform(-0.4, 0.4, 2), *rng.uniform(0.1, 0.3, 2))
        for _ in range(4)
    )
    spine = _ellipse(x, y, 0, 0.45, 0.12, 0.1)
    return np.clip(0.45 * body + 0.5 * bone + organs * body + 0.5 * spine, 0, 1)


def _endoscopy(rng, size):
    x, y = _grid(rng, size)
    r = np.sqrt(x**2 + y**2)
    vignette = np.clip(1.2 - r, 0, 1)
    folds = 0.15 * np.sin(rng.uniform(4, 9) * np.arctan2(y, x) + 6 * r)
    lumen = _ellipse(x, y, *rng.uniform(-0.3, 0.3, 2), 0.18, 0.18)
    base = np.clip(vignette * (0.8 + folds) - 0.6 * lumen, 0, 1)
    spec = (rng.random((size, size)) > 0.995).astype(float)
    hue = rng.uniform(0.85, 1.0)
    rgb = np.stack([base * hue, base * 0.45, base * 0.4], axis=-1)
    return np.clip(rgb + spec[..., None], 0, 1)


def _hand_xray(rng, size):
    x, y = _grid(rng, size)
    palm = _ellipse(x, y, 0, 0.45, 0.45, 0.4)
    fingers = sum(
        _ellipse(x, y, cx, -0.2 + rng.uniform(-0.1, 0.1), 0.08, rng.uniform(0.4, 0.55))
        for cx in (-0.36, -0.12, 0.12, 0.36)
    )
    thumb = _ellipse(x, y, -0.6, 0.25, 0.09, 0.3)
    bones = 0.3 * (np.sin(20 * y) > 0.2) * fingers
    return np.clip(0.6 * np.clip(palm + fingers + thumb, 0, 1) + bones, 0, 1) * rng.uniform(0.8, 1)


def _lung_ct(rng, size):
    x, y = _grid(rng, size)
    body = _ellipse(x, y, 0, 0, 0.9, 0.7)
    lungs = _ellipse(x, y, -0.4, 0, 0.32, 0.5) + _ellipse(x, y, 0.4, 0, 0.32, 0.5)
    vessels = (rng.random((size, size)) > 0.97).astype(float) * lungs
    return np.clip(0.55 * body - 0.5 * lungs + 0.6 * vessels, 0, 1)


_DRAW = {
    "chest_xray": _chest_xray,
    "ct": _ct,
    "endoscopy": _endoscopy,
    "hand_xray": _hand_xray,
    "lung_ct": _lung_ct,
}
