"""Sanity checks of saliency maps (Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim, NeurIPS 2018).

- :func:`randomized_models`: the model with its layers re-initialized from the output down,
  cumulatively (``cascading``) or one at a time (``independent``); a method whose maps do not
  change fails the model randomization test.
- :func:`map_similarity`: how alike two maps are — Spearman's rho of their absolute values
  (``spearman_abs``) or of the signed values (``spearman``), SSIM (``ssim``) and the Spearman rho
  of their HOG descriptors (``hog``), the four measures of the paper (sec. 3, Figure 4). SSIM and
  HOG are scikit-image's (``skimage.metrics.structural_similarity``, ``skimage.feature.hog``).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cameval.errors import ConfigError

MODES = ("cascading", "independent")
MEASURES = ("spearman_abs", "spearman", "ssim", "hog")
#: structural_similarity's Gaussian window: sigma 1.5, truncated at 3.5 sigma -> 11 x 11
SSIM_SIGMA = 1.5
SSIM_WINDOW = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1
HOG_CELL = 16
#: rows x length from which :func:`average_ranks` splits the rows over threads (numpy's sort releases the GIL)
PARALLEL_RANKS = 1 << 17


def check_mode(mode, where: str = "mode") -> None:
    """ConfigError unless ``mode`` is ``cascading`` or ``independent``."""
    if mode not in MODES:
        raise ConfigError(f"{where}: {mode!r}, expected one of {', '.join(MODES)}")


def check_measure(measure, hog_cell: int = HOG_CELL, shape: tuple[int, int] | None = None, where: str = "measure"):
    """ConfigError unless ``measure`` is one of :data:`MEASURES`, ``hog_cell`` an integer >= 1 and,
    given the maps' ``shape`` ``(H, W)``, the maps large enough for it: ``hog`` needs two cells a
    side (its 2 x 2 cells per block: ``2 · hog_cell <= min(H, W)``), ``ssim`` its 11 x 11 window."""
    if measure not in MEASURES:
        raise ConfigError(f"{where}: {measure!r}, expected one of {', '.join(MEASURES)}")
    if measure == "hog" and (isinstance(hog_cell, bool) or not isinstance(hog_cell, (int, np.integer)) or hog_cell < 1):
        raise ConfigError(f"hog_cell: {hog_cell!r}, expected an integer >= 1 (pixels a side of a HOG cell)")
    if shape is None:
        return
    side = min(shape)
    if measure == "hog" and 2 * hog_cell > side:
        raise ConfigError(
            f"hog_cell: {hog_cell} for maps of {shape[0]}x{shape[1]}, expected at most {side // 2} "
            "(HOG's blocks of 2 x 2 cells must fit in the map: compare maps upsampled to the input's size "
            "or use a smaller cell)"
        )
    if measure == "ssim" and side < SSIM_WINDOW:
        raise ConfigError(
            f"{where}: ssim for maps of {shape[0]}x{shape[1]}, expected maps of at least {SSIM_WINDOW}x{SSIM_WINDOW} "
            f"(SSIM's Gaussian window, sigma {SSIM_SIGMA}): compare maps upsampled to the input's size"
        )


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def scale_abs(m) -> np.ndarray:
    """``|m|`` scaled to [0, 1] by its min and max; a constant map scales to 0 (the scaling of
    ``ssim`` and ``hog``)."""
    a = np.abs(_numpy(m))
    lo, hi = a.min(), a.max()
    return np.zeros_like(a) if hi == lo else (a - lo) / (hi - lo)


def _threads() -> int:
    """torch's thread count where torch is loaded (a job's ``threads``, as its convolutions use), else 1."""
    torch = sys.modules.get("torch")
    return max(1, int(torch.get_num_threads())) if torch is not None else 1


def average_ranks(a: np.ndarray) -> np.ndarray:
    """The ranks (1 … L) of the values of each row of ``a`` ``[N, L]``, ties given the mean of their
    ranks: ``scipy.stats.rankdata(a, method="average", axis=1)`` to the bit (the same halves), for a
    third of its time on 64 x 64 maps: one unstable argsort of all rows (ties are averaged, so their
    order does not matter; numpy's SIMD sort) and one pass over the sorted runs of equal values.
    From :data:`PARALLEL_RANKS` values on, the rows are split over torch's thread count (rows are
    independent: the same ranks; ×2.2 on two cores for 240 maps of 64 x 64)."""
    threads = min(_threads(), len(a))
    if threads > 1 and a.size >= PARALLEL_RANKS:
        parts = np.array_split(a, threads)
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(_average_ranks, parts)))
    return _average_ranks(a)


def _average_ranks(a: np.ndarray) -> np.ndarray:
    n, length = a.shape
    if a.size == 0:
        return np.zeros(a.shape)
    order = np.argsort(a, axis=1)
    order += np.arange(0, n * length, length)[:, None]
    order = order.ravel()
    s = a.ravel()[order]
    starts_run = np.empty(s.shape, dtype=bool)
    starts_run[:1] = True
    np.not_equal(s[1:], s[:-1], out=starts_run[1:])
    starts_run[::length] = True  # a row's first value starts a run of its own
    starts = np.flatnonzero(starts_run)
    counts = np.diff(starts, append=n * length)
    out = np.empty(n * length)
    out[order] = np.repeat(starts % length + (counts + 1) / 2, counts)
    return out.reshape(n, length)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of ``a`` ``[N, L]`` with the same row of ``b`` (``[N, L]``, or
    ``[K, N, L]``: K stacks against the one ``a``, whose ranks are then computed once): the Pearson
    correlation of their ranks (ties averaged: :func:`average_ranks`), as ``scipy.stats.spearmanr``
    computes it, without its per-call overhead (~3 ms on 64 x 64 maps); NaN for a constant row."""
    ra, rb = average_ranks(a), average_ranks(b.reshape(-1, b.shape[-1])).reshape(b.shape)
    ra -= ra.mean(axis=-1, keepdims=True)
    rb -= rb.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=-1) / np.sqrt((ra * ra).sum(axis=-1) * (rb * rb).sum(axis=-1))
    flat = (np.ptp(a, axis=-1) == 0) | (np.ptp(b, axis=-1) == 0) | (a.shape[-1] < 2)
    return np.where(flat, np.nan, np.clip(rho, -1.0, 1.0))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(_spearman_rows(a.reshape(1, -1), b.reshape(1, -1))[0])


