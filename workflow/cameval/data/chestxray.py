"""NIH ChestX-ray14 with its radiologist boxes → ``images.h5`` (``size``² gray as RGB) and a manifest.

Inputs, in the formats NIH distributes them in:

- the PNGs ``00000001_000.png`` … (1024×1024, 8-bit grayscale; a few are RGBA or 16-bit:
  converted, see :func:`load_xray`) in one folder (the ``images_*.tar.gz`` unpacked together);
- ``Data_Entry_2017.csv``: one row per image; ``Image Index`` and ``Finding Labels`` are used
  (``|``-separated finding names, ``No Finding`` when there is none);
- ``BBox_List_2017.csv``: 984 radiologist boxes on 880 images, header
  ``Image Index,Finding Label,Bbox [x,y,w,h],,,`` — pandas reads the box as the four columns
  ``Bbox [x``, ``y``, ``w``, ``h]`` (plus empty ``Unnamed: *`` ones); ``x, y`` is the top-left
  corner and ``w, h`` the size, in pixels of the 1024² PNG, as floats. The box file says
  ``Infiltrate`` where the label file says ``Infiltration`` (:data:`FINDING_ALIASES`).

Only the boxed images are kept (the localization experiment needs nothing else); each is
resized to ``size``×``size`` and each box mapped through the same resize with the project's
inclusive convention (:func:`resize_box`). The manifest has one row per image, split ``test``,
``label = -1`` and the multi-label columns ``labels`` (``|``-joined class indices of all the
image's findings, from both files) and ``findings`` (their names); ``boxes`` holds
``[class, x0, y0, x1, y1]`` with ``class`` the index of the finding in the dataset's ``classes``.
The evaluation rows — one per (image, boxed finding) — come from
:func:`cameval.data.multilabel.explode_findings`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: CheXNet's output order (Rajpurkar et al., 2017; arnoweng/CheXNet ``CLASS_NAMES``).
CHEXNET_CLASSES = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
#: Spellings of the box file that differ from the label file's.
FINDING_ALIASES = {"Infiltrate": "Infiltration"}
NO_FINDING = "No Finding"
BBOX_COLUMNS = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]")
ENTRY_COLUMNS = ("Image Index", "Finding Labels")


def canonical_finding(name: str) -> str:
    """The label file's spelling of a finding name (``Infiltrate`` → ``Infiltration``)."""
    name = str(name).strip()
    return FINDING_ALIASES.get(name, name)


def _read_csv(path: str | os.PathLike, columns: Sequence[str], what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected {what} with columns {list(columns)})")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable CSV ({e}); expected {what}") from e
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: no column(s) {missing} (expected {what} with columns {list(columns)}; found {list(df.columns)})"
        )
    return df


def read_bbox_list(path: str | os.PathLike) -> pd.DataFrame:
    """``BBox_List_2017.csv`` as a DataFrame ``image, finding, x, y, w, h`` (floats, PNG pixels).

    Finding names are canonical (:func:`canonical_finding`). A missing column, a non-numeric or
    non-positive size raises :class:`DataError` naming the file, the row and the column.
    """
    df = _read_csv(
        path, BBOX_COLUMNS, "NIH's BBox_List_2017.csv (header 'Image Index,Finding Label,Bbox [x,y,w,h],,,')"
    )
    out = pd.DataFrame({"image": df["Image Index"].str.strip(), "finding": df["Finding Label"].map(canonical_finding)})
    for src, dst in zip(BBOX_COLUMNS[2:], ("x", "y", "w", "h"), strict=True):
        values = pd.to_numeric(df[src].str.strip(), errors="coerce")
        bad = values.isna() | (values <= 0 if dst in ("w", "h") else values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{path}: row {i + 2} ({df['Image Index'].iloc[i]}), column {src!r}: {df[src].iloc[i]!r} "
                f"(expected a {'positive' if dst in ('w', 'h') else 'non-negative'} number of pixels)"
            )
        out[dst] = values.astype(float)
    empty = out["image"] == ""
    if empty.any():
        raise DataError(f"{path}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 2}: empty 'Image Index'")
    return out


def read_data_entry(path: str | os.PathLike) -> dict[str, list[str]]:
    """``{image: [finding, ...]}`` from ``Data_Entry_2017.csv`` (``No Finding`` → no findings)."""
    df = _read_csv(path, ENTRY_COLUMNS, "NIH's Data_Entry_2017.csv")
    out = {}
    for image, labels in zip(df["Image Index"], df["Finding Labels"], strict=True):
        names = [canonical_finding(s) for s in str(labels).split("|") if s.strip()]
        out[str(image).strip()] = [s for s in names if s != NO_FINDING]
    return out


