"""The manifest of an image set (:mod:`cameval.data.images`): one CSV row per image, written,
read and checked here.

``manifest.csv`` has one row per image and the columns ``id, split, index, label, source, boxes``:
``index`` is the image's row in ``images.h5``; ``label`` its integer class (ImageNet: the
torchvision index, i.e. the rank of the WNID among the sorted WNIDs); ``source`` where it came
from (digits: the index of the main digit in :func:`sklearn.datasets.load_digits`; ImageNet: the
JPEG file name), always read back as a string; ``boxes`` a JSON list of ``[class, x0, y0, x1, y1]``.

Box convention (kept everywhere in cameval): ``(x0, y0, x1, y1)`` are *inclusive* pixel
coordinates of the stored (preprocessed) image, so a box covers pixels ``x0 <= x <= x1`` and
``y0 <= y <= y1`` and its width is ``x1 - x0 + 1`` (ILSVRC devkit convention). Digits boxes are
ints (exact ink boxes); ImageNet boxes are floats (the original integer boxes mapped through the
resize, see :func:`cameval.data.imagenet.transform_box`). JSON keeps the difference: ints read
back as ``int``, floats as ``float``.

Every reader checks what it reads and raises :class:`~cameval.errors.DataError` naming the file,
the row or key, and what was expected: :func:`read_manifest` checks each row on its own (unique
ids, known splits, integer index and label, boxes ``[class, x0, y0, x1, y1]`` with
``0 <= x0 <= x1`` and ``0 <= y0 <= y1``); :func:`check_manifest` checks it against what it
describes (rows per split from the config, one row per image of ``images.h5`` with matching ids,
boxes inside the image, labels below the model's class count). Readers of other files follow the
same pattern.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cameval.errors import DataError
from cameval.io import write_csv

if TYPE_CHECKING:
    from cameval.data.images import ImageSet

MANIFEST_COLUMNS = ("id", "split", "index", "label", "source", "boxes")
SPLITS = ("train", "val", "test")
"""The splits a manifest may name."""


def _boxes_json(boxes) -> str:
    if isinstance(boxes, str):
        json.loads(boxes)  # validate
        return boxes
    out = []
    for b in boxes:
        b = list(b)
        if len(b) != 5:
            raise DataError(f"box {b}: expected [class, x0, y0, x1, y1]")
        out.append([int(b[0])] + [_num(v) for v in b[1:]])
    return json.dumps(out, separators=(",", ":"))


def _num(v):
    if isinstance(v, (int, np.integer)):
        return int(v)
    return round(float(v), 4)


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a manifest (columns ``id, split, index, label, source, boxes`` first) atomically.

    ``boxes`` may hold lists of ``(class, x0, y0, x1, y1)`` or their JSON; floats are rounded to
    4 decimals. Extra columns are kept after the required ones.
    """
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: manifest lacks column(s) {missing} (expected {list(MANIFEST_COLUMNS)})")
    out = df[list(MANIFEST_COLUMNS) + [c for c in df.columns if c not in MANIFEST_COLUMNS]].copy()
    out["boxes"] = [_boxes_json(b) for b in out["boxes"]]
    write_csv(out, path)


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest; ``boxes`` becomes a list of tuples ``(class, x0, y0, x1, y1)`` per row.

    ``class`` is an int, the coordinates ints (digits) or floats (ImageNet) as written; ``id``,
    ``split`` and ``source`` are strings, ``index`` and ``label`` ints. A missing file, a missing
    column, malformed boxes or a row that breaks the rules of the module docstring (duplicate
    id, unknown split, ``x0 > x1``, negative coordinates, ...) raise :class:`DataError` naming the
    file and the row. :func:`check_manifest` checks it against its images and the config.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such manifest (expected a CSV with columns {list(MANIFEST_COLUMNS)})")
    try:
        df = pd.read_csv(
            path, dtype={"id": str, "split": str, "source": str, "boxes": str, "labels": str}, keep_default_na=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable manifest CSV ({e})") from e
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: manifest lacks column(s) {missing} (expected {list(MANIFEST_COLUMNS)})")
    for col in ("index", "label"):
        try:
            df[col] = pd.to_numeric(df[col], errors="raise").astype(np.int64)
        except (ValueError, TypeError) as e:
            raise DataError(f"{path}: column {col!r} must hold integers ({e})") from e
    boxes = []
    for row, text in zip(df["id"], df["boxes"], strict=True):
        try:
            parsed = json.loads(text) if text.strip() else []
            if not _all5(parsed):
                raise ValueError("not a list of 5-element lists")
            boxes.append([(int(b[0]), *b[1:]) for b in parsed])
        except (ValueError, TypeError) as e:
            raise DataError(
                f"{path}: row {row!r}: boxes {text!r} are not a JSON list of [class, x0, y0, x1, y1] ({e})"
            ) from e
    df["boxes"] = boxes
    _check_rows(df, path)
    return df


def _fail(path, what: str, rows: pd.DataFrame | pd.Series, expected: str, limit: int = 5):
    ids = rows["id"] if isinstance(rows, pd.DataFrame) else rows
    shown = [str(i) for i in list(ids)[:limit]]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    raise DataError(f"{path}: {what} in row(s) with id {shown}{more} (expected {expected})")


def _check_rows(df: pd.DataFrame, path) -> None:
    """What each manifest row must satisfy on its own (see the module docstring)."""
    dup = df[df["id"].duplicated()]
    if len(dup):
        _fail(path, "duplicate ids", dup.drop_duplicates("id"), "each id once")
    bad = df[~df["split"].isin(SPLITS)]
    if len(bad):
        _fail(path, f"unknown split(s) {sorted(set(bad['split']))}", bad, f"one of {list(SPLITS)}")
    bad = df[df["index"] < 0]
    if len(bad):
        _fail(path, "negative index", bad, "the row of the image in images.h5, >= 0")
    dup = df[df["index"].duplicated(keep=False)]
    if len(dup):
        _fail(path, "repeated index", dup, "one manifest row per image of images.h5")
    bad = df[df["label"] < -1]
    if len(bad):
        _fail(path, "label below -1", bad, "a class index >= 0, or -1 for none")
    for image_id, boxes in zip(df["id"], df["boxes"], strict=True):
        for b in boxes:
            cls, x0, y0, x1, y1 = b
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in b[1:]):
                raise DataError(
                    f"{path}: row {image_id!r}: box {list(b)} has a non-numeric coordinate (expected finite numbers)"
                )
            if cls < 0 or not 0 <= x0 <= x1 or not 0 <= y0 <= y1:
                raise DataError(
                    f"{path}: row {image_id!r}: box {list(b)} is not [class >= 0, x0, y0, x1, y1] "
                    "with 0 <= x0 <= x1 and 0 <= y0 <= y1 (inclusive pixels)"
                )