def map_similarity(a, b, measure: str = "spearman_abs", hog_cell: int = HOG_CELL) -> float:
    """Similarity of two maps ``[H, W]`` of the same shape (Adebayo et al. 2018):

    - ``spearman_abs``: Spearman's rho of ``|a|`` and ``|b|`` (the Pearson correlation of their
      ranks, ties averaged, as ``scipy.stats.spearmanr``);
    - ``spearman``: Spearman's rho of ``a`` and ``b``;
    - ``ssim``: ``skimage.metrics.structural_similarity`` of the maps each scaled by
      :func:`scale_abs`, ``data_range=1, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False`` (maps of at least 11 x 11);
    - ``hog``: Spearman's rho of the ``skimage.feature.hog`` vectors of the scaled maps,
      ``orientations=9, pixels_per_cell=(hog_cell, hog_cell), cells_per_block=(2, 2)``.

    Spearman of a constant map (or constant HOG vector) is NaN: nothing to rank.
    """
    check_measure(measure, hog_cell)
    x, y = _numpy(a), _numpy(b)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"a: shape {x.shape}, b: shape {y.shape}; expected two maps [H, W] of the same shape")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("a, b: NaN values, expected finite maps")
    check_measure(measure, hog_cell, x.shape)
    if measure == "spearman_abs":
        return _spearman(np.abs(x), np.abs(y))
    if measure == "spearman":
        return _spearman(x, y)
    if measure == "ssim":
        from skimage.metrics import structural_similarity  # noqa: PLC0415  # scikit-image only where used

        return float(
            structural_similarity(
                scale_abs(x),
                scale_abs(y),
                data_range=1,
                gaussian_weights=True,
                sigma=SSIM_SIGMA,
                use_sample_covariance=False,
            )
        )
    from skimage.feature import hog  # noqa: PLC0415

    def descriptor(m):
        return hog(m, orientations=9, pixels_per_cell=(hog_cell, hog_cell), cells_per_block=(2, 2))

    return _spearman(descriptor(scale_abs(x)), descriptor(scale_abs(y)))


