"""``digits-28``: scikit-learn's handwritten digits as an MNIST-like set (one channel, 28×28).

Stands in for MNIST in the embedded default (Table 7's three-layer network). Each image is one
8×8 digit of :func:`sklearn.datasets.load_digits` upscaled bicubically (:func:`upscale_digits`)
to 20×20 — MNIST's digit box — and placed in a black 28×28 canvas, centred with a random shift
of up to ``shift`` px per axis (a little of MNIST's variety of position). The 1,797 source digits
are split into train/val/test by source exactly as for ``digits-loc`` (:func:`split_sources`,
same seed, same cut), so no test digit is seen in training; labels are balanced per split.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cameval.data.digits import SPLITS, ink_box, split_sources, upscale_digits
from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError

log = logging.getLogger(__name__)

SIZE, DIGIT = 28, 20


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``digits28`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``.
    Its ``dataset`` attribute and image ids say ``digits-28`` whatever the dataset's key ``name``
    (as the pinned outputs were built)."""
    return make_digits_28(
        path_h5,
        path_manifest,
        counts=entry["counts"],
        fractions=tuple(entry["fractions"]),
        seed=seed,
        mean=entry["mean"][0],
        std=entry["std"][0],
    )


def make_digits_28(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    counts: Mapping[str, int],
    fractions=(0.7, 0.15, 0.15),
    seed: int = 0,
    mean: float = 0.5,
    std: float = 0.5,
    shift: int = 2,
    name: str = "digits-28",
) -> dict:
    """Build ``images.h5`` (uint8 ``[n, 28, 28, 1]``) and the manifest; returns a summary.

    Rows are ordered train, val, test; ids ``{name}/{split}/{i:06d}``; ``source`` is the digit's
    index in ``load_digits()``; the box is the inclusive ink box. Seeded numpy Generators:
    same arguments, same bytes. ``mean``/``std``: the one-channel normalization.
    """
    start = time.perf_counter()
    counts = {s: int(counts.get(s, 0)) for s in SPLITS}
    if shift < 0 or shift > (SIZE - DIGIT) // 2:
        raise ConfigError(f"shift: {shift}, expected 0..{(SIZE - DIGIT) // 2} px")
    # scikit-learn's import (~1 s) is paid only by the job that builds the set, not by every job
    # that reads an image set through cameval.data
    from sklearn.datasets import load_digits  # noqa: PLC0415

    data = load_digits()
    digits8 = (data.images / 16.0).astype(np.float32)
    targets = data.target.astype(np.int64)
    sources = split_sources(len(digits8), fractions, seed)
    patches = upscale_digits(digits8, DIGIT)  # [1797, 20, 20] in 0..1
    total = sum(counts.values())
    attrs = {"dataset": name, "kind": "digits28", "seed": int(seed), "shift": int(shift), "fractions": list(fractions)}
    rows, offset = [], 0
    with ImageSetWriter(path_h5, total, SIZE, SIZE, [mean], [std], attrs=attrs) as writer:
        for k, split in enumerate(SPLITS, start=1):
            n = counts[split]
            if n == 0:
                continue
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 28, k])))
            labels = rng.permutation(np.arange(n) % 10)
            src = np.empty(n, dtype=np.int64)
            for c in range(10):
                pool = sources[split][targets[sources[split]] == c]
                idx = np.flatnonzero(labels == c)
                if idx.size and pool.size == 0:
                    raise ConfigError(f"fractions: split {split!r} has no source digit of class {c}")
                src[idx] = rng.choice(pool, size=idx.size) if idx.size else src[idx]
            offs = rng.integers(-shift, shift + 1, size=(n, 2))
            images = np.zeros((n, SIZE, SIZE, 1), dtype=np.uint8)
            ids = [f"{name}/{split}/{i:06d}" for i in range(n)]
            for i in range(n):
                y0, x0 = (SIZE - DIGIT) // 2 + offs[i, 0], (SIZE - DIGIT) // 2 + offs[i, 1]
                images[i, y0 : y0 + DIGIT, x0 : x0 + DIGIT, 0] = np.rint(patches[src[i]] * 255).astype(np.uint8)
                bx0, by0, bx1, by1 = ink_box(patches[src[i]])
                rows.append(
                    {
                        "id": ids[i],
                        "split": split,
                        "index": offset + i,
                        "label": int(labels[i]),
                        "source": int(src[i]),
                        "boxes": [[int(labels[i]), x0 + bx0, y0 + by0, x0 + bx1, y0 + by1]],
                    }
                )
            writer.write_many(offset, images, ids)
            offset += n
    write_manifest(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), path_manifest)
    summary = {"counts": counts, "seconds": time.perf_counter() - start}
    log.info("%s: %s images of 28x28 px, %.1f s", name, counts, summary["seconds"])
    return summary
