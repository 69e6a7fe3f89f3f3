"""The one writer of every cached file (:func:`write_cache`) and what such a file records of what made
it (:func:`provenance`: the digests of the model file, of the manifest rows and of the spec), with
:func:`decode_attr`, the inverse of its attribute encoding."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os

import numpy as np
import pandas as pd

import cameval
from cameval.hdf5 import open_h5
from cameval.io import atomic_path


def write_cache(
    path: str | os.PathLike,
    ids,
    arrays: dict,
    attrs: dict,
    compressed=(),
    chunks: dict | None = None,
) -> None:
    """Write a cached file atomically: ``ids`` (UTF-8) and ``arrays`` (names may hold ``/``: a group),
    each dataset with HDF5's ``fletcher32`` checksum (an empty one has none: there is nothing to
    check), the names in ``compressed`` gzipped, ``chunks`` by name; ``attrs`` beside cameval's and
    torch's versions, values that are not scalars or strings as JSON."""
    encoded = [str(i).encode("utf-8") for i in ids]
    meta = {"cameval_version": cameval.__version__, "torch_version": _torch_version(), **attrs}
    with atomic_path(path) as tmp, open_h5(tmp, "w") as f:
        for name, arr in {"ids": np.asarray(encoded, dtype=bytes if encoded else "S1"), **arrays}.items():
            arr = np.asarray(arr)
            f.create_dataset(
                name,
                data=arr,
                chunks=(chunks or {}).get(name) if arr.size else None,
                fletcher32=bool(arr.size),
                compression="gzip" if name in compressed and arr.size else None,
                compression_opts=4 if name in compressed and arr.size else None,
            )
        for key, value in meta.items():
            if isinstance(value, str):
                value = str(value)  # plain str: h5py refuses subclasses such as TorchVersion
            elif not isinstance(value, (int, float, bool, np.number)):
                value = json.dumps(value)
            f.attrs[key] = value


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return ""


def decode_attr(value):
    """An attribute of a cached file as :func:`write_cache` stored it: bytes as text, JSON (a value
    that was not a scalar or a string) as the list or dict it was, numpy scalars as Python's."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file (a model's weights: ``model_digest``), read once per path, size and mtime."""
    st = os.stat(path)
    return _file_digest(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def spec_digest(spec: dict) -> str:
    """SHA-256 of a resolved spec (JSON, keys sorted): what computed a cached file."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def manifest_digest(manifest: pd.DataFrame, ids) -> str:
    """SHA-256 of the rows of ``ids`` (each image once, in the order of its first appearance) of a
    manifest as :func:`cameval.data.manifest.read_manifest` reads it, every column."""
    unique = list(dict.fromkeys(ids))
    rows = manifest.set_index("id").loc[unique]
    return hashlib.sha256(rows.to_csv().encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def _manifest(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    from cameval.data.manifest import read_manifest  # noqa: PLC0415  # cameval.data imports the writers' modules

    return read_manifest(path)


def read_manifest_once(path: str | os.PathLike) -> pd.DataFrame:
    """The manifest ``path``, read (and checked) once per size and mtime; do not modify it."""
    st = os.stat(path)
    return _manifest(os.path.abspath(path), st.st_size, st.st_mtime_ns)


def provenance(weights: str | os.PathLike, manifest: str | os.PathLike, ids, spec: dict) -> dict:
    """The attributes a cached file records of what made it: the digests of the model file, of the
    manifest's rows of ``ids`` and of ``spec`` (and ``spec`` itself, so a mismatch can say what differs)."""
    return {
        "model_digest": file_digest(weights),
        "manifest_digest": manifest_digest(read_manifest_once(manifest), ids),
        "spec_digest": spec_digest(spec),
        "spec": spec,
    }