def boxed_images(bbox: pd.DataFrame, limit: int | None = None) -> list[str]:
    """The boxed images, sorted by name; the first ``limit`` when given."""
    images = sorted(set(bbox["image"]))
    return images[: int(limit)] if limit is not None else images


def count_eval_rows(bbox_csv: str | os.PathLike, limit: int | None = None) -> int:
    """Evaluation rows of a ChestX-ray14 set: distinct (image, boxed finding) pairs among the
    first ``limit`` boxed images. Known before the set is built (the workflow's shard count)."""
    bbox = read_bbox_list(bbox_csv)
    keep = set(boxed_images(bbox, limit))
    return int(bbox[bbox["image"].isin(keep)][["image", "finding"]].drop_duplicates().shape[0])


def resize_box(
    x: float, y: float, w: float, h: float, width: int, height: int, size: int
) -> tuple[float, float, float, float]:
    """Map an NIH box ``(x, y, w, h)`` of a ``width``×``height`` image through the resize to
    ``size``×``size`` as an inclusive box ``(x0, y0, x1, y1)`` (floats), clipped to the image.

    The box covers the continuous span ``[x, x + w)``; the resize scales it by ``s_x = size /
    width`` (``s_y`` likewise), and inclusive pixels end one before the span's end:
    ``x0 = s_x·x``, ``x1 = s_x·(x + w) − 1``. A full-image box ``(0, 0, 1024, 1024)`` becomes
    ``(0, 0, 223, 223)`` at 224 px; the width ``x1 − x0 + 1`` scales exactly by ``s_x``.
    """
    sx, sy = size / float(width), size / float(height)
    x0, y0 = sx * x, sy * y
    x1, y1 = sx * (x + w) - 1.0, sy * (y + h) - 1.0
    x0, y0 = min(max(x0, 0.0), size - 1.0), min(max(y0, 0.0), size - 1.0)
    x1, y1 = min(max(x1, x0), size - 1.0), min(max(y1, y0), size - 1.0)
    return x0, y0, x1, y1


