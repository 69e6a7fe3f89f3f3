"""The readers of the other caches: one-pixel attack shards (:func:`read_attacks`), FGSM attacks
(:func:`read_fgsm`) and class maps (:func:`read_class_maps`); each checks one row per id, finite
floats, and the file against an :class:`~cameval.store.checks.Expect` where given."""

from __future__ import annotations

import os

import h5py
import numpy as np

from cameval.errors import DataError
from cameval.hdf5 import open_h5
from cameval.store.checks import Expect, check_coverage
from cameval.store.writer import decode_attr

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
        return {k: decode_attr(v) for k, v in fh.attrs.items()}
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
        return open_h5(path, "r")
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
