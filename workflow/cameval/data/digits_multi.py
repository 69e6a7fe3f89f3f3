"""The embedded default's multi-label set, standing in for ChestX-ray14: 1–3 real digits per canvas.

Grayscale canvases (stored as RGB with three equal channels, as X-rays are fed to CheXNet) with a
smooth, uneven background — a faint stand-in for the anatomy a finding sits on — and noise. Canvas
``i`` of a split holds ``1 + i mod max_digits`` handwritten digits (scikit-learn's
:func:`~sklearn.datasets.load_digits`) of *different* classes, each at a random scale and
position, placed so their squares overlap as little as possible; each digit has its exact ink box
and the labels are multi-hot. A finding is "digit c is present".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cameval.data.digits import DEFAULT_COUNTS, SPLITS, canvas_fields, ink_box, split_sources, upscale_digits
from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError

log = logging.getLogger(__name__)

CLASSES = tuple(str(c) for c in range(10))
_TRIES = 24  # positions tried per digit; the one overlapping the placed digits least is kept


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth gray field in [0.05, 0.4]: a bright elliptic "body" on a darker surround."""
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    cy, cx = rng.uniform(0.4, 0.6, size=2)
    ry, rx = rng.uniform(0.35, 0.55, size=2)
    body = np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2))
    return (rng.uniform(0.05, 0.12) + rng.uniform(0.12, 0.25) * body).astype(np.float32)


