"""The embedded default's localization set: scikit-learn's handwritten digits on cluttered canvases.

Real handwriting that ships with scikit-learn (:func:`sklearn.datasets.load_digits`: 1,797
digits, 8×8, values 0..16, ~180 per class) stands in for ILSVRC: each canvas shows one digit at a
random scale and position, with an exact ground-truth box, so weakly supervised localization and
the pointing game have something to find.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
INK_THRESHOLD = 0.2
"""A pixel of an upscaled digit is ink when its intensity (0..1, 1 = a full stroke) exceeds this."""
DEFAULT_COUNTS = {"train": 6000, "val": 1000, "test": 1000}
_CHUNK = 500  # canvases rendered at once (bounds memory; part of the seeded stream, keep fixed)
_BG = (0.0, 0.3)  # background colour range, per channel
_FG = (0.6, 1.0)  # main digit colour range, per channel
_CLUTTER_COLOUR = (0.45, 1.0)
_CLUTTER_STRENGTH = (0.25, 0.45)  # clutter opacity relative to the main digit's 1.0
_CLUTTER_CROP = (0.25, 0.45)  # fragment side as a share of its digit's upscaled side
_CANDIDATES = 8  # positions tried per fragment; the one overlapping the digit's box least is kept


@functools.lru_cache(maxsize=256)
def bicubic_matrix(n_in: int, n_out: int, a: float = -0.75) -> np.ndarray:
    """``[n_out, n_in]`` weights of 1-D bicubic resampling (cubic convolution, ``a = -0.75`` as in
    PyTorch) with pixel-centre alignment (``align_corners=False``) and zeros outside the input."""
    u = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    i0 = np.floor(u).astype(int)
    t = u - i0
    w = np.zeros((n_out, n_in))
    for tap in (-1, 0, 1, 2):
        d = np.abs(t - tap)
        k = np.where(
            d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0)
        )
        i = i0 + tap
        ok = (i >= 0) & (i < n_in)
        w[np.flatnonzero(ok), i[ok]] += k[ok]
    return w.astype(np.float32)


def upscale_digits(digits: np.ndarray, side: int) -> np.ndarray:
    """Bicubic upscaling of 8×8 digits ``[n, 8, 8]`` (values 0..1) to ``[n, side, side]``, clipped to 0..1.

    The 8×8 grid maps exactly onto the ``side``×``side`` patch (pixel-centre sampling as
    ``align_corners=False``); outside the grid the digit is zero, so strokes that touch the
    8×8 border fade out smoothly instead of ending in a hard edge. Same numbers as
    ``torch.nn.functional.grid_sample(mode="bicubic", padding_mode="zeros", align_corners=False)``
    on an identity grid, computed as ``W @ digit @ W.T``.
    """
    d = np.asarray(digits, dtype=np.float32)
    wy = bicubic_matrix(d.shape[1], int(side))
    wx = bicubic_matrix(d.shape[2], int(side))
    return np.clip(np.matmul(np.matmul(wy, d), wx.T), 0, 1)


def ink_box(alpha: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int]:
    """Inclusive box ``(x0, y0, x1, y1)`` around the pixels of ``alpha`` ``[y, x]`` above ``threshold``."""
    ys, xs = np.nonzero(alpha > threshold)
    if ys.size == 0:
        raise ValueError("no ink above the threshold")
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def split_sources(n_sources: int, fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Shuffle ``range(n_sources)`` with ``seed`` and cut it by ``fractions`` into train/val/test."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or f.sum() <= 0:
        raise ConfigError(f"fractions: expected 3 non-negative shares for train, val, test, got {list(fractions)}")
    f = f / f.sum()
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0])))
    perm = rng.permutation(n_sources)
    n_train = int(round(f[0] * n_sources))
    n_val = int(round(f[1] * n_sources))
    return {"train": perm[:n_train], "val": perm[n_train : n_train + n_val], "test": perm[n_train + n_val :]}


def _split_plan(
    rng: np.random.Generator,
    n: int,
    sources: np.ndarray,
    targets: np.ndarray,
    size: int,
    sides: tuple[int, int],
    clutter: int,
    split: str,
) -> dict:
    """Every random choice of a split's canvases but the noise, drawn at once."""
    labels = rng.permutation(np.arange(n) % 10)  # balanced classes
    main = np.empty(n, dtype=np.int64)
    for c in range(10):
        pool = sources[targets[sources] == c]
        idx = np.flatnonzero(labels == c)
        if idx.size and pool.size == 0:
            raise ConfigError(f"fractions: split {split!r} has no source digit of class {c}; give it a larger share")
        if idx.size:
            main[idx] = rng.choice(pool, size=idx.size)
    side = rng.integers(sides[0], sides[1] + 1, size=n)
    pos = rng.random((n, 2))  # fraction of the free range, y then x
    bg = rng.uniform(*_BG, size=(n, 3))
    fg = rng.uniform(*_FG, size=(n, 3))
    k = clutter
    other = rng.integers(0, len(sources), size=(n, k))
    if len(sources) > 1:  # fragments come from OTHER digits of the same split
        same = sources[other] == main[:, None]
        other[same] = (other[same] + 1 + rng.integers(0, len(sources) - 1, size=same.sum())) % len(sources)
    return {
        "labels": labels,
        "main": main,
        "side": side,
        "pos": pos,
        "bg": bg,
        "fg": fg,
        "c_src": sources[other],
        "c_side": rng.integers(sides[0], sides[1] + 1, size=(n, k)),
        "c_crop": rng.uniform(*_CLUTTER_CROP, size=(n, k)),
        "c_off": rng.random((n, k, 4, 2)),
        "c_pos": rng.random((n, k, _CANDIDATES, 2)),
        "c_colour": rng.uniform(*_CLUTTER_COLOUR, size=(n, k, 3)),
        "c_strength": rng.uniform(*_CLUTTER_STRENGTH, size=(n, k)),
    }


