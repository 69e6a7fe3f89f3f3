"""One-pixel attacks (Su, Vargas & Sakurai, IEEE TEC 2019), for the study's Table 6 and Appendix F.

Differential evolution as the paper states it, in the pixel-space convention of :func:`fgsm`
(images in [0, 1], the model sees ``(x - mean) / std``):

- a candidate is ``(row, col, c_1 .. c_C)``: a pixel and its new value in 0..255 per channel;
- the initial population draws ``row`` and ``col`` uniformly over the image and every colour
  value from N(128, 127), clipped to 0..255 (the paper's U(1, 32) and N(µ=128, σ=127) on CIFAR);
- each generation, child ``i = x_r1 + F (x_r2 - x_r3)`` (rand/1, ``r1, r2, r3`` distinct and
  different from ``i``), clipped to the image and to 0..255; no crossover;
- the child replaces its parent when it lowers the softmax probability of the label (strictly);
- an image stops as soon as its best candidate is misclassified (``argmax != label``; the
  reference implementation the study used stops there), else after ``generations``.

A candidate is evaluated at its rounded coordinates and colour, the values reported. The random
stream of image ``i`` is seeded by ``(seed, first_index + i)``: an image's attack does not depend
on which other images share the call, so shards of a dataset give the same results as one call.

Every population is scored through :func:`population_logits` — one image, ``P`` candidates —
which for sequential conv / pool networks (VGG, AlexNet, the small VGG) and torchvision's ResNets
recomputes only the cone of each layer that the changed pixel reaches
(:mod:`cameval.inference`, exact to float32 rounding) and otherwise runs batched full
forward passes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.explain import logits_of
from cameval.inference import pixel_logits
from cameval.pixels import normalize, set_pixels

log = logging.getLogger(__name__)

#: candidates per forward pass in :func:`population_logits`
BATCH_SIZE = 512


@dataclass(frozen=True)
class OnePixelAttack:
    """The attack's parameters (Su et al.'s differential evolution; the study's Table 6 values are the
    defaults): ``population`` candidates per generation (rand/1 needs at least 4), at most
    ``generations`` generations (0: the initial population only), mutation factor ``f`` (> 0), and
    ``seed``, which with an image's index seeds its random stream (module docstring)."""

    population: int = 400
    generations: int = 100
    f: float = 0.5
    seed: int = 0

    def __post_init__(self):
        if self.population < 4:
            raise ValueError(f"population: rand/1 mutation needs at least 4 candidates; got {self.population}")
        if self.generations < 0 or self.f <= 0:
            raise ValueError(f"generations must be >= 0 and f > 0; got {self.generations}, {self.f}")


@dataclass
class OnePixelResult:
    """What :func:`one_pixel` returns (numpy arrays, one row per image; ``adversarial`` a tensor)."""

    success: np.ndarray  # bool [N]: argmax != label at the end
    pixel: np.ndarray  # int [N, 2]: (row, col) of the changed pixel
    colour: np.ndarray  # uint8 [N, C]: its new value (RGB for C = 3)
    generations: np.ndarray  # int [N]: generations run (0 when the initial population already succeeds)
    p_before: np.ndarray  # float [N]: softmax probability of the label, clean
    p_after: np.ndarray  # float [N]: ... with the pixel changed
    pred_before: np.ndarray  # int [N]
    pred_after: np.ndarray  # int [N]
    evaluations: np.ndarray  # int [N]: candidates scored (forward passes of one image)
    adversarial: torch.Tensor  # float [N, C, H, W] in [0, 1]


@torch.no_grad()
def population_logits(
    model: nn.Module,
    x: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    values: torch.Tensor,
    batch_size: int | None = None,
    incremental: bool | None = None,
) -> torch.Tensor:
    """Logits ``[P, classes]`` of ``P`` copies of one image, each with one pixel changed.

    ``x``: one normalized image ``[C, H, W]`` (model space); ``rows``, ``cols``: LongTensor
    ``[P]``; ``values``: float ``[P, C]``, the new pixel values already normalized into model
    space. Copy ``i`` is ``x`` with ``x[:, rows[i], cols[i]] = values[i]``, scored by
    :func:`cameval.inference.pixel_logits`: exact incremental inference (only the cone
    each pixel reaches is recomputed) for sequential conv / pool networks and ResNets, batched full
    forward passes of ``batch_size`` (default :data:`BATCH_SIZE`) candidates otherwise or with
    ``incremental=False`` (``None``: incremental on the CPU only). The model is run in its current
    mode (put it in eval mode).
    """
    return pixel_logits(model, x, rows, cols, values, batch_size=batch_size or BATCH_SIZE, incremental=incremental)


def _init_population(rng: np.random.Generator, population: int, h: int, w: int, c: int) -> np.ndarray:
    pop = np.empty((population, 2 + c))
    pop[:, 0] = rng.integers(0, h, size=population)
    pop[:, 1] = rng.integers(0, w, size=population)
    pop[:, 2:] = np.clip(rng.normal(128.0, 127.0, size=(population, c)), 0, 255)
    return pop


def _clip(pop: np.ndarray, h: int, w: int) -> np.ndarray:
    pop[:, 0] = np.clip(pop[:, 0], 0, h - 1)
    pop[:, 1] = np.clip(pop[:, 1], 0, w - 1)
    pop[:, 2:] = np.clip(pop[:, 2:], 0, 255)
    return pop


