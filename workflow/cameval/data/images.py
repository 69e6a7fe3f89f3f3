"""Image sets on disk: one HDF5 file of uint8 images; its manifest CSV is :mod:`cameval.data.manifest`'s.

``images.h5`` holds

- ``images``: uint8 ``[n, H, W, C]`` (C = 3: RGB; C = 1: grayscale, digits-28 and MNIST; one
  gzip-compressed chunk per image), maps and images are indexed ``[y, x]``;
- ``ids``: ``n`` variable-length UTF-8 strings;
- file attributes ``mean`` and ``std`` (C floats each): the normalization a model is fed with,
  ``x = (img / 255 - mean) / std``, plus whatever the builder adds (dataset name, seed, ...).

:class:`ImageSet` checks what it reads and raises :class:`~cameval.errors.DataError` naming the
file (a missing dataset or attribute, an unreadable chunk with its rows).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from cameval.errors import DataError
from cameval.hdf5 import open_h5
from cameval.io import atomic_path
from cameval.pixels import normalize

if TYPE_CHECKING:  # torch is imported where images become tensors: table and metric jobs never pay for it
    import torch


class ImageSetWriter:
    """Write an image set atomically: ``with ImageSetWriter(path, n, H, W, mean, std) as w: w.write(i, img, id)``.

    The file is written to a temporary file in ``path``'s folder and renamed onto ``path`` when the
    block exits normally and every row ``0..n-1`` was written; otherwise (an exception, or rows
    missing: :class:`DataError`) the temporary file is deleted and ``path`` is left untouched.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n: int,
        height: int,
        width: int,
        mean: Sequence[float],
        std: Sequence[float],
        attrs: dict | None = None,
        compression: str | None = "gzip",
    ):
        self.path = Path(path)
        self.n, self.height, self.width = int(n), int(height), int(width)
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        self.channels = len(self.mean)  # 3 (RGB), or 1 (grayscale: digits-28, MNIST)
        if self.channels not in (1, 3) or self.std.shape != self.mean.shape:
            raise DataError(
                f"{self.path}: mean and std need 3 values each (RGB) or 1 each (grayscale), "
                f"got {list(self.mean)} and {list(self.std)}"
            )
        if np.any(self.std <= 0):
            raise DataError(f"{self.path}: std must be positive, got {list(self.std)}")
        if self.n < 0 or self.height < 1 or self.width < 1:
            raise DataError(f"{self.path}: bad shape n={n}, height={height}, width={width}")
        self.attrs = dict(attrs or {})
        self.compression = compression
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None
        self._written = np.zeros(self.n, dtype=bool)

    def __enter__(self) -> ImageSetWriter:
        with contextlib.ExitStack() as stack:  # undone if anything below fails
            tmp = stack.enter_context(atomic_path(self.path))
            f = open_h5(tmp, "w")
            stack.callback(f.close)
            kw = {}
            if self.n and self.compression == "gzip":
                kw = {"compression": "gzip", "compression_opts": 4}
            elif self.n and self.compression:
                kw = {"compression": self.compression}
            chunks = (1, self.height, self.width, self.channels) if self.n else None
            f.create_dataset(
                "images", shape=(self.n, self.height, self.width, self.channels), dtype=np.uint8, chunks=chunks, **kw
            )
            f.create_dataset("ids", shape=(self.n,), dtype=h5py.string_dtype("utf-8"))
            f.attrs["mean"] = self.mean
            f.attrs["std"] = self.std
            for key, value in self.attrs.items():
                f.attrs[key] = value
            self._stack, self._file = stack.pop_all(), f
        return self

    def write(self, i: int, image: np.ndarray, id: str) -> None:
        """Store ``image`` (uint8 ``[H, W, 3]``) with identifier ``id`` as row ``i``."""
        self.write_many(int(i), np.asarray(image)[None], [id])

    def write_many(self, start: int, images: np.ndarray, ids: Sequence[str]) -> None:
        """Store the rows ``start .. start + len(images) - 1`` at once (uint8 ``[k, H, W, 3]``)."""
        if self._file is None:
            raise RuntimeError("ImageSetWriter.write called outside its `with` block")
        images = np.asarray(images)
        k = len(images)
        if images.dtype != np.uint8 or images.shape[1:] != (self.height, self.width, self.channels):
            raise DataError(
                f"{self.path}: expected uint8 images of shape [{self.height}, {self.width}, {self.channels}], "
                f"got {images.dtype} {list(images.shape[1:])}"
            )
        if len(ids) != k:
            raise DataError(f"{self.path}: {k} images but {len(ids)} ids")
        if start < 0 or start + k > self.n:
            raise DataError(f"{self.path}: rows {start}..{start + k - 1} outside 0..{self.n - 1}")
        self._file["images"][start : start + k] = images
        self._file["ids"][start : start + k] = [str(s) for s in ids]
        self._written[start : start + k] = True

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack, self._file = self._stack, None, None
        if exc_type is None and not self._written.all():
            missing = np.flatnonzero(~self._written)
            err = DataError(
                f"{self.path}: {len(missing)} of {self.n} rows never written (first missing: {missing[:5].tolist()})"
            )
            stack.__exit__(DataError, err, None)  # closes the file and deletes the temporary
            raise err
        stack.__exit__(exc_type, exc, tb)  # closes the file; renames it on success
        return False


