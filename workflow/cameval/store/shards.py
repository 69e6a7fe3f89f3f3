"""Heatmap shards: their writer (:func:`write_shard`), reader (:class:`Shard`) and the checks of a
set of them (:func:`check_shards`, :func:`read_shards`).

One HDF5 file per ``{dataset}/{model}/{method}/shard-{i}``.

A shard holds, for each of its images (rows in the dataset's evaluation order):

- ``ids``      [N] image ids (strings, as in the dataset's manifest)
- ``labels``   [N] ground-truth class (-1 where none)
- ``targets``  [N, K] the classes explained (e.g. the top-5 predictions)
- ``scores``   [N, classes] pre-softmax scores of the unperturbed input
- ``maps``     [N, K, ...] maps at native resolution (the layer's grid for CAMs, the input's
  grid for pixel methods and occlusion), float32

and as attributes: method, layer, the method's parameters (JSON), model digest, dataset,
shard index and row range, and the cameval and torch versions. Files are written to a temporary
name and renamed, so a shard either exists whole or not at all; reads are lazy (``maps`` reads
from the file when sliced). Reading checks what is read: every array has one row per id, ids
are unique, the ``rows`` attribute matches the row count, scores and maps are finite, and a
damaged chunk is a :class:`DataError` naming the file (not h5py's bare ``OSError``).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from cameval.errors import DataError
from cameval.hdf5 import open_h5
from cameval.store.checks import Expect, check_coverage
from cameval.store.writer import decode_attr, write_cache

ARRAYS = ("labels", "targets", "scores", "maps")


def write_shard(path: str | os.PathLike, ids, labels, targets, scores, maps, attrs: dict) -> None:
    """Write one shard atomically. ``attrs`` values that are not scalars or strings go as JSON."""
    n = len(ids)
    arrays = {
        "labels": np.asarray(labels, dtype=np.int64),
        "targets": np.asarray(targets, dtype=np.int64),
        "scores": np.asarray(scores, dtype=np.float32),
        "maps": np.asarray(maps, dtype=np.float32),
    }
    for name, arr in arrays.items():
        if len(arr) != n:
            raise ValueError(f"write_shard {path}: {name} has {len(arr)} rows, expected {n} (one per id)")
    for name in ("scores", "maps"):
        bad = ~np.isfinite(arrays[name]).reshape(n, -1).all(axis=1) if n else np.zeros(0, bool)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError(
                f"write_shard {path}: {name} of ids {[ids[i] for i in rows[:5]]} are not finite "
                "(expected finite numbers; NaN or inf came out of the model or method)"
            )
    write_cache(
        path,
        ids,
        arrays,
        attrs,
        compressed=("maps",),
        chunks={"maps": (1, *arrays["maps"].shape[1:])} if n else {},
    )


class Shard:
    """Lazy read access to one shard: ``ids``, ``labels``, ``targets``, ``scores`` as numpy arrays,
    ``maps`` as an h5py dataset, ``attrs`` as a dict; with ``expect``, checked against the model
    file, the spec and the manifest it is read with (:class:`Expect`)."""

    def __init__(self, path: str | os.PathLike, expect: Expect | None = None):
        self.path = Path(path)
        self.expect = expect
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such heatmap shard (expected an HDF5 file written by cameval.store)")
        try:
            self._f = open_h5(self.path, "r")
        except OSError as e:
            raise DataError(f"{self.path}: not a readable HDF5 heatmap shard ({e})") from e
        try:
            self._load()
        except BaseException:
            self._f.close()
            raise

    def _load(self) -> None:
        missing = [k for k in ("ids", *ARRAYS) if k not in self._f]
        if missing:
            raise DataError(f"{self.path}: not a heatmap shard, missing datasets {missing}")
        try:
            self.ids = [s.decode() if isinstance(s, bytes) else str(s) for s in self._f["ids"][()]]
            self.labels = self._f["labels"][()]
            self.targets = self._f["targets"][()]
            self.scores = self._f["scores"][()]
            self.attrs = {k: decode_attr(v) for k, v in self._f.attrs.items()}
        except OSError as e:
            raise DataError(f"{self.path}: damaged heatmap shard ({e}); delete it and rerun its rule") from e
        self.maps = CheckedMaps(self._f["maps"], self.path)
        n = len(self.ids)
        for name in ARRAYS:
            if self._f[name].shape[0] != n:
                raise DataError(
                    f"{self.path}: dataset {name!r} has {self._f[name].shape[0]} rows for {n} ids "
                    "(expected one row per id)"
                )
        # one row per image, or per (image, boxed finding) in multi-label sets: (id, label) is the key
        keys = list(zip(self.ids, np.asarray(self.labels).reshape(n, -1)[:, 0].tolist(), strict=True))
        if len(set(keys)) != n:
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise DataError(
                f"{self.path}: (id, label) rows {dup[:5]} appear more than once "
                "(expected each image, or each (image, finding) of a multi-label set, once)"
            )
        rows = self.attrs.get("rows")
        if isinstance(rows, list) and len(rows) == 2 and rows[1] - rows[0] != n:
            raise DataError(
                f"{self.path}: attribute rows={rows} promises {rows[1] - rows[0]} images, the shard "
                f"holds {n} (expected them to agree: the manifest changed under the shard?)"
            )
        if n and not np.isfinite(self.scores).all():
            bad = np.flatnonzero(~np.isfinite(self.scores).all(axis=1))
            raise DataError(
                f"{self.path}: scores of ids {[self.ids[i] for i in bad[:5]]} are not finite (expected finite numbers)"
            )
        if self.expect is not None:
            self.expect.check(self.path, self.attrs, self.ids, np.asarray(self.labels).reshape(n, -1)[:, 0])

    def __len__(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Shard:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CheckedMaps:
    """The ``maps`` dataset of a shard, read on slicing: ``maps[i, k]`` is a numpy array.

    A damaged chunk raises :class:`DataError` naming the file and the index (h5py would say only
    ``OSError: filter returned failure``), and so does a map holding NaN or inf.
    """

    def __init__(self, dataset: h5py.Dataset, path: Path):
        self._ds, self.path = dataset, path
        self.shape, self.dtype, self.ndim = dataset.shape, dataset.dtype, dataset.ndim

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        try:
            out = self._ds[index]
        except OSError as e:
            raise DataError(
                f"{self.path}: maps{_index_text(index)} cannot be read ({e}); the shard is "
                "damaged: delete it and rerun its rule"
            ) from e
        if not np.isfinite(out).all():
            raise DataError(f"{self.path}: maps{_index_text(index)} hold NaN or inf (expected finite maps)")
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[()]
        return out if dtype is None else out.astype(dtype)


def _index_text(index) -> str:
    index = index if isinstance(index, tuple) else (index,)
    parts = [f"{i.start or ''}:{'' if i.stop is None else i.stop}" if isinstance(i, slice) else str(i) for i in index]
    return "[" + ", ".join(parts) + "]"


def shard_keys(shard: Shard) -> list:
    """The rows of a heatmap shard: ``(id, label)``, the key :class:`Shard` checks unique in one file."""
    labels = np.asarray(shard.labels).reshape(len(shard), -1)[:, 0].tolist() if len(shard) else []
    return list(zip(shard.ids, labels, strict=True))


def check_shards(paths, expected: int | None = None, expect: Expect | None = None) -> None:
    """Open every heatmap shard of ``paths`` (each file checked by :class:`Shard`, against ``expect``
    where given) and :func:`check_coverage` their rows against ``expected``."""
    parts = []
    for p in paths:
        with Shard(p, expect) as s:
            parts.append((p, shard_keys(s)))
    check_coverage(parts, expected, "heatmap shards")


def read_shards(paths, expected: int | None = None, expect: Expect | None = None) -> dict:
    """Concatenate the small arrays of several shards (maps excluded: read those per shard), after
    :func:`check_shards`."""
    check_shards(paths, expected, expect)
    out: dict = {"ids": [], "labels": [], "targets": [], "scores": []}
    for p in paths:
        with Shard(p) as s:
            out["ids"] += s.ids
            for k in ("labels", "targets", "scores"):
                out[k].append(getattr(s, k))
    for k in ("labels", "targets", "scores"):
        out[k] = np.concatenate(out[k]) if out[k] else np.empty(0)
    return out