def _rand1_partners(rng: np.random.Generator, population: int) -> np.ndarray:
    """``[P, 3]`` indices ``r1, r2, r3``, distinct and different from the row's own index."""
    out = np.empty((population, 3), dtype=np.int64)
    for i in range(population):  # P draws of 3 indices: cheap beside the forward passes
        others = rng.choice(population - 1, size=3, replace=False)
        out[i] = others + (others >= i)
    return out


def one_pixel(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    attack: OnePixelAttack = OnePixelAttack(),
    *,
    first_index: int = 0,
    progress: bool = False,
    incremental: bool | None = None,
) -> OnePixelResult:
    """Untargeted one-pixel attack on pixel-space images ``[N, C, H, W]`` in [0, 1], with the
    parameters of ``attack``; the model sees ``(pixels − mean) / std``.

    See the module docstring for the algorithm. ``first_index`` offsets the per-image seeds
    (image ``i`` uses ``np.random.SeedSequence([attack.seed, first_index + i])``). Where no candidate
    flips the prediction, ``success`` is False and the best candidate found (the lowest label
    probability) is reported. The model is run in its current mode; no gradient is taken.
    ``incremental``: score populations incrementally where the model allows (the same numbers
    to float32 rounding as full forward passes, :func:`population_logits`).
    """
    population, generations, f, seed = attack.population, attack.generations, attack.f, attack.seed
    if pixels.ndim != 4 or len(pixels) != len(labels):
        raise ValueError(
            f"pixels: expected [N, C, H, W] with one label per image; got {tuple(pixels.shape)} "
            f"and {len(labels)} labels"
        )
    n, c, h, w = pixels.shape
    m = torch.as_tensor(mean, dtype=pixels.dtype, device=pixels.device).reshape(-1)[:c]
    s = torch.as_tensor(std, dtype=pixels.dtype, device=pixels.device).reshape(-1)[:c]
    x = normalize(pixels, m, s)
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    with torch.no_grad():
        clean = torch.softmax(logits_of(model(x)).float(), dim=1).cpu()
    out = {
        "success": np.zeros(n, bool),
        "pixel": np.zeros((n, 2), np.int64),
        "colour": np.zeros((n, c), np.uint8),
        "generations": np.zeros(n, np.int64),
        "p_after": np.zeros(n),
        "pred_after": np.zeros(n, np.int64),
        "evaluations": np.zeros(n, np.int64),
    }
    adversarial = pixels.detach().clone()

    def score(img: int, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label probability, prediction) of each candidate of image ``img``."""
        q = np.rint(cand).astype(np.int64)
        values = normalize(torch.as_tensor(q[:, 2:], dtype=x.dtype, device=x.device) / 255, m, s, channel_axis=-1)
        logits = population_logits(
            model, x[img], torch.as_tensor(q[:, 0]), torch.as_tensor(q[:, 1]), values, incremental=incremental
        )
        prob = torch.softmax(logits.float(), dim=1)
        out["evaluations"][img] += len(cand)
        return prob[:, int(labels[img])].cpu().numpy().astype(np.float64), prob.argmax(1).cpu().numpy()

    for img in tqdm(range(n), desc="one-pixel", unit="img", disable=not progress):
        t0 = time.perf_counter()
        label = int(labels[img])
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(first_index + img)])))
        pop = _init_population(rng, population, h, w, c)
        fit, pred = score(img, pop)
        gen = 0
        while pred[np.argmin(fit)] == label and gen < generations:
            gen += 1
            r = _rand1_partners(rng, population)
            children = _clip(pop[r[:, 0]] + f * (pop[r[:, 1]] - pop[r[:, 2]]), h, w)
            cfit, cpred = score(img, children)
            better = cfit < fit
            pop[better], fit[better], pred[better] = children[better], cfit[better], cpred[better]
        best = int(np.argmin(fit))
        q = np.rint(pop[best]).astype(np.int64)
        out["success"][img] = pred[best] != label
        out["pixel"][img] = q[:2]
        out["colour"][img] = q[2:]
        out["generations"][img] = gen
        out["p_after"][img] = fit[best]
        out["pred_after"][img] = pred[best]
        set_pixels(adversarial[img : img + 1], q[None, 0], q[None, 1], q[None, 2:])
        log.info(
            "one-pixel: image %d, label %d, %s after %d generations (%d candidates, %.2f s): "
            "pixel %s -> %s, p(label) %.4f -> %.4f",
            first_index + img,
            label,
            "success" if out["success"][img] else "failed",
            gen,
            out["evaluations"][img],
            time.perf_counter() - t0,
            tuple(q[:2]),
            tuple(q[2:]),
            float(clean[img, label]),
            fit[best],
        )
    return OnePixelResult(
        success=out["success"],
        pixel=out["pixel"],
        colour=out["colour"],
        generations=out["generations"],
        p_before=clean[torch.arange(n), labels].numpy().astype(np.float64),
        p_after=out["p_after"],
        pred_before=clean.argmax(1).numpy(),
        pred_after=out["pred_after"],
        evaluations=out["evaluations"],
        adversarial=adversarial,
    )
