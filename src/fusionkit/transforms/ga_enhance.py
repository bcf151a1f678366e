"""Genetic-algorithm contrast enhancement of grey-scale images (``ga_enhance``).

For each image a genetic algorithm (pygad) searches the three parameters of a contrast curve

    T(x) = (s(x) - s(0)) / (s(1) - s(0)),   s(x) = sigmoid(gain * (x ** gamma - cutoff))

(``x`` the image rescaled to [0, 1]; gamma in [0.3, 3], gain in [0.01, 20], cutoff in [0.1, 0.9])
to maximise the fitness of Munteanu and Rosa (2004):

    F(I) = log(log(E(I) + e)) * n_edges(I) / n_pixels * H(I)

with ``E`` the sum of Sobel gradient magnitudes, ``n_edges`` the number of pixels whose gradient
magnitude exceeds ``edge_threshold``, and ``H`` the Shannon entropy (bits) of the 256-bin
histogram: a good enhancement has many strong edges and uses the grey range evenly.

pygad runs the GA (tournament selection, single-point crossover, random mutation, elitism; rates
from the params, seeded). Fitness is evaluated for the whole population at once: the candidate
curves are applied as one array and Sobel, thresholding and histograms are computed for all
candidates in a few numpy calls, so pygad's per-generation bookkeeping is the only Python loop.
Works on 2D images and 3D volumes (gradients along every spatial axis); colour images are
enhanced on their luminance (each channel shifted by the luminance change); the method is meant
for grey-scale images.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionkit.hookspecs import hookimpl

BOUNDS = np.array([[0.3, 3.0], [0.01, 20.0], [0.1, 0.9]])  # gamma, gain, cutoff
IDENTITY = np.array([1.0, 0.01, 0.5])  # gain 0.01: linear to within 1e-5


class GAEnhanceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    population: int = Field(16, ge=4, description="Candidate curves per generation.")
    generations: int = Field(12, ge=1)
    parents: int = Field(6, ge=2, description="Parents selected per generation.")
    crossover_rate: float = Field(0.8, ge=0, le=1)
    mutation_rate: float = Field(0.25, ge=0, le=1, description="Per-gene mutation probability.")
    tournament: int = Field(3, ge=2, description="Tournament size for parent selection.")
    elitism: int = Field(1, ge=0)
    edge_threshold: float = Field(0.1, gt=0, description="Gradient magnitude of an edge pixel.")
    max_side: int = Field(
        256, ge=16, description="Search on a central crop of at most this side (speed)."
    )
    seed: int = Field(0, ge=0)


def apply_curve(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The contrast curve for one parameter row, or a stack for (P, 3) rows: (P, *x.shape)."""
    params = np.atleast_2d(params)
    shape = (len(params),) + (1,) * x.ndim
    gamma, gain, cutoff = (params[:, i].reshape(shape) for i in range(3))

    def s(v):
        return 1.0 / (1.0 + np.exp(-gain * (v - cutoff)))

    lo, hi = s(0.0), s(1.0)
    return (s(np.power(x[None], gamma)) - lo) / np.maximum(hi - lo, 1e-6)


def fitness(stack: np.ndarray, edge_threshold: float) -> np.ndarray:
    """Munteanu-Rosa fitness of each image in a stack (P, *spatial) with values in [0, 1]."""
    from scipy import ndimage

    squared = np.zeros_like(stack)
    spatial = range(1, stack.ndim)  # axis 0 holds the candidates: never smooth across it
    for axis in spatial:
        d = ndimage.correlate1d(stack, [-1.0, 0.0, 1.0], axis=axis, mode="nearest")
        for other in spatial:
            if other != axis:
                d = ndimage.correlate1d(d, [1.0, 2.0, 1.0], axis=other, mode="nearest")
        squared += d**2
    magnitude = np.sqrt(squared) / (4 * np.sqrt(stack.ndim - 1))  # ~[0, 1] per axis
    n = int(np.prod(stack.shape[1:]))
    flat = magnitude.reshape(len(stack), n)
    energy = flat.sum(axis=1)
    edges = (flat > edge_threshold).sum(axis=1) / n
    bins = np.clip((stack.reshape(len(stack), n) * 255).astype(np.int64), 0, 255)
    offsets = (np.arange(len(stack)) * 256)[:, None]
    counts = np.bincount((bins + offsets).ravel(), minlength=256 * len(stack)).reshape(-1, 256)
    p = counts / n
    entropy = -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0), axis=1)
    return np.log(np.log(energy + np.e)) * edges * entropy


