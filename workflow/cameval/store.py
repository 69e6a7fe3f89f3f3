"""Every cached array: heatmap shards, one-pixel attack shards, FGSM attacks, class maps.

Every cached file proves what made it, and every reader checks it (:class:`Expect`): the file
records, as attributes, the SHA-256 of the model file (``model_digest``), of the manifest rows it
covers (``manifest_digest``, :func:`manifest_digest`) and of the resolved spec of what computed it
(``spec_digest`` of ``spec``: a heatmap set's method, params, layer, targets, kind and, for your own
method, the digest of its module's source); every dataset carries HDF5's ``fletcher32`` checksum,
so a flipped bit anywhere (ids, labels, targets, scores, not only the compressed maps) is a
:class:`DataError` naming the file. A reader given an :class:`Expect` compares the file with the
model file, the manifest and the config's spec it is about to be combined with, and checks the
file's ids and labels against the manifest; every float it returns is finite.

Heatmap shards: one HDF5 file per ``{dataset}/{model}/{method}/shard-{i}``.

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

import functools
import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

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
    "p_new",
    "pred_before",
    "pred_after",
    "random_pixel",
    "clean",
    "cam_before",
    "cam_after",
    "ig_before",
    "ig_after",
)


#: the float arrays of an attack shard, each checked finite on reading
ATTACK_FLOATS = ("p_before", "p_after", "cam_before", "cam_after", "ig_before", "ig_after", "p_new")


def read_attacks(paths, expected: int | None = None, expect: Expect | None = None) -> dict:
    """The arrays of several one-pixel attack shards (layout: :mod:`cameval.experiments.sensitivity.compute`),
    concatenated in order, after checking that they cover ``expected`` images (None: not checked),
    each once (:func:`check_coverage`), that every float is finite, and each file against
    ``expect`` where given (:class:`Expect`)."""
    paths = list(paths)
    out: dict = {k: [] for k in ("ids", *ATTACK_ARRAYS)}
    attrs, parts = {}, []
    what = "a one-pixel attack shard written by cameval.experiments.sensitivity"
    for p in paths:
        with _open(p, what) as fh:
            ids = _ids(p, fh)
            _rows_checked(p, fh, ATTACK_ARRAYS, len(ids))
            parts.append((p, ids))
            out["ids"] += ids
            got = {k: _read(p, fh, k) for k in ATTACK_ARRAYS}
            for k in ATTACK_FLOATS:
                _finite(p, k, got[k], ids)
            for k in ATTACK_ARRAYS:
                out[k].append(got[k])
            attrs = _attrs(p, fh)
            if expect is not None:
                expect.check(p, attrs, ids, got["labels"])
    check_coverage(parts, expected, "attack shards")
    for k in ATTACK_ARRAYS:
        out[k] = np.concatenate(out[k])
    out["attrs"] = attrs
    return out


FGSM_ARRAYS = ("clean", "adv", "cam_clean", "cam_adv", "label", "pred_clean", "pred_adv")


def _ids(path, fh) -> list[str]:
    if "ids" not in fh:
        raise DataError(f"{path}: no dataset 'ids' (expected a file written by cameval)")
    return [s.decode() if isinstance(s, bytes) else str(s) for s in _read(path, fh, "ids")]


def _read(path, fh, name: str) -> np.ndarray:
    """Dataset ``name`` of an open file, read whole; a damaged chunk or a failed checksum (h5py's bare
    ``OSError``) is a :class:`DataError` naming the file and the dataset."""
    try:
        return fh[name][()]
    except OSError as e:
        raise DataError(
            f"{path}: dataset {name!r} cannot be read ({e}); the file is damaged: delete it and rerun"
        ) from e


def _attrs(path, fh) -> dict:
    try:
        return {k: _decode(v) for k, v in fh.attrs.items()}
    except OSError as e:
        raise DataError(f"{path}: its attributes cannot be read ({e}); the file is damaged") from e


def _finite(path, name: str, arr: np.ndarray, ids) -> None:
    """Raise :class:`DataError` naming ``path``, ``name`` and the first ids whose rows hold NaN or inf."""
    arr = np.asarray(arr)
    if arr.dtype.kind != "f" or np.isfinite(arr).all():
        return
    bad = np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))
    raise DataError(f"{path}: {name} of ids {[ids[i] for i in bad[:5]]} hold NaN or inf (expected finite numbers)")


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


def read_fgsm(path: str | os.PathLike, expect: Expect | None = None) -> dict:
    """The FGSM attacks of one model (:func:`cameval.experiments.fgsm.compute.fgsm_rows`): ``ids``, the arrays
    of :data:`FGSM_ARRAYS` (one row per id, maps finite) and ``eps``, ``layer``; checked against
    ``expect`` where given (:class:`Expect`)."""
    with _open(path, "the FGSM attacks written by cameval.experiments.fgsm") as fh:
        ids = _ids(path, fh)
        _rows_checked(path, fh, FGSM_ARRAYS, len(ids))
        out = {"ids": ids, **{k: _read(path, fh, k) for k in FGSM_ARRAYS}}
        attrs = _attrs(path, fh)
    if "eps" not in attrs:
        raise DataError(f"{path}: no attribute 'eps' (expected the FGSM attacks written by cameval.experiments.fgsm)")
    out["eps"], out["layer"] = float(attrs["eps"]), attrs.get("layer", "")
    for k in ("cam_clean", "cam_adv"):
        _finite(path, k, out[k], ids)
    if expect is not None:
        expect.check(path, attrs, ids, out["label"])
    return out


def read_class_maps(path: str | os.PathLike, expected: int | None = None, expect: Expect | None = None) -> dict:
    """Every class's maps of one model (:func:`cameval.experiments.faithfulness.compute.class_maps`): ``ids``,
    ``labels``, ``images``, ``maps`` (method -> [N, K, H, W], finite) and ``explainer`` (the SHAP
    explainer used), after checking that they cover ``expected`` images (None: not checked), each
    once, and the file against ``expect`` where given (:class:`Expect`)."""
    with _open(path, "the class maps written by cameval.experiments.faithfulness") as fh:
        ids = _ids(path, fh)
        _rows_checked(path, fh, ("labels", "images"), len(ids))
        if "maps" not in fh or not isinstance(fh["maps"], h5py.Group):
            raise DataError(f"{path}: missing group 'maps'")
        maps = {m: _read(path, fh, f"maps/{m}") for m in fh["maps"]}
        out = {"ids": ids, "labels": _read(path, fh, "labels"), "images": _read(path, fh, "images"), "maps": maps}
        attrs = _attrs(path, fh)
        out["explainer"] = attrs.get("shap_explainer", "")
    for m, a in maps.items():
        if a.shape[0] != len(ids):
            raise DataError(f"{path}: maps/{m} has {a.shape[0]} rows for {len(ids)} ids (expected one row per id)")
        _finite(path, f"maps/{m}", a, ids)
    check_coverage([(path, ids)], expected, "class maps")
    if expect is not None:
        expect.check(path, attrs, ids, out["labels"])
    return out


# --- writing: one writer for every cached file ----------------------------------------------------------


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
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
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


# --- what made a cached file ---------------------------------------------------------------------------


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


def _short(digest) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) and digest else "none recorded"


@dataclass(frozen=True)
class Expect:
    """What a cached file is about to be combined with; :meth:`check` compares the file with it.

    ``weights``: the model file the maps must come from; ``spec``: the config's resolved spec of what
    computed them (a heatmap set: method, params, layer, targets, kind and your own method's source
    digest; an attack: its parameters); ``manifest``: the manifest whose rows the file covers (its
    ids must be the manifest's, each label the manifest's, and the rows unchanged since). None: not
    compared.
    """

    weights: str | os.PathLike | None = None
    spec: dict | None = None
    manifest: str | os.PathLike | None = None

    def check(self, path, attrs: dict, ids, labels=None) -> None:
        """Raise :class:`DataError` naming ``path`` and the mismatch unless the file's attributes
        ``attrs``, ``ids`` and ``labels`` agree with the model file, the spec and the manifest."""
        fix = "delete it and rerun its rule"
        if self.weights is not None:
            want, got = file_digest(self.weights), attrs.get("model_digest")
            if got != want:
                raise DataError(
                    f"{path}: computed with another model file (model_digest {_short(got)}; {self.weights} "
                    f"has {_short(want)}): a file copied from another model, or the model changed since; {fix}"
                )
        if self.spec is not None:
            want, got = spec_digest(self.spec), attrs.get("spec_digest")
            if got != want:
                stored = attrs.get("spec") if isinstance(attrs.get("spec"), dict) else {}
                keys = sorted(set(stored) | set(self.spec), key=str)
                diff = [
                    f"{k}: {stored.get(k)!r} in the file, {self.spec.get(k)!r} in the config"
                    for k in keys
                    if stored.get(k) != self.spec.get(k)
                ]
                raise DataError(
                    f"{path}: made by another spec ({'; '.join(diff) or 'spec_digest ' + _short(got)}): a file of "
                    f"another set, or the config or your method's source changed since; {fix}"
                )
        if self.manifest is not None:
            self._check_rows(path, attrs, list(ids), labels, fix)

    def _check_rows(self, path, attrs: dict, ids: list, labels, fix: str) -> None:
        from cameval.data.multilabel import is_multilabel  # noqa: PLC0415  # (as in _manifest)

        manifest = read_manifest_once(self.manifest)
        known = manifest.set_index("id")
        unknown = [i for i in dict.fromkeys(ids) if i not in known.index]
        if unknown:
            raise DataError(f"{path}: ids {unknown[:5]} are not in {self.manifest} (a file of another dataset?); {fix}")
        if labels is not None:
            labels = np.asarray(labels).reshape(len(ids), -1)[:, 0].tolist() if len(ids) else []
            multi = is_multilabel(manifest)
            for i, (image, label) in enumerate(zip(ids, labels, strict=True)):
                row = known.loc[image]
                allowed = sorted({int(b[0]) for b in row["boxes"]}) if multi else [int(row["label"])]
                if int(label) not in allowed:
                    says = f"boxed findings {allowed}" if multi else f"label {allowed[0]}"
                    raise DataError(
                        f"{path}: row {i} (id {image!r}) holds label {int(label)}, {self.manifest} says {says}; {fix}"
                    )
        want, got = manifest_digest(manifest, ids), attrs.get("manifest_digest")
        if got != want:
            raise DataError(
                f"{path}: covers rows of another manifest (manifest_digest {_short(got)}; the rows of its ids in "
                f"{self.manifest} give {_short(want)}): the manifest changed since (boxes, indices, labels); {fix}"
            )
