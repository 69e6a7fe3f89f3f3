"""Deletion and insertion curves (Petsiuk, Das, Saenko, BMVC 2018, "RISE", sec. 4.1).

A map ranks an image's pixels; the curves follow the model's softmax probability of the target
class as the pixels are taken, most relevant first, ``step`` pixels (all channels together) at a
time:

- **deletion** starts from ``x`` and replaces the pixels with ``fill`` (in ``x``'s space: 0 is the
  dataset's mean colour after normalization, RISE's ``torch.zeros_like``);
- **insertion** starts from RISE's blur of ``x`` (:func:`rise_blur`) and puts the original pixels
  back.

A curve holds ``ceil(H·W / step) + 1`` points: the probability before any change, then after
each step (the last step may take fewer pixels). Its area is :func:`curve_auc`, the trapezoid on
``[0, 1]`` as RISE's ``auc``; a lower deletion and a higher insertion area are better.

Order: pixels in descending order of the map by a *stable* sort, row-major among equal values (a
constant map takes the pixels row by row). RISE's reference (``np.flip(np.argsort(...))``) takes
equal values in an order its sort leaves unspecified; on maps without ties the two agree.

Cost: every (image, step) image is built on the fly and the model sees them stacked, ``batch_size``
at a time across images and steps — one batch of forward passes per curve where it fits, never
one forward pass per step.
"""

from __future__ import annotations

import math

import numpy as np

from cameval.errors import ConfigError

#: RISE's blur: an 11x11 kernel, sigma 5 (``evaluation.py``: ``gkern(11, 5)``, padding 11 // 2)
BLUR_SIZE = 11
BLUR_SIGMA = 5.0


def check_step(step, where: str = "step") -> None:
    """ConfigError unless ``step`` is ``None`` or an integer >= 1 (pixels per step)."""
    if step is None:
        return
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ConfigError(f"{where}: {step!r}, expected an integer >= 1 (pixels per step) or null (the image's width)")


def rise_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """RISE's blur kernel ``[size, size]``: ``scipy.ndimage.gaussian_filter`` of a centred unit
    impulse (its default ``mode="reflect"``, ``truncate=4``), as RISE's ``gkern``."""
    from scipy.ndimage import gaussian_filter  # noqa: PLC0415  # scipy.ndimage only where blurred

    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1.0
    return gaussian_filter(impulse, sigma)


def rise_blur(x):
    """RISE's insertion start: each channel of ``x`` ``[N, C, H, W]`` convolved with
    :func:`rise_kernel` (``conv2d``, zero padding ``size // 2``, channels kept apart), as a torch
    tensor on ``x``'s device and dtype. Zero padding darkens the border towards 0 (the mean colour
    in a normalized ``x``), as in RISE."""
    import torch  # noqa: PLC0415  # torch only where a model is run

    x = torch.as_tensor(x)
    c = x.shape[1]
    kernel = torch.as_tensor(rise_kernel(), dtype=x.dtype, device=x.device)
    weight = kernel.expand(c, 1, BLUR_SIZE, BLUR_SIZE).contiguous()
    return torch.nn.functional.conv2d(x, weight, padding=BLUR_SIZE // 2, groups=c)


def pixel_ranks(maps) -> np.ndarray:
    """``[N, H*W]`` int: each pixel's position in its map's descending order (0 = most relevant),
    by a stable sort (row-major among equal values). NaN in a map is an error."""
    m = np.asarray(maps, dtype=np.float64)
    if np.isnan(m).any():
        raise ValueError("maps: NaN values, expected finite maps (nothing to rank)")
    flat = m.reshape(m.shape[0], -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None, :].repeat(flat.shape[0], 0), axis=1)
    return ranks


def n_steps(h: int, w: int, step: int | None) -> int:
    """``ceil(H·W / step)`` (``step=None``: ``W``)."""
    check_step(step)
    return math.ceil(h * w / (w if step is None else int(step)))