class ImageSet:
    """Read an image set written by :class:`ImageSetWriter`; images are read on demand.

    The HDF5 file is checked when the object is made (missing file, dataset or attribute:
    :class:`DataError`) and reopened lazily, read-only, on first access to the pixels, also in a
    forked worker process.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(
                f"{self.path}: no such image set (expected an HDF5 file with datasets "
                "'images' uint8 [n,H,W,3] and 'ids', written by the dataset rule)"
            )
        try:
            with open_h5(self.path, "r") as f:
                for name in ("images", "ids"):
                    if name not in f:
                        raise DataError(
                            f"{self.path}: no dataset {name!r} (expected 'images' uint8 [n,H,W,3] and 'ids' strings)"
                        )
                shape, dtype = f["images"].shape, f["images"].dtype
                if len(shape) != 4 or shape[3] not in (1, 3) or dtype != np.uint8:
                    raise DataError(
                        f"{self.path}: dataset 'images' is {dtype} {list(shape)} (expected uint8 [n,H,W,3])"
                    )
                for name in ("mean", "std"):
                    if name not in f.attrs:
                        raise DataError(
                            f"{self.path}: no attribute {name!r} (expected the normalization "
                            "mean and std, 3 floats each)"
                        )
                self.ids: list[str] = [str(s) for s in f["ids"].asstr()[()]]
                if len(self.ids) != shape[0]:
                    raise DataError(f"{self.path}: {shape[0]} images but {len(self.ids)} ids")
                self.mean = np.asarray(f.attrs["mean"], dtype=np.float64)
                self.std = np.asarray(f.attrs["std"], dtype=np.float64)
                self.attrs = {k: _plain(v) for k, v in f.attrs.items()}
        except OSError as e:
            raise DataError(f"{self.path}: not a readable HDF5 image set ({e})") from e
        self.shape: tuple[int, int, int, int] = tuple(int(s) for s in shape)
        self.height, self.width, self.channels = self.shape[1], self.shape[2], self.shape[3]
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def _images(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            self._file = open_h5(self.path, "r")
            self._pid = os.getpid()
        return self._file["images"]

    def uint8(self, index: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        """The images at ``index`` (an int, a slice or an int array) as uint8 ``[n, H, W, 3]``.

        An int gives ``n = 1``. Arrays may be in any order and repeat rows; they are read in
        sorted order (as HDF5 needs) and returned in the order asked.
        """
        try:
            return self._read(index)
        except OSError as e:  # a damaged chunk: h5py says only "filter returned failure"
            raise DataError(
                f"{self.path}: images at rows {_describe(index)} cannot be read ({e}); "
                "the file is damaged: delete it and rerun the dataset rule"
            ) from e

    def _read(self, index) -> np.ndarray:
        ds = self._images()
        n = len(self)
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"{self.path}: row {i} outside 0..{n - 1}")
            i %= n
            return ds[i : i + 1]
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return ds[start:stop]
            index = np.arange(start, stop, step)
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise IndexError(f"{self.path}: index must be an int, a slice or a 1-d int array")
        if idx.size == 0:
            return np.empty((0, self.height, self.width, self.channels), dtype=np.uint8)
        if idx.min() < -n or idx.max() >= n:
            raise IndexError(f"{self.path}: rows outside 0..{n - 1}")
        idx = idx % n
        uniq, inverse = np.unique(idx, return_inverse=True)
        lo, hi = int(uniq[0]), int(uniq[-1]) + 1
        if hi - lo <= 4 * len(uniq):  # dense: one contiguous read is faster than a point selection
            block = ds[lo:hi][uniq - lo]
        else:
            block = ds[uniq]
        if len(uniq) == len(idx) and np.all(uniq == idx):
            return block
        return block[inverse.reshape(-1)]

    def tensor(self, index: int | slice | Sequence[int] | np.ndarray) -> torch.Tensor:
        """The images at ``index`` as normalized float32 ``[n, C, H, W]``: ``(img / 255 - mean) / std``."""
        import torch  # noqa: PLC0415  # the table jobs import cameval.data and start without torch

        x = torch.from_numpy(self.uint8(index)).permute(0, 3, 1, 2).to(torch.float32).div_(255)
        return normalize(x, self.mean, self.std).contiguous()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None

    def __enter__(self) -> ImageSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"ImageSet({str(self.path)!r}, n={len(self)}, size={self.height}x{self.width})"


def _describe(index) -> str:
    if isinstance(index, slice):
        return f"{index.start}..{index.stop}"
    idx = np.atleast_1d(np.asarray(index))
    return str(idx.tolist()) if idx.size <= 8 else f"{idx[:8].tolist()}... ({idx.size} rows)"


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