def to_unit(image: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] between the 0.5th and 99.5th percentiles (robust to outliers)."""
    lo, hi = np.percentile(image, [0.5, 99.5])
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)


def _crop(x: np.ndarray, max_side: int) -> np.ndarray:
    """A central crop (not a downsampled copy: gradients keep their scale)."""
    return x[
        tuple(
            slice(max(0, (n - max_side) // 2), max(0, (n - max_side) // 2) + max_side)
            for n in x.shape
        )
    ]


class GAEnhance:
    """Callable transform: channel-first image -> enhanced image (same shape, values in [0, 1])."""

    def __init__(self, params: GAEnhanceParams):
        self.params = params
        self.history_: list[float] = []

    def search(self, grey: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """Best curve parameters for a [0, 1] image, and the best fitness per generation."""
        import pygad

        p = self.params
        small = _crop(grey, p.max_side)
        best: list[float] = []
        champion = {"fitness": -np.inf, "solution": IDENTITY}

        def batch_fitness(ga, solutions, indices):
            solutions = np.asarray(solutions, dtype=float)
            scores = fitness(apply_curve(small, solutions), p.edge_threshold)
            i = int(np.argmax(scores))
            if scores[i] > champion["fitness"]:  # the best curve ever evaluated wins
                champion["fitness"], champion["solution"] = float(scores[i]), solutions[i].copy()
            return scores

        def on_generation(ga):
            best.append(champion["fitness"])

        # The initial population holds a near-identity curve, so (with elitism) the result is
        # never worse than leaving the image alone.
        rng = np.random.default_rng(p.seed)
        initial = rng.uniform(BOUNDS[:, 0], BOUNDS[:, 1], size=(p.population, 3))
        initial[0] = IDENTITY
        ga = pygad.GA(
            initial_population=initial,
            num_generations=p.generations,
            num_parents_mating=min(p.parents, p.population),
            gene_space=[{"low": lo, "high": hi} for lo, hi in BOUNDS],
            gene_type=float,
            fitness_func=batch_fitness,
            fitness_batch_size=p.population,
            parent_selection_type="tournament",
            K_tournament=p.tournament,
            crossover_type="single_point",
            crossover_probability=p.crossover_rate,
            mutation_type="random",
            mutation_probability=p.mutation_rate,
            keep_elitism=p.elitism,
            random_seed=p.seed,
            on_generation=on_generation,
            suppress_warnings=True,
        )
        ga.run()
        return np.asarray(champion["solution"], dtype=float), best

    def __call__(self, image: np.ndarray) -> np.ndarray:
        grey = image.mean(axis=0) if image.shape[0] > 1 else image[0]
        unit = to_unit(grey)
        solution, self.history_ = self.search(unit)
        self.solution_ = solution
        enhanced = apply_curve(unit, solution)[0]
        if image.shape[0] == 1:
            return enhanced[None].astype(np.float32)
        # colour: shift every channel by the luminance change (a ratio would blow up dark noise)
        channels = np.stack([to_unit(c) for c in image])
        return np.clip(channels + (enhanced - unit), 0, 1).astype(np.float32)


@hookimpl
def register_transforms(register):
    register(
        "ga_enhance",
        GAEnhance,
        params=GAEnhanceParams,
        description="Genetic-algorithm contrast enhancement (Munteanu-Rosa fitness, pygad).",
        modalities=("image",),
    )
