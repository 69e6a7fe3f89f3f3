"""ROAD: RemOve And Debias (Rong, Leemann, Borisov, Kasneci, Kasneci, ICML 2022).

Remove the most (MoRF) or least (LeRF) relevant pixels of an image, fill them by *noisy linear
imputation* — so that where the removed pixels lie tells the model nothing about the class —
and classify the result. A good map makes the accuracy fall fast under MoRF and slowly under
LeRF.

:func:`noisy_linear_impute` (ROAD's ``NoisyLinearImputer``): each removed pixel equals the
weighted mean of its 8-neighbours inside the image (weight 1/6 edge-adjacent, 1/12 diagonal,
renormalized over the neighbours in the image), the removed neighbours being unknowns of the same
sparse linear system; the system (one per mask) is factorized once (``scipy.sparse.linalg.splu``)
and solved for every channel; then ``noise · N(0, 1)`` is added to the removed pixels only.

Where :func:`road` differs from the ROAD repository's parameterization
(``tleemann/road_evaluation``, ``run_road`` / ``ImputedDataset``):

- ``percentages`` are the share of pixels *removed* in both orders: LeRF at ``p`` removes the
  ``⌊p/100·H·W⌋`` least relevant pixels. The repository's ``th_p`` for LeRF keeps the ``th_p``
  most relevant and removes the rest, so its LeRF curve at ``th_p`` is ours at ``100 − p``.
- the order is a stable sort of the map (row-major among equal values; LeRF removes exactly
  the pixels MoRF at ``100 − p`` keeps); the repository breaks ties with a fixed ``1e-4 · N(0, 1)``
  jitter added to the rescaled map.
- the noise comes from a seeded generator per (percentage, image) (``seed``), the repository's
  from torch's global generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cameval.errors import ConfigError
from cameval.pixels import normalize

ORDERS = ("morf", "lerf")
#: (row offset, column offset, weight) of the 8 neighbours (ROAD's ``neighbors_weights``)
NEIGHBOURS = tuple(
    (dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)
)
DEFAULT_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
#: images per forward pass in :func:`road` (the outputs do not depend on it; lower it where a model's
#: batch of this many images does not fit the device's memory)
BATCH_SIZE = 256


def check_percentages(percentages, where: str = "percentages") -> tuple[float, ...]:
    """``percentages`` as a tuple; ConfigError unless a non-empty list of numbers in (0, 100)."""
    values = percentages.tolist() if isinstance(percentages, np.ndarray) and percentages.ndim == 1 else percentages
    values = values if isinstance(values, (list, tuple)) else None
    if not values:
        raise ConfigError(f"{where}: {percentages!r}, expected a non-empty list of percentages in (0, 100)")
    for p in values:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 < p < 100:
            raise ConfigError(f"{where}: {p!r} in {list(values)!r}, expected a percentage strictly between 0 and 100")
    return tuple(values)


def check_order(order, where: str = "order") -> None:
    """ConfigError unless ``order`` is ``morf`` or ``lerf``."""
    if order not in ORDERS:
        raise ConfigError(f"{where}: {order!r}, expected one of {', '.join(ORDERS)}")


def imputation_system(removed):
    """The sparse system ``A z = B v`` of :func:`noisy_linear_impute` for the mask ``removed``
    ``[H, W]``: ``(A, B, unknown, known)`` with ``A`` ``[m, m]`` (CSC) over the ``m`` removed pixels
    (row-major), ``B`` ``[m, k]`` (CSR) over the ``k`` kept pixels, and the flat indices of both.
    Row ``i``: ``W_i z_i − Σ_q w_q z_q = Σ_q w_q v_q`` over the in-image neighbours ``q`` of pixel
    ``i`` (removed ones on the left, kept ones on the right), ``W_i`` their weight sum — the
    equation ``z_i = Σ_q w_q x_q / W_i`` times ``W_i``, so that ``A`` is symmetric and diagonally
    dominant (a graph Laplacian plus the weights to kept pixels): factorized without pivoting."""
    from scipy import sparse  # noqa: PLC0415  # scipy.sparse only where imputed

    mask = np.asarray(removed, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"removed: shape {mask.shape}, expected a boolean mask [H, W]")
    h, w = mask.shape
    flat = mask.ravel()
    unknown = np.flatnonzero(flat)
    known = np.flatnonzero(~flat)
    var = np.full(h * w, -1)
    var[unknown] = np.arange(unknown.size)
    col = np.full(h * w, -1)
    col[known] = np.arange(known.size)
    ys, xs = np.divmod(unknown, w)
    total = np.zeros(unknown.size)
    rows_a, cols_a, vals_a, rows_b, cols_b, vals_b = [], [], [], [], [], []
    for dy, dx, weight in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        total[inside] += weight
        i = np.flatnonzero(inside)
        q = ny[inside] * w + nx[inside]
        gone = flat[q]
        rows_a.append(i[gone])
        cols_a.append(var[q[gone]])
        vals_a.append(np.full(int(gone.sum()), weight))
        rows_b.append(i[~gone])
        cols_b.append(col[q[~gone]])
        vals_b.append(np.full(int((~gone).sum()), weight))
    m = unknown.size
    a = sparse.diags(total, format="csc") - sparse.csc_matrix(
        (np.concatenate(vals_a), (np.concatenate(rows_a), np.concatenate(cols_a))), shape=(m, m)
    )
    b = sparse.csr_matrix(
        (np.concatenate(vals_b), (np.concatenate(rows_b), np.concatenate(cols_b))), shape=(m, known.size)
    )
    return a, b, unknown, known


def _generator(generator) -> np.random.Generator:
    if generator is None or isinstance(generator, (int, np.integer, Sequence)):
        return np.random.default_rng(generator)
    if isinstance(generator, np.random.Generator):
        return generator
    raise ValueError(f"generator: {type(generator).__name__}, expected a numpy Generator, a seed or None")


def noisy_linear_impute(pixels, removed, noise: float = 0.01, generator=None) -> np.ndarray:
    """ROAD's noisy linear imputation of ``pixels`` ``[C, H, W]`` (in [0, 1]) at the pixels
    ``removed`` ``[H, W]`` (bool): the solution of :func:`imputation_system` (one LU
    factorization, every channel solved with it), plus ``noise · N(0, 1)`` on the removed pixels
    only (``generator``: a numpy Generator, a seed, or None for fresh entropy). Kept pixels are
    returned unchanged; nothing is clipped. Returns float64 ``[C, H, W]``."""
    from scipy.sparse.linalg import splu  # noqa: PLC0415

    img = _numpy(pixels)
    if img.ndim != 3:
        raise ValueError(f"pixels: shape {img.shape}, expected [C, H, W]")
    mask = _numpy(removed).astype(bool)
    if mask.shape != img.shape[1:]:
        raise ValueError(f"removed: shape {mask.shape}, expected [H, W] = {img.shape[1:]}")
    if not noise >= 0:
        raise ConfigError(f"noise: {noise!r}, expected a standard deviation >= 0")
    out = img.astype(np.float64, copy=True)
    if not mask.any():
        return out
    if mask.all():
        raise ValueError("removed: every pixel removed, expected at least one kept pixel to impute from")
    a, b, unknown, known = imputation_system(mask)
    c = img.shape[0]
    flat = out.reshape(c, -1)
    # symmetric and diagonally dominant: a symmetric fill-reducing order, no pivoting (~3x faster
    # than splu's defaults on 224 x 224 images)
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    solved = lu.solve(np.ascontiguousarray(b @ flat[:, known].T))  # [m, C]
    flat[:, unknown] = solved.T
    if noise > 0:
        flat[:, unknown] += noise * _generator(generator).standard_normal((c, unknown.size))
    return out


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, without importing torch here
        return a.detach().cpu().numpy()
    return np.asarray(a)


def removal_masks(maps, percentage: float, order: str = "morf") -> np.ndarray:
    """``[N, H, W]`` bool: the ``⌊p/100·H·W⌋`` most (``morf``) or least (``lerf``) relevant pixels
    of each map ``[N, H, W]`` (descending stable order, row-major among equal values)."""
    from cameval.metrics.deletion import pixel_ranks  # noqa: PLC0415

    check_order(order)
    m = _numpy(maps)
    n, h, w = m.shape
    count = int(np.floor(percentage * h * w / 100))  # p * HW first: exact for integer p
    return _removed(pixel_ranks(m), count, order).reshape(n, h, w)


def _removed(ranks: np.ndarray, count: int, order: str) -> np.ndarray:
    return ranks < count if order == "morf" else ranks >= ranks.shape[-1] - count


def road(
    model,
    pixels,
    maps,
    labels,
    mean,
    std,
    percentages=DEFAULT_PERCENTAGES,
    order: str = "morf",
    noise: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """ROAD accuracy: ``[len(percentages), N]`` of 0/1, whether the model classifies image ``n``
    as ``labels[n]`` after the ``⌊p/100·H·W⌋`` most (``morf``) or least (``lerf``) relevant pixels
    of ``maps`` ``[N, H, W]`` were filled by :func:`noisy_linear_impute` in pixel space
    (``pixels`` ``[N, C, H, W]`` in [0, 1]), then normalized ``(x − mean) / std`` per channel
    (:func:`cameval.pixels.normalize`).
    The noise of (percentage ``i``, image ``n``) comes from ``numpy.random.default_rng([seed, i, n])``
    (``n`` counts within this call: give each call over a part of a data set its own ``seed``).
    The model is called as it is (eval mode is the caller's), :data:`BATCH_SIZE` images at a time,
    on the device of ``pixels``. See the module's notes for the differences from the ROAD
    repository's parameterization."""
    import torch  # noqa: PLC0415

    from cameval.explain import logits_of  # noqa: PLC0415
    from cameval.metrics.deletion import pixel_ranks, warn_training  # noqa: PLC0415

    ps = check_percentages(percentages)
    check_order(order)
    warn_training(model, "road")
    x = torch.as_tensor(pixels)
    if x.ndim != 4:
        raise ValueError(f"pixels: shape {tuple(x.shape)}, expected [N, C, H, W]")
    n, c, h, w = x.shape
    m = _numpy(maps)
    if m.shape != (n, h, w):
        raise ValueError(f"maps: shape {m.shape}, expected [N, H, W] = {(n, h, w)} (a CAM upsampled to the image)")
    y = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"labels: {y.shape[0]} values, expected one per image ({n})")
    mu = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    sd = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    if mu.shape[0] != c or sd.shape[0] != c:
        raise ValueError(f"mean, std: {mu.shape[0]} and {sd.shape[0]} values, expected one per channel ({c})")
    img = x.detach().cpu().double().numpy()
    ranks = pixel_ranks(m)  # once for every percentage
    out = np.zeros((len(ps), n), dtype=np.int64)
    with torch.no_grad():
        for i, p in enumerate(ps):
            removed = _removed(ranks, int(np.floor(p * h * w / 100)), order).reshape(n, h, w)
            for lo in range(0, n, BATCH_SIZE):
                idx = range(lo, min(lo + BATCH_SIZE, n))
                filled = np.stack([noisy_linear_impute(img[j], removed[j], noise, [seed, i, j]) for j in idx])
                batch = normalize(torch.as_tensor(filled, dtype=x.dtype, device=x.device), mu, sd).contiguous(
                    memory_format=torch.channels_last  # as in deletion_curves: faster convolutions
                )
                pred = logits_of(model(batch)).argmax(1).cpu()
                out[i, lo : lo + len(idx)] = (pred == y[lo : lo + len(idx)]).numpy()
    return out