def curve_auc(curves) -> np.ndarray | float:
    """Area under each curve on ``x`` in ``[0, 1]`` (evenly spaced points), RISE's ``auc``:
    ``(sum(c) - c[0] / 2 - c[-1] / 2) / (len(c) - 1)``. ``curves`` ``[L]`` gives a float,
    ``[N, L]`` an array ``[N]``; a curve needs at least 2 points."""
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim not in (1, 2) or c.shape[-1] < 2:
        raise ValueError(f"curves: shape {c.shape}, expected [L] or [N, L] with L >= 2 points")
    area = (c.sum(-1) - c[..., 0] / 2 - c[..., -1] / 2) / (c.shape[-1] - 1)
    return float(area) if c.ndim == 1 else area


def _images(x):
    import torch  # noqa: PLC0415

    x = torch.as_tensor(x)
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"x: shape {tuple(x.shape)} of {x.dtype}, expected a float tensor [N, C, H, W]")
    return x


def _curves(model, x, maps, target, step, start, finish, batch_size: int) -> np.ndarray:
    import torch  # noqa: PLC0415

    from cameval.explain import logits_of  # noqa: PLC0415  # loads torch (as above)

    check_step(step)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size: {batch_size!r}, expected an integer >= 1 (images per forward pass)")
    n, _, h, w = x.shape
    m = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    if m.shape != (n, h, w):
        raise ValueError(f"maps: shape {m.shape}, expected [N, H, W] = {(n, h, w)} (a CAM upsampled to x's size)")
    t = torch.as_tensor(target, dtype=torch.long, device=x.device).reshape(-1)
    if t.shape[0] != n:
        raise ValueError(f"target: {t.shape[0]} values, expected one class per image ({n})")
    per = w if step is None else int(step)
    k = math.ceil(h * w / per)
    ranks = torch.as_tensor(pixel_ranks(m).reshape(n, 1, h, w), device=x.device)
    taken = torch.arange(k + 1, device=x.device) * per  # pixels changed before point j
    total = n * (k + 1)
    out = np.empty(total)
    with torch.no_grad():
        for lo in range(0, total, batch_size):
            idx = torch.arange(lo, min(lo + batch_size, total), device=x.device)
            img, j = idx // (k + 1), idx % (k + 1)
            changed = ranks[img] < taken[j].view(-1, 1, 1, 1)  # [B, 1, H, W], broadcast over channels
            batch = torch.where(changed, finish[img], start[img])
            logits = logits_of(model(batch))
            prob = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), 1)
            out[lo : lo + len(idx)] = prob.gather(1, t[img][:, None])[:, 0].double().cpu().numpy()
    return out.reshape(n, k + 1)


def deletion_curves(model, x, maps, target, step: int | None = None, fill: float = 0.0, batch_size: int = 256):
    """Deletion curves ``[N, ceil(H·W/step) + 1]``: the target's softmax probability as the pixels
    of ``x`` ``[N, C, H, W]`` (as the model sees it) are set to ``fill``, most relevant first by
    ``maps`` ``[N, H, W]`` (at ``x``'s size), ``step`` pixels (default ``W``) a step, all channels
    together; ``target`` ``[N]``. The model is called as it is (put it in eval mode) under
    ``torch.no_grad``, ``batch_size`` images at a time (RISE, Petsiuk et al. 2018)."""
    import torch  # noqa: PLC0415

    x = _images(x)
    return _curves(model, x, maps, target, step, x, torch.full_like(x, float(fill)), batch_size)


def insertion_curves(model, x, maps, target, step: int | None = None, batch_size: int = 256):
    """Insertion curves ``[N, ceil(H·W/step) + 1]``: as :func:`deletion_curves`, starting from
    :func:`rise_blur` of ``x`` and putting the original pixels back, most relevant first."""
    x = _images(x)
    return _curves(model, x, maps, target, step, rise_blur(x), x, batch_size)