@dataclass(frozen=True)
class DigitsMultiSpec:
    """How a digits-multi set is drawn (:func:`make_digits_multi`): a ``datasets.<name>`` entry of kind
    ``digits-multi`` and the run's seed; the defaults are the schema's, but for ``scale``."""

    size: int = 64
    counts: Mapping[str, int] | None = None
    scale: tuple[float, float] = (0.3, 0.5)
    max_digits: int = 3
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    noise: float = 0.03

    @classmethod
    def from_entry(cls, entry: dict, seed: int) -> DigitsMultiSpec:
        """The spec of config entry ``entry`` (schema defaults set), drawn with ``seed``."""
        return cls(**canvas_fields(entry), max_digits=entry["max_digits"], seed=seed)


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``digits-multi`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``.
    Its image ids and ``dataset`` attribute say ``digits-multi`` whatever the dataset's key ``name``
    (as the pinned outputs were built)."""
    return make_digits_multi(path_h5, path_manifest, DigitsMultiSpec.from_entry(entry, seed))


def make_digits_multi(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    spec: DigitsMultiSpec | None = None,
    *,
    name: str = "digits-multi",
) -> dict:
    """Build the digits-multi set: ``images.h5`` (``size``² gray as RGB, uint8) and its manifest;
    ``size``, ``max_digits``, ``scale`` … below are the fields of ``spec`` (default: :class:`DigitsMultiSpec`'s).

    Canvas ``i`` of a split: :func:`_background`, then ``k = 1 + i mod max_digits`` digits of
    ``k`` different classes drawn uniformly, each upscaled bicubically to a side uniform in
    ``[scale[0]·size, scale[1]·size]`` at the one of 24 random positions whose square overlaps
    the squares already placed least, drawn at an intensity uniform in [0.6, 1.0] (alpha =
    the digit's ink), finally Gaussian noise of std ``noise``. Source digits are split by
    ``fractions`` with ``seed`` (:func:`cameval.data.digits.split_sources`): a split's canvases
    use only its own source digits.

    Manifest: one row per canvas, ``label = -1``, ``labels`` the ``|``-joined classes,
    ``boxes`` one ``[class, x0, y0, x1, y1]`` (inclusive ink box) per digit, ``source`` the
    ``|``-joined indices of the digits in ``load_digits()``. Same arguments, same bytes.
    """
    start = time.perf_counter()
    spec = spec or DigitsMultiSpec()
    size, scale, max_digits, fractions, seed = spec.size, spec.scale, spec.max_digits, spec.fractions, spec.seed
    mean, std, noise = spec.mean, spec.std, spec.noise
    counts = dict(DEFAULT_COUNTS if spec.counts is None else spec.counts)
    counts = {s: int(counts.get(s, 0)) for s in SPLITS}
    size, max_digits = int(size), int(max_digits)
    lo, hi = int(round(scale[0] * size)), int(round(scale[1] * size))
    if not (0 < scale[0] <= scale[1] <= 1) or lo < 4:
        raise ConfigError(
            f"scale: expected 0 < min <= max <= 1 with min*size >= 4 px, got {list(scale)} at size {size}"
        )
    if not 1 <= max_digits <= 10:
        raise ConfigError(f"max_digits: expected 1..10 digits per canvas, got {max_digits}")
    # scikit-learn's import (~1 s) is paid only by the job that builds the set, not by every job
    # that reads an image set through cameval.data
    from sklearn.datasets import load_digits  # noqa: PLC0415

    data = load_digits()
    digits8 = (data.images / 16.0).astype(np.float32)
    targets = data.target.astype(np.int64)
    sources = split_sources(len(digits8), fractions, seed)
    attrs = {
        "dataset": name,
        "kind": "digits-multi",
        "seed": int(seed),
        "size": size,
        "scale": list(scale),
        "max_digits": max_digits,
        "noise": float(noise),
        "classes": list(CLASSES),
    }
    rows, row = [], 0
    with ImageSetWriter(path_h5, sum(counts.values()), size, size, mean, std, attrs=attrs) as writer:
        for s_i, split in enumerate(SPLITS):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 2, s_i])))
            pool = sources[split]
            by_class = {c: pool[targets[pool] == c] for c in range(10)}
            empty = [c for c, p in by_class.items() if p.size == 0]
            if counts[split] and empty:
                raise ConfigError(
                    f"fractions: split {split!r} has no source digit of class(es) {empty}; give it a larger share"
                )
            for i in range(counts[split]):
                k = 1 + i % max_digits
                classes = np.sort(rng.choice(10, size=k, replace=False))
                canvas = _background(rng, size)
                placed: list[tuple[int, int, int]] = []  # (y, x, side)
                boxes, srcs = [], []
                for c in classes:
                    src = int(rng.choice(by_class[int(c)]))
                    side = int(rng.integers(lo, hi + 1))
                    cand = rng.integers(0, size - side + 1, size=(_TRIES, 2))
                    overlap = np.zeros(_TRIES)
                    for py, px, ps in placed:
                        ow = np.minimum(cand[:, 1] + side, px + ps) - np.maximum(cand[:, 1], px)
                        oh = np.minimum(cand[:, 0] + side, py + ps) - np.maximum(cand[:, 0], py)
                        overlap += np.clip(ow, 0, None) * np.clip(oh, 0, None)
                    y, x = (int(v) for v in cand[int(np.argmin(overlap))])
                    patch = upscale_digits(digits8[src][None], side)[0]
                    region = canvas[y : y + side, x : x + side]
                    region += patch * (rng.uniform(0.6, 1.0) - region)
                    bx0, by0, bx1, by1 = ink_box(patch)
                    boxes.append([int(c), x + bx0, y + by0, x + bx1, y + by1])
                    placed.append((y, x, side))
                    srcs.append(src)
                canvas += rng.standard_normal(canvas.shape).astype(np.float32) * np.float32(noise)
                gray = np.clip(np.rint(canvas * 255), 0, 255).astype(np.uint8)
                image_id = f"{name}/{split}/{i:06d}"
                writer.write(row, np.repeat(gray[:, :, None], 3, axis=2), image_id)
                rows.append(
                    {
                        "id": image_id,
                        "split": split,
                        "index": row,
                        "label": -1,
                        "source": "|".join(str(s) for s in srcs),
                        "boxes": boxes,
                        "labels": "|".join(str(int(c)) for c in classes),
                    }
                )
                row += 1
        write_manifest(pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "labels"]), path_manifest)
    summary = {
        "canvases": counts,
        "digits": int(sum(len(r["boxes"]) for r in rows)),
        "seconds": time.perf_counter() - start,
    }
    log.info("%s: %s canvases, %d digits in %.1f s", name, counts, summary["digits"], summary["seconds"])
    return summary
