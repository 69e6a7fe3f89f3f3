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
name and renamed, so a shard either exists whole or not at all; reads are lazy (``maps`` reads
from the file when sliced). Reading checks what is read: every array has one row per id, ids
are unique, the ``rows`` attribute matches the row count, scores and maps are finite, and a
damaged chunk is a :class:`DataError` naming the file (not h5py's bare ``OSError``).
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
    import torch  # noqa: PLC0415  # for its version only: the jobs that read shards (figures, metrics) start without it

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
            for name, arr in arrays.items():
                chunks = (1, *arr.shape[1:]) if name == "maps" and n else None
                f.create_dataset(
                    name,
                    data=arr,
                    chunks=chunks,
                    compression="gzip" if name == "maps" else None,
                    compression_opts=4 if name == "maps" else None,
                )
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
        try:
            self._f = h5py.File(self.path, "r")
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
            self.attrs = {k: _decode(v) for k, v in self._f.attrs.items()}
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


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def check_coverage(parts, expected: int | None, what: str = "shards") -> None:
    """Raise :class:`DataError` unless the shards cover their rows exactly once.

    ``parts`` are ``(path, keys)`` in shard order, ``keys`` the rows of that shard (image ids, or
    ``(id, label)`` pairs where one image gives several rows); ``expected`` is the number of rows
    the config implies for these shards (None: not checked). A key in two shards names both
    files; a wrong total names the files and both counts. A shard left beside new ones by an
    earlier ``shard_size`` (``shard-0`` still holding 1,000 rows, ``shard-1`` 500 of them again)
    fails both ways.
    """
    seen: dict = {}
    paths = []
    for path, keys in parts:
        paths.append(str(path))
        again = [k for k in keys if k in seen]
        if again:
            more = f" (and {len(again) - 3} more)" if len(again) > 3 else ""
            raise DataError(
                f"{path}: rows {again[:3]}{more} are also in "
                f"{seen[again[0]]} (expected each row in exactly one of the {what}: a shard left from "
                "another shard_size or config? delete these shards and rerun)"
            )
        twice = len(keys) - len(set(keys))
        if twice:
            raise DataError(f"{path}: {twice} rows appear twice in this shard (expected each row once)")
        seen.update(dict.fromkeys(keys, str(path)))
    if expected is not None and len(seen) != expected:
        shown = paths if len(paths) <= 4 else [*paths[:2], "...", paths[-1]]
        raise DataError(
            f"{what} {shown}: {len(seen)} rows in {len(paths)} file(s), the config implies {expected} "
            "(expected exactly those rows: delete the shards and rerun)"
        )


def shard_keys(shard: Shard) -> list:
    """The rows of a heatmap shard: ``(id, label)``, the key :class:`Shard` checks unique in one file."""
    labels = np.asarray(shard.labels).reshape(len(shard), -1)[:, 0].tolist() if len(shard) else []
    return list(zip(shard.ids, labels, strict=True))


def check_shards(paths, expected: int | None = None) -> None:
    """Open every heatmap shard of ``paths`` (each file checked by :class:`Shard`) and
    :func:`check_coverage` their rows against ``expected``."""
    parts = []
    for p in paths:
        with Shard(p) as s:
            parts.append((p, shard_keys(s)))
    check_coverage(parts, expected, "heatmap shards")


def read_shards(paths, expected: int | None = None) -> dict:
    """Concatenate the small arrays of several shards (maps excluded: read those per shard), after
    :func:`check_shards`."""
    check_shards(paths, expected)
    out: dict = {"ids": [], "labels": [], "targets": [], "scores": []}
    for p in paths:
        with Shard(p) as s:
            out["ids"] += s.ids
            for k in ("labels", "targets", "scores"):
                out[k].append(getattr(s, k))
    for k in ("labels", "targets", "scores"):
        out[k] = np.concatenate(out[k]) if out[k] else np.empty(0)
    return out


# --- the other caches: one-pixel attack shards, FGSM attacks, class maps ------------------------------

ATTACK_ARRAYS = (
    "labels",
    "success",
    "pixel",
    "colour",
    "generations",
    "evaluations",
    "p_before",
    "p_after",
    "pred_before",
    "pred_after",
    "random_pixel",
    "clean",
    "cam_before",
    "cam_after",
    "ig_before",
    "ig_after",
)


#: written by :func:`cameval.experiments.sensitivity.attack_shard` since Appendix F prints it; shards
#: from before lack it
ATTACK_OPTIONAL = ("p_new",)


def read_attacks(paths, expected: int | None = None) -> dict:
    """The arrays of several one-pixel attack shards (layout: :mod:`cameval.experiments.sensitivity`),
    concatenated in order, after checking that they cover ``expected`` images (None: not checked),
    each once (:func:`check_coverage`)."""
    paths = list(paths)
    out: dict = {k: [] for k in ("ids", *ATTACK_ARRAYS)}
    attrs, parts = {}, []
    for p in paths:
        if not os.path.isfile(p):
            raise DataError(
                f"{p}: no such attack shard (expected an HDF5 file written by cameval.experiments.sensitivity)"
            )
        with h5py.File(p, "r") as fh:
            missing = [k for k in ("ids", *ATTACK_ARRAYS) if k not in fh]
            if missing:
                raise DataError(f"{p}: not a one-pixel attack shard, missing datasets {missing}")
            parts.append((p, [s.decode() if isinstance(s, bytes) else str(s) for s in fh["ids"][()]]))
            out["ids"] += parts[-1][1]
            for k in ATTACK_ARRAYS:
                out[k].append(fh[k][()])
            for k in ATTACK_OPTIONAL:
                if k in fh:
                    out.setdefault(k, []).append(fh[k][()])
            attrs = dict(fh.attrs)
    check_coverage(parts, expected, "attack shards")
    for k in ATTACK_ARRAYS:
        out[k] = np.concatenate(out[k])
    for k in ATTACK_OPTIONAL:  # kept only where every shard has it
        if k in out and len(out[k]) == len(paths):
            out[k] = np.concatenate(out[k])
        else:
            out.pop(k, None)
    out["attrs"] = attrs
    return out


FGSM_ARRAYS = ("clean", "adv", "cam_clean", "cam_adv", "label", "pred_clean", "pred_adv")


def _ids(path, fh) -> list[str]:
    try:
        return [s.decode() if isinstance(s, bytes) else str(s) for s in fh["ids"][()]]
    except KeyError as e:
        raise DataError(f"{path}: no dataset 'ids' (expected a file written by cameval)") from e


def _open(path, what: str) -> h5py.File:
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (expected {what})")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e}; expected {what})") from e