def _upscale_many(digits8: np.ndarray, src: np.ndarray, side: np.ndarray) -> list[np.ndarray]:
    """Upscaled patches for the pairs ``(src[i], side[i])``, batched by side."""
    out: list[np.ndarray | None] = [None] * len(src)
    for s in np.unique(side):
        idx = np.flatnonzero(side == s)
        for i, patch in zip(idx, upscale_digits(digits8[src[idx]], int(s)), strict=True):
            out[i] = patch
    return out  # type: ignore[return-value]


@functools.lru_cache(maxsize=128)
def _taper(c: int) -> np.ndarray:
    """A ``c``×``c`` window that is 1 inside and falls linearly to ~0 over the outer quarter."""
    ramp = np.minimum(np.arange(1, c + 1), np.arange(c, 0, -1)) / max(1.0, c / 4)
    w = np.minimum(1.0, ramp).astype(np.float32)
    return np.outer(w, w)


def _render(
    plan: dict, rows: slice, digits8: np.ndarray, size: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Render canvases ``rows`` of a split's plan: uint8 ``[m, size, size, 3]`` and the ink boxes."""
    P = {key: value[rows] for key, value in plan.items()}
    main, side, pos = P["main"], P["side"], P["pos"]
    m, k = len(main), P["c_src"].shape[1]
    canvas = np.broadcast_to(P["bg"][:, None, None, :].astype(np.float32), (m, size, size, 3)).copy()
    patches = _upscale_many(digits8, main, side)
    c_src, c_side = P["c_src"].reshape(-1), P["c_side"].reshape(-1)
    fragments = _upscale_many(digits8, c_src, c_side) if k else []
    boxes = []
    for j in range(m):
        s = int(side[j])
        y, x = (pos[j] * (size - s + 1)).astype(int)
        bx0, by0, bx1, by1 = ink_box(patches[j])
        box = (x + bx0, y + by0, x + bx1, y + by1)
        boxes.append(box)
        box_area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
        cv = canvas[j]
        for p in range(k):  # clutter first, so the main digit is drawn over it
            frag_full = fragments[j * k + p]
            s2 = frag_full.shape[0]
            c = max(2, int(round(P["c_crop"][j, p] * s2)))
            offs = (P["c_off"][j, p] * (s2 - c + 1)).astype(int)  # 4 candidate crops
            structure = [frag_full[oy : oy + c, ox : ox + c].std() for oy, ox in offs]
            oy, ox = offs[int(np.argmax(structure))]
            frag = frag_full[oy : oy + c, ox : ox + c] * _taper(c)
            cand = (P["c_pos"][j, p] * (size - c + 1)).astype(int)  # [candidates, (y, x)]
            ov_w = np.minimum(cand[:, 1] + c - 1, box[2]) - np.maximum(cand[:, 1], box[0]) + 1
            ov_h = np.minimum(cand[:, 0] + c - 1, box[3]) - np.maximum(cand[:, 0], box[1]) + 1
            overlap = np.clip(ov_w, 0, None) * np.clip(ov_h, 0, None)
            best = int(np.argmin(overlap))
            if overlap[best] > 0.3 * c * c or overlap[best] > 0.15 * box_area:
                continue  # no room beside the digit: leave this fragment out
            py, px = cand[best]
            a = (frag * P["c_strength"][j, p])[:, :, None]
            region = cv[py : py + c, px : px + c]
            region += a * (P["c_colour"][j, p] - region)
        a = patches[j][:, :, None]
        region = cv[y : y + s, x : x + s]
        region += a * (P["fg"][j] - region)
    if noise > 0:
        canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(noise)
    return np.clip(np.rint(canvas * 255), 0, 255).astype(np.uint8), boxes


@dataclass(frozen=True)
class DigitsLocSpec:
    """How a digits localization set is drawn (:func:`make_digits_loc`): a ``datasets.<name>`` entry of
    kind ``digits`` and the run's seed; the defaults are the schema's."""

    size: int = 64
    counts: Mapping[str, int] | None = None
    scale: tuple[float, float] = (0.375, 0.875)
    clutter: int = 4
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    noise: float = 0.03

    @classmethod
    def from_entry(cls, entry: dict, seed: int) -> DigitsLocSpec:
        """The spec of config entry ``entry`` (schema defaults set), drawn with ``seed``."""
        return cls(**canvas_fields(entry), clutter=entry["clutter"], seed=seed)


def canvas_fields(entry: dict) -> dict:
    """What every drawn digits set takes from its config entry (schema defaults set): ``size``,
    ``counts``, ``scale``, ``fractions``, ``mean`` and ``std``, the sequences as tuples."""
    return {
        "size": entry["size"],
        "counts": entry["counts"],
        "scale": tuple(entry["scale"]),
        "fractions": tuple(entry["fractions"]),
        "mean": tuple(entry["mean"]),
        "std": tuple(entry["std"]),
    }


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``digits`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``,
    its image ids named for the dataset's key ``name``."""
    return make_digits_loc(path_h5, path_manifest, DigitsLocSpec.from_entry(entry, seed), name=name)


def make_digits_loc(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    spec: DigitsLocSpec | None = None,
    *,
    name: str = "digits-loc",
) -> dict:
    """Build the digits localization set: ``images.h5`` (``size``×``size``×3 uint8) and its manifest;
    ``size``, ``clutter``, ``scale`` … below are the fields of ``spec`` (default: :class:`DigitsLocSpec`'s).

    Each canvas: a uniform dark background (each channel uniform in [0, 0.3]); ``clutter``
    fragments of *other* digits of the same split (a square crop of 25–45 % of that digit's
    upscaled side, the most structured (largest std) of 4 random crops, edges tapered linearly over
    the outer quarter, in a random colour at 25–45 % opacity, put
    at the one of 8 random positions overlapping the main digit's box least; left out when even
    that covers more than 30 % of the fragment or 15 % of the box); then the main digit, upscaled
    bicubically (:func:`upscale_digits`) to a random side in ``[scale[0]*size, scale[1]*size]``
    at a random position fully inside the canvas, in a bright colour (each channel uniform in
    [0.6, 1.0]) at full opacity, drawn over the clutter; finally Gaussian noise of std ``noise``
    (on the 0..1 scale), rounded to uint8.

    The label is the digit's class, balanced within each split (``n // 10`` or one more per
    class); the box is the exact inclusive box ``(x0, y0, x1, y1)`` of the main digit's ink
    (upscaled intensity > :data:`INK_THRESHOLD`) in canvas pixels. The 1,797 source digits are
    shuffled with ``seed`` and cut by ``fractions`` into train/val/test; a split's canvases use
    only its own source digits, for the main digit and the clutter, so no test digit is seen in
    training. Rows are ordered train, val, test; ids are ``{name}/{split}/{i:06d}``; ``source``
    is the main digit's index in ``load_digits()``. Everything is drawn from numpy Generators
    seeded by ``seed``: same arguments, same bytes.

    Returns a summary: counts and source digits per split, mean box width and height, seconds.
    """
    start = time.perf_counter()
    spec = spec or DigitsLocSpec()
    size, scale, clutter, fractions, seed = spec.size, spec.scale, spec.clutter, spec.fractions, spec.seed
    mean, std, noise = spec.mean, spec.std, spec.noise
    counts = dict(DEFAULT_COUNTS if spec.counts is None else spec.counts)
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ConfigError(f"counts: unknown split(s) {sorted(unknown)} (expected {list(SPLITS)})")
    counts = {s: int(counts.get(s, 0)) for s in SPLITS}
    if any(v < 0 for v in counts.values()):
        raise ConfigError(f"counts: expected non-negative numbers of canvases, got {counts}")
    size = int(size)
    lo, hi = int(round(scale[0] * size)), int(round(scale[1] * size))
    if not (0 < scale[0] <= scale[1] <= 1) or lo < 4:
        raise ConfigError(
            f"scale: expected 0 < min <= max <= 1 with min*size >= 4 px, got {list(scale)} at size {size}"
        )
    if clutter < 0:
        raise ConfigError(f"clutter: expected a non-negative number of fragments, got {clutter}")

    # scikit-learn's import (~1 s) is paid only by the job that builds the set, not by every job
    # that reads an image set through cameval.data
    from sklearn.datasets import load_digits  # noqa: PLC0415

    data = load_digits()
    digits8 = (data.images / 16.0).astype(np.float32)
    targets = data.target.astype(np.int64)
    sources = split_sources(len(digits8), fractions, seed)
    total = sum(counts.values())
    attrs = {
        "dataset": name,
        "kind": "digits",
        "seed": int(seed),
        "size": size,
        "scale": list(scale),
        "clutter": int(clutter),
        "fractions": list(fractions),
        "noise": float(noise),
        "ink_threshold": INK_THRESHOLD,
    }
    rows = []
    with ImageSetWriter(path_h5, total, size, size, mean, std, attrs=attrs) as writer:
        offset = 0
        for k, split in enumerate(SPLITS, start=1):
            n = counts[split]
            if n == 0:
                continue
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, k])))
            plan = _split_plan(rng, n, sources[split], targets, size, (lo, hi), int(clutter), split)
            for c0 in range(0, n, _CHUNK):
                sl = slice(c0, min(n, c0 + _CHUNK))
                images, boxes = _render(plan, sl, digits8, size, noise, rng)
                ids = [f"{name}/{split}/{i:06d}" for i in range(sl.start, sl.stop)]
                writer.write_many(offset + sl.start, images, ids)
                for i, box in zip(range(sl.start, sl.stop), boxes, strict=True):
                    label = int(plan["labels"][i])
                    rows.append(
                        {
                            "id": ids[i - sl.start],
                            "split": split,
                            "index": offset + i,
                            "label": label,
                            "source": int(plan["main"][i]),
                            "boxes": [[label, *box]],
                        }
                    )
            offset += n
        write_manifest(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), path_manifest)
    b = np.array([r["boxes"][0][1:] for r in rows]).reshape(-1, 4)
    summary = {
        "counts": counts,
        "sources": {s: int(len(v)) for s, v in sources.items()},
        "mean_box_width": float(np.mean(b[:, 2] - b[:, 0] + 1)) if len(b) else float("nan"),
        "mean_box_height": float(np.mean(b[:, 3] - b[:, 1] + 1)) if len(b) else float("nan"),
        "seconds": time.perf_counter() - start,
    }
    log.info(
        "%s: %s canvases of %d px from %s source digits; mean box %.1f x %.1f px; %.1f s",
        name,
        counts,
        size,
        summary["sources"],
        summary["mean_box_width"],
        summary["mean_box_height"],
        summary["seconds"],
    )
    return summary