def map_similarities(a, b, measure: str = "spearman_abs", hog_cell: int = HOG_CELL) -> np.ndarray:
    """:func:`map_similarity` of each pair of maps ``a[n]``, ``b[n]`` (``[N, H, W]`` each): ``[N]``;
    or, for ``b`` ``[K, N, H, W]`` (e.g. the K steps of a randomization against the original maps
    ``a``), of each ``a[n]``, ``b[k, n]``: ``[K, N]``. The Spearman measures are computed for all
    pairs at once (and the ranks of ``a`` once)."""
    check_measure(measure, hog_cell)
    x, y = _numpy(a), _numpy(b)
    if x.ndim != 3 or y.shape[-3:] != x.shape or y.ndim not in (3, 4):
        raise ValueError(
            f"a: shape {x.shape}, b: shape {y.shape}; expected a stack [N, H, W] and b of the same shape "
            "or [K, N, H, W]"
        )
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("a, b: NaN values, expected finite maps")
    check_measure(measure, hog_cell, x.shape[1:])
    n = len(x)
    if measure == "spearman_abs":
        return _spearman_rows(np.abs(x).reshape(n, -1), np.abs(y).reshape(*y.shape[:-2], -1))
    if measure == "spearman":
        return _spearman_rows(x.reshape(n, -1), y.reshape(*y.shape[:-2], -1))
    if y.ndim == 4:
        return np.stack([map_similarities(x, yk, measure, hog_cell) for yk in y])
    return np.array([map_similarity(x[i], y[i], measure, hog_cell) for i in range(n)], dtype=np.float64)


def randomizable_layers(model) -> list[str]:
    """The modules of ``model`` with parameters of their own (conv, linear, norm …), from the
    output down: the reverse of ``named_modules()`` order. ConfigError for one that has no
    ``reset_parameters()`` (nothing to re-initialize it with)."""
    names = []
    for name, module in model.named_modules():
        if next(module.parameters(recurse=False), None) is None:
            continue
        if not callable(getattr(module, "reset_parameters", None)):
            raise ConfigError(
                f"model: module {name!r} ({type(module).__name__}) has parameters of its own but no "
                "reset_parameters(), expected every such module to re-initialize itself"
            )
        names.append(name)
    return names[::-1]


def _layer_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _reset(model, name: str, seed: int) -> None:
    import torch  # noqa: PLC0415

    module = model.get_submodule(name)
    devices = sorted({p.device.index for p in module.parameters(recurse=False) if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), torch.no_grad():  # the caller's random state untouched
        if devices:
            torch.manual_seed(seed)
        else:  # the CPU's generator alone: torch.manual_seed would also queue (or do) a reseed of every GPU's
            torch.default_generator.manual_seed(seed)
        module.reset_parameters()


def randomized_models(
    model, mode: str = "cascading", seed: int = 0, layers: Sequence[str] | None = None
) -> Iterator[tuple[str, object]]:
    """Yield ``(layer, randomized copy)`` for each layer of :func:`randomizable_layers`, from the
    output down. ``cascading``: the copy has that layer and every layer above it re-initialized
    (Adebayo et al.'s cascading randomization); ``independent``: only that layer.

    Each layer is re-initialized by its own ``reset_parameters()`` with torch's generator seeded
    from ``(seed, the layer's position from the output)`` — so a layer gets the same new weights in
    both modes, and the same run twice gives the same models; the caller's random state is
    restored. The model passed in is never changed (copies by ``copy.deepcopy``, keeping each
    module's train/eval mode); each yielded copy stays as it was yielded.

    ``layers``: yield only at these layers (still from the output down, whatever their order
    here; in ``cascading`` mode every layer above a yielded one is re-initialized too) — e.g. one
    step per block of a deep network. ConfigError for a name that is not a randomizable layer.
    """
    check_mode(mode)
    order = randomizable_layers(model)
    wanted = set(order) if layers is None else set(layers)
    unknown = sorted(wanted - set(order))
    if unknown or (layers is not None and not wanted):
        raise ConfigError(
            f"layers: {unknown or list(layers)!r}, expected a non-empty list of modules with parameters of "
            f"their own ({', '.join(order[:6])}{' …' if len(order) > 6 else ''})"
        )
    current = copy.deepcopy(model) if mode == "cascading" else None
    for index, name in enumerate(order):
        if mode == "cascading":
            _reset(current, name, _layer_seed(seed, index))
            if name in wanted:
                yield name, current
                current = copy.deepcopy(current)  # the yielded copy stays as it was
        elif name in wanted:
            alone = copy.deepcopy(model)
            _reset(alone, name, _layer_seed(seed, index))
            yield name, alone