def _rows_checked(path, fh, names, n: int) -> None:
    missing = [k for k in names if k not in fh]
    if missing:
        raise DataError(f"{path}: missing datasets {missing}")
    for k in names:
        if fh[k].shape[0] != n:
            raise DataError(f"{path}: dataset {k!r} has {fh[k].shape[0]} rows for {n} ids (expected one row per id)")


def read_fgsm(path: str | os.PathLike) -> dict:
    """The FGSM attacks of one model (:func:`cameval.experiments.fgsm.fgsm_rows`): ``ids``, the arrays
    of :data:`FGSM_ARRAYS` (one row per id, maps finite) and ``eps``, ``layer``."""
    with _open(path, "the FGSM attacks written by cameval.experiments.fgsm") as fh:
        ids = _ids(path, fh)
        _rows_checked(path, fh, FGSM_ARRAYS, len(ids))
        out = {"ids": ids, **{k: fh[k][()] for k in FGSM_ARRAYS}}
        out["eps"], out["layer"] = float(fh.attrs["eps"]), _decode(fh.attrs.get("layer", ""))
    for k in ("cam_clean", "cam_adv"):
        if not np.isfinite(out[k]).all():
            raise DataError(f"{path}: {k} holds NaN or inf (expected finite maps)")
    return out


def read_class_maps(path: str | os.PathLike, expected: int | None = None) -> dict:
    """Every class's maps of one model (:func:`cameval.experiments.faithfulness.class_maps`): ``ids``,
    ``labels``, ``images``, ``maps`` (method -> [N, K, H, W], finite) and ``explainer`` (the SHAP
    explainer used), after checking that they cover ``expected`` images (None: not checked), each
    once."""
    with _open(path, "the class maps written by cameval.experiments.faithfulness") as fh:
        ids = _ids(path, fh)
        _rows_checked(path, fh, ("labels", "images"), len(ids))
        if "maps" not in fh:
            raise DataError(f"{path}: missing group 'maps'")
        maps = {m: fh[f"maps/{m}"][()] for m in fh["maps"]}
        out = {"ids": ids, "labels": fh["labels"][()], "images": fh["images"][()], "maps": maps}
        out["explainer"] = fh.attrs.get("shap_explainer", "")
    for m, a in maps.items():
        if a.shape[0] != len(ids):
            raise DataError(f"{path}: maps/{m} has {a.shape[0]} rows for {len(ids)} ids (expected one row per id)")
        if not np.isfinite(a).all():
            raise DataError(f"{path}: maps/{m} holds NaN or inf (expected finite maps)")
    check_coverage([(path, ids)], expected, "class maps")
    return out