def check_manifest(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    images: ImageSet | None = None,
    counts: dict[str, int] | None = None,
    num_classes: int | None = None,
) -> pd.DataFrame:
    """Check a manifest read by :func:`read_manifest` against what it describes; returns ``df``.

    - ``images``: its image set; every image has exactly one row (``index`` runs over
      ``0 .. len(images) - 1``), ``ids[index]`` equals the row's id, and every box lies inside
      the image: ``x1 <= width - 1`` and ``y1 <= height - 1``;
    - ``counts``: rows per split the config promises, e.g. ``{"test": 24}``;
    - ``num_classes``: labels and box classes are ``< num_classes``.

    Raises :class:`DataError` naming ``path``, the offending row(s) and what was expected.
    """
    if counts:
        for split, n in counts.items():
            have = int((df["split"] == split).sum())
            if have != int(n):
                raise DataError(
                    f"{path}: {have} rows with split {split!r}, the config says {n} "
                    "(rows lost or added: rebuild the dataset)"
                )
    if num_classes is not None:
        bad = df[df["label"] >= num_classes]
        if len(bad):
            _fail(path, f"label >= {num_classes}", bad, f"a class in 0..{num_classes - 1}, or -1 for none")
        for image_id, boxes in zip(df["id"], df["boxes"], strict=True):
            for b in boxes:
                if b[0] >= num_classes:
                    raise DataError(
                        f"{path}: row {image_id!r}: box {list(b)} has class {b[0]} (expected 0..{num_classes - 1})"
                    )
    if images is not None:
        n = len(images)
        if len(df) != n or not np.array_equal(np.sort(df["index"].to_numpy()), np.arange(n)):
            raise DataError(
                f"{path}: {len(df)} rows for the {n} images of {images.path} "
                f"(expected one row per image, index 0..{n - 1}: rows lost or added)"
            )
        wrong = [
            i for i, (image_id, k) in enumerate(zip(df["id"], df["index"], strict=True)) if images.ids[k] != image_id
        ]
        if wrong:
            _fail(
                path,
                f"ids that differ from those of {images.path} at the same index",
                df.iloc[wrong],
                "the manifest and images.h5 written together",
            )
        for image_id, boxes in zip(df["id"], df["boxes"], strict=True):
            for b in boxes:
                if b[3] > images.width - 1 or b[4] > images.height - 1:
                    raise DataError(
                        f"{path}: row {image_id!r}: box {list(b)} reaches outside the "
                        f"{images.width}x{images.height} image (expected x1 <= {images.width - 1}, "
                        f"y1 <= {images.height - 1})"
                    )
    return df


def _all5(parsed) -> bool:
    return isinstance(parsed, list) and all(isinstance(b, list) and len(b) == 5 for b in parsed)


def gt_boxes_of(manifest: pd.DataFrame, image_id: str, cls: int) -> list[tuple]:
    """The ground-truth boxes ``(x0, y0, x1, y1)`` of class ``cls`` in image ``image_id``."""
    return [tuple(b[1:5]) for b in manifest.at[image_id, "boxes"] if int(b[0]) == int(cls)]