def load_xray(path: str | os.PathLike, size: int = 224) -> tuple[np.ndarray, int, int]:
    """``(uint8 [size, size, 3], width, height)``: the PNG as 8-bit gray, resized bilinearly
    (PIL, antialiased) and repeated on 3 channels (CheXNet feeds RGB).

    Conversions: RGB/RGBA/LA → luminance (alpha dropped, ``PIL.Image.convert("L")``); 16-bit
    (``I;16``, ``I``) → ``value / 257`` rounded, so the 16-bit range maps onto 0..255.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            width, height = im.size
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                if arr.max() > 255:
                    arr = arr / 257.0
                gray = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
            else:
                gray = im.convert("L")
    except Exception as e:  # PIL raises many types for broken files
        raise DataError(f"{path}: unreadable PNG ({type(e).__name__}: {e}); expected an NIH ChestX-ray14 image") from e
    small = np.asarray(gray.resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return np.repeat(small[:, :, None], 3, axis=2), width, height


@dataclass(frozen=True)
class ChestXraySpec:
    """What a ChestX-ray14 set is built from and how (:func:`build_chestxray`): a ``datasets.<name>``
    entry of kind ``chestxray``; ``size``: the side images are resized to (the entry's ``resize``);
    ``limit``: the first boxed images by name (all when None)."""

    images_dir: str | os.PathLike
    data_entry: str | os.PathLike
    bbox_list: str | os.PathLike
    classes: Sequence[str] = CHEXNET_CLASSES
    size: int = 224
    limit: int | None = None
    mean: Sequence[float] = (0.485, 0.456, 0.406)
    std: Sequence[float] = (0.229, 0.224, 0.225)

    @classmethod
    def from_entry(cls, entry: dict) -> ChestXraySpec:
        """The spec of config entry ``entry`` (schema defaults set; no ``classes``: CheXNet's)."""
        return cls(
            images_dir=entry["images"],
            data_entry=entry["data_entry"],
            bbox_list=entry["bbox_list"],
            classes=entry.get("classes") or CHEXNET_CLASSES,
            size=entry["resize"],
            limit=entry.get("limit"),
            mean=tuple(entry["mean"]),
            std=tuple(entry["std"]),
        )


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``chestxray`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``
    (no randomness: ``seed`` is not used; its ``dataset`` attribute says ``chestxray`` whatever ``name``)."""
    return build_chestxray(path_h5, path_manifest, ChestXraySpec.from_entry(entry))


def build_chestxray(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    spec: ChestXraySpec,
    *,
    progress: bool = True,
) -> dict:
    """Build the ChestX-ray14 localization set of ``spec`` (see the module docstring).

    Every boxed finding must be one of ``classes`` and every boxed image must have a row in
    ``data_entry`` and a PNG in ``images_dir``; all of that is checked before any PNG is
    decoded. Findings of the label file outside ``classes`` are left out of ``labels``.
    Returns a summary (images, boxes, evaluation rows, findings).
    """
    images_dir, data_entry, bbox_list, size, limit = (
        spec.images_dir,
        spec.data_entry,
        spec.bbox_list,
        spec.size,
        spec.limit,
    )
    mean, std = spec.mean, spec.std
    classes = [str(c) for c in spec.classes]
    if len(set(classes)) != len(classes):
        raise ConfigError(f"classes: repeated names in {classes}")
    index_of = {c: i for i, c in enumerate(classes)}
    folder = Path(images_dir)
    if not folder.is_dir():
        raise ConfigError(f"images: no folder {folder} (expected the ChestX-ray14 PNGs, e.g. 00000001_000.png)")
    bbox = read_bbox_list(bbox_list)
    entries = read_data_entry(data_entry)
    images = boxed_images(bbox, limit)
    unknown = sorted(set(bbox["finding"]) - set(index_of))
    if unknown:
        raise DataError(f"{bbox_list}: column 'Finding Label': {unknown} not among the dataset's classes {classes}")
    missing_rows = [i for i in images if i not in entries]
    if missing_rows:
        raise DataError(
            f"{data_entry}: column 'Image Index': no row for {missing_rows[:5]} "
            f"({len(missing_rows)} boxed images; expected one row per image)"
        )
    missing_png = [i for i in images if not (folder / i).is_file()]
    if missing_png:
        raise DataError(f"{folder}: no PNG for {missing_png[:5]} ({len(missing_png)} boxed images of {bbox_list})")
    by_image = {k: g for k, g in bbox.groupby("image", sort=True)}
    attrs = {
        "dataset": "chestxray",
        "kind": "chestxray",
        "size": int(size),
        "classes": list(classes),
        "images_dir": str(images_dir),
        "bbox_list": str(bbox_list),
        "data_entry": str(data_entry),
    }
    rows, n_boxes, n_eval, outside = [], 0, 0, 0
    with (
        ImageSetWriter(path_h5, len(images), size, size, mean, std, attrs=attrs) as writer,
        tqdm(total=len(images), desc="ChestX-ray14", unit="img", disable=not progress) as bar,
    ):
        for i, name in enumerate(images):
            image, width, height = load_xray(folder / name, size)
            writer.write(i, image, Path(name).stem)
            boxes = []
            for r in by_image[name].itertuples():
                boxes.append([index_of[r.finding], *resize_box(r.x, r.y, r.w, r.h, width, height, size)])
                outside += r.x + r.w > width + 1 or r.y + r.h > height + 1
            found = {f for f in entries[name] if f in index_of} | set(by_image[name]["finding"])
            labels = sorted(index_of[f] for f in found)
            n_boxes += len(boxes)
            n_eval += len({b[0] for b in boxes})
            rows.append(
                {
                    "id": Path(name).stem,
                    "split": "test",
                    "index": i,
                    "label": -1,
                    "source": name,
                    "boxes": boxes,
                    "labels": "|".join(str(c) for c in labels),
                    "findings": "|".join(classes[c] for c in labels),
                }
            )
            bar.update(1)
        write_manifest(pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "labels", "findings"]), path_manifest)
    if outside:
        log.warning("%d boxes reach past their image and were clipped", outside)
    summary = {
        "images": len(rows),
        "boxes": n_boxes,
        "eval_rows": n_eval,
        "findings": sorted(set(bbox[bbox["image"].isin(set(images))]["finding"])),
    }
    log.info("ChestX-ray14: %d boxed images, %d boxes, %d (image, finding) rows", len(rows), n_boxes, n_eval)
    return summary
