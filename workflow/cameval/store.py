"""Heatmap shards: one HDF5 file per ``{dataset}/{model}/{method}/shard-{i}``.

A shard holds, for each of its images (rows in the dataset's evaluation order):

- ``ids``      [N] image ids (strings, as in the dataset's manifest)
- ``labels``   [N] ground-truth class (-1 where none)
- ``targets``  [N, K] the classes explained (e.g. the top-5 predictions)
- ``scores``   [N, classes] pre-softmax scores of the unperturbed input
- ``maps``     [N, K, ...] maps at native resolution (the layer's grid for CAMs, the input's
  grid for pixel methods and occlusion), float32

and as attributes: method, layer, the method's parameters (JSON), model digest, dataset,
shard index and row range, and the cameval and torch versions. Files are written to a temporary
name and renamed, so a shard either exists whole or not at all; reads are lazy (``maps`` stays an
h5py dataset until sliced).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

import cameval
from cameval.errors import DataError
from cameval.io import atomic_path

ARRAYS = ("labels", "targets", "scores", "maps")


def write_shard(path: str | os.PathLike, ids, labels, targets, scores, maps, attrs: dict) -> None:
    """Write one shard atomically. ``attrs`` values that are not scalars or strings go as JSON."""
    n = len(ids)
    arrays = {"labels": np.asarray(labels, dtype=np.int64), "targets": np.asarray(targets, dtype=np.int64),
              "scores": np.asarray(scores, dtype=np.float32), "maps": np.asarray(maps, dtype=np.float32)}
    for name, arr in arrays.items():
        if len(arr) != n:
            raise ValueError(f"write_shard {path}: {name} has {len(arr)} rows, expected {n} (one per id)")
    import torch

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
            for name, arr in arrays.items():
                chunks = (1, *arr.shape[1:]) if name == "maps" and n else None
                f.create_dataset(name, data=arr, chunks=chunks, compression="gzip" if name == "maps" else None,
                                 compression_opts=4 if name == "maps" else None)
            meta = {"cameval_version": cameval.__version__, "torch_version": torch.__version__, **attrs}
            for key, value in meta.items():
                if isinstance(value, str):
                    value = str(value)  # plain str: h5py refuses subclasses such as TorchVersion
                elif not isinstance(value, (int, float, bool, np.number)):
                    value = json.dumps(value)
                f.attrs[key] = value


class Shard:
    """Lazy read access to one shard: ``ids``, ``labels``, ``targets``, ``scores`` as numpy arrays,
    ``maps`` as an h5py dataset, ``attrs`` as a dict."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such heatmap shard (expected an HDF5 file written by cameval.store)")
        self._f = h5py.File(self.path, "r")
        missing = [k for k in ("ids", *ARRAYS) if k not in self._f]
        if missing:
            self._f.close()
            raise DataError(f"{self.path}: not a heatmap shard, missing datasets {missing}")
        self.ids = [s.decode() if isinstance(s, bytes) else str(s) for s in self._f["ids"][()]]
        self.labels = self._f["labels"][()]
        self.targets = self._f["targets"][()]
        self.scores = self._f["scores"][()]
        self.maps = self._f["maps"]
        self.attrs = {k: _decode(v) for k, v in self._f.attrs.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Shard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def read_shards(paths) -> dict:
    """Concatenate the small arrays of several shards (maps excluded: read those per shard)."""
    out: dict = {"ids": [], "labels": [], "targets": [], "scores": []}
    for p in paths:
        with Shard(p) as s:
            out["ids"] += s.ids
            for k in ("labels", "targets", "scores"):
                out[k].append(getattr(s, k))
    for k in ("labels", "targets", "scores"):
        out[k] = np.concatenate(out[k]) if out[k] else np.empty(0)
    return out
