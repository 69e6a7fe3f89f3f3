"""The study's ILSVRC2012 validation set: JPEGs + boxes → ``images.h5`` (224×224) and a manifest.

Inputs, in the formats they are distributed in:

- the 50,000 JPEGs ``ILSVRC2012_val_00000001.JPEG`` … in one folder;
- the boxes, either as one PASCAL-VOC XML file per image (``ILSVRC2012_val_00000001.xml``, from
  ``ILSVRC2012_bbox_val_v3.tgz``) or as Kaggle's ``LOC_val_solution.csv``
  (``ImageId,PredictionString`` with ``"wnid x0 y0 x1 y1 wnid x0 y0 x1 y1 ..."``);
- the class list ``LOC_synset_mapping.txt`` (``n01440764 tench, Tinca tinca`` per line), whose
  line order (sorted WNIDs) is torchvision's class index order.

Box convention: the annotation files give integer pixel coordinates, taken here as 0-based and
inclusive (the ILSVRC devkit convention: a box covers columns ``xmin..xmax``, width
``xmax - xmin + 1``); coordinates past the image border are clipped to it. Boxes are mapped through
the model's preprocessing (:func:`transform_box`) and stored as floats, inclusive, in pixels of the
224×224 crop.
"""

from __future__ import annotations

import concurrent.futures
import csv
import logging
import os
import re
import xml.etree.ElementTree as ET
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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_JPEG = re.compile(r"^ILSVRC2012_val_\d+\.JPEG$", re.IGNORECASE)
_WNID = re.compile(r"^n\d{8}$")

Box = tuple[str, int, int, int, int]


def read_voc_xml(path: str | os.PathLike) -> tuple[int, int, list[Box]]:
    """``(width, height, [(wnid, xmin, ymin, xmax, ymax), ...])`` from an ILSVRC PASCAL-VOC XML file.

    Coordinates are returned as written (0-based inclusive pixels, see the module docstring).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise DataError(f"{path}: not a readable PASCAL-VOC XML file ({e})") from e
    try:
        size = root.find("size")
        width, height = int(size.findtext("width")), int(size.findtext("height"))
        boxes = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            boxes.append(
                (
                    obj.findtext("name").strip(),
                    *(int(round(float(bb.findtext(k)))) for k in ("xmin", "ymin", "xmax", "ymax")),
                )
            )
    except (AttributeError, TypeError, ValueError) as e:
        raise DataError(
            f"{path}: expected <size><width>/<height> and <object><name>, <bndbox><xmin>/<ymin>/<xmax>/<ymax> ({e})"
        ) from e
    return width, height, boxes


def read_loc_solution(csv_path: str | os.PathLike) -> dict[str, list[Box]]:
    """``{image_id: [(wnid, x0, y0, x1, y1), ...]}`` from Kaggle's ``LOC_val_solution.csv``."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(
            f"{csv_path}: no such file (expected Kaggle's LOC_val_solution.csv with columns ImageId, PredictionString)"
        )
    out: dict[str, list[Box]] = {}
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"ImageId", "PredictionString"} <= set(reader.fieldnames):
            raise DataError(f"{csv_path}: expected columns ImageId, PredictionString, got {reader.fieldnames}")
        for row in reader:
            tokens = row["PredictionString"].split()
            if len(tokens) % 5:
                raise DataError(
                    f"{csv_path}: {row['ImageId']}: PredictionString has {len(tokens)} fields "
                    "(expected groups of 'wnid x0 y0 x1 y1')"
                )
            try:
                out[row["ImageId"]] = [
                    (tokens[i], *(int(round(float(v))) for v in tokens[i + 1 : i + 5]))
                    for i in range(0, len(tokens), 5)
                ]
            except ValueError as e:
                raise DataError(f"{csv_path}: {row['ImageId']}: bad coordinates ({e})") from e
    return out


def read_synsets(path: str | os.PathLike) -> list[str]:
    """The WNIDs of ``LOC_synset_mapping.txt`` in file order; the class index is the line number.

    The WNIDs must be unique and sorted (torchvision's class order is the sorted WNIDs), else
    :class:`DataError`. Fewer than 1,000 are allowed (test fixtures, subsets).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected LOC_synset_mapping.txt: lines 'n01440764 tench, ...')")
    wnids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    bad = [w for w in wnids if not _WNID.match(w)]
    if bad:
        raise DataError(f"{path}: {bad[:3]} are not WNIDs (expected lines 'n01440764 tench, Tinca tinca')")
    if len(set(wnids)) != len(wnids):
        raise DataError(f"{path}: repeated WNIDs (expected each class once)")
    if wnids != sorted(wnids):
        raise DataError(f"{path}: WNIDs are not sorted (torchvision's class index is the sorted WNID order)")
    if not wnids:
        raise DataError(f"{path}: no WNIDs")
    if len(wnids) != 1000:
        log.warning("%s: %d classes, not ILSVRC's 1000", path, len(wnids))
    return wnids


def resized_size(width: int, height: int, resize: int = 256) -> tuple[int, int]:
    """``(new_width, new_height)`` of torchvision's ``Resize(resize)``: the shorter side becomes
    ``resize``, the longer ``int(resize * long / short)``."""
    if width <= height:
        return resize, int(resize * height / width)
    return int(resize * width / height), resize


def crop_offsets(width: int, height: int, crop: int = 224) -> tuple[int, int]:
    """``(left, top)`` of torchvision's ``CenterCrop(crop)`` on a ``width``×``height`` image:
    ``int(round((W - crop) / 2))`` (Python's round: halves go to the even number)."""
    return int(round((width - crop) / 2.0)), int(round((height - crop) / 2.0))


def transform_box(
    box: Sequence[float], width: int, height: int, resize: int = 256, crop: int = 224
) -> tuple[float, float, float, float] | None:
    """Map an inclusive box ``(x0, y0, x1, y1)`` of a ``width``×``height`` image through
    ``Resize(resize)`` + ``CenterCrop(crop)``; clip it to the crop; None if it falls outside.

    An inclusive box covers the continuous span ``[x0, x1 + 1)``; the resize scales spans by
    ``s_x = new_w / width`` (and ``s_y``), the crop shifts them by its offsets, and the result is
    written inclusive again: ``x0' = s_x * x0 - left``, ``x1' = s_x * (x1 + 1) - 1 - left``. So a
    box's width ``x1 - x0 + 1`` scales exactly by ``s_x``. The coordinates are floats.
    """
    if crop > resize:
        raise ConfigError(f"crop ({crop}) larger than resize ({resize}): expected crop <= resize")
    x0, y0, x1, y1 = (float(v) for v in box[-4:])
    new_w, new_h = resized_size(width, height, resize)
    sx, sy = new_w / width, new_h / height
    left, top = crop_offsets(new_w, new_h, crop)
    nx0, nx1 = sx * x0 - left, sx * (x1 + 1) - 1 - left
    ny0, ny1 = sy * y0 - top, sy * (y1 + 1) - 1 - top
    if nx1 + 1 <= 0 or ny1 + 1 <= 0 or nx0 >= crop or ny0 >= crop:
        return None
    return max(nx0, 0.0), max(ny0, 0.0), min(nx1, crop - 1.0), min(ny1, crop - 1.0)


def preprocess(path: str | os.PathLike, resize: int = 256, crop: int = 224) -> tuple[np.ndarray, int, int]:
    """``(uint8 [crop, crop, 3], width, height)``: the JPEG as RGB through torchvision's
    ``Resize(resize)`` (bilinear, PIL's antialiased resampling) and ``CenterCrop(crop)``."""
    from torchvision.transforms import InterpolationMode  # noqa: PLC0415  # torchvision: the table jobs import cameval.data
    from torchvision.transforms import functional as TF  # noqa: PLC0415  # as above

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")  # grayscale and CMYK JPEGs exist in ILSVRC val
    except Exception as e:  # PIL raises many types for broken files
        raise DataError(f"{path}: unreadable JPEG ({type(e).__name__}: {e})") from e
    width, height = im.size
    im = TF.center_crop(TF.resize(im, resize, interpolation=InterpolationMode.BILINEAR), [crop, crop])
    return np.asarray(im, dtype=np.uint8), width, height


def list_images(images_dir: str | os.PathLike) -> list[Path]:
    """The ``ILSVRC2012_val_*.JPEG`` files of ``images_dir``, sorted by name."""
    d = Path(images_dir)
    if not d.is_dir():
        raise ConfigError(f"images: no folder {d} (expected JPEGs named ILSVRC2012_val_*.JPEG)")
    files = sorted((p for p in d.iterdir() if _JPEG.match(p.name)), key=lambda p: p.name)
    if not files:
        raise ConfigError(f"images: no ILSVRC2012_val_*.JPEG in {d} (expected JPEGs named ILSVRC2012_val_*.JPEG)")
    return files


class _Annotations:
    """Boxes by image id from a folder of VOC XML files or a LOC_val_solution.csv."""

    def __init__(self, annotations: str | os.PathLike):
        self.path = Path(annotations)
        self.table: dict[str, list[Box]] | None = None
        if self.path.is_file():
            self.table = read_loc_solution(self.path)
        elif not self.path.is_dir():
            raise ConfigError(
                f"annotations: no folder or file {self.path} (expected a folder of "
                "ILSVRC2012_val_*.xml files or LOC_val_solution.csv)"
            )

    def boxes(self, image_id: str) -> tuple[int | None, int | None, list[Box]]:
        if self.table is not None:
            if image_id not in self.table:
                raise DataError(f"{self.path}: no row for {image_id} (expected one per image)")
            return None, None, self.table[image_id]
        xml = self.path / f"{image_id}.xml"
        if not xml.is_file():
            raise DataError(f"{xml}: missing annotation for {image_id} (expected one XML file per image)")
        return read_voc_xml(xml)


@dataclass(frozen=True)
class ImagenetSpec:
    """What an ILSVRC val set is built from and how (:func:`build_imagenet`): a ``datasets.<name>``
    entry of kind ``imagenet``; ``limit``: the first images by file name (all when None)."""

    images_dir: str | os.PathLike
    annotations: str | os.PathLike
    synsets: str | os.PathLike
    limit: int | None = None
    resize: int = 256
    crop: int = 224
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD

    @classmethod
    def from_entry(cls, entry: dict) -> ImagenetSpec:
        """The spec of config entry ``entry`` (schema defaults set)."""
        return cls(
            images_dir=entry["images"],
            annotations=entry["annotations"],
            synsets=entry["synsets"],
            limit=entry["limit"],
            resize=entry["resize"],
            crop=entry["crop"],
            mean=tuple(entry["mean"]),
            std=tuple(entry["std"]),
        )


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``imagenet`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``
    (no randomness: ``seed`` is not used; its ``dataset`` attribute says ``imagenet`` whatever ``name``)."""
    return build_imagenet(path_h5, path_manifest, ImagenetSpec.from_entry(entry))


def build_imagenet(
    path_h5: str | os.PathLike,
    path_manifest: str | os.PathLike,
    spec: ImagenetSpec,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Build the ILSVRC val image set and manifest (split ``val``) of ``spec``, streaming image by image.

    Images are taken sorted by file name, the first ``limit`` of them (all when None). Each
    goes through :func:`preprocess`; its boxes through :func:`transform_box` (boxes entirely
    cut off by the crop are dropped; the image is kept, with fewer or no boxes). The label is
    the index, in ``synsets``, of the WNID its boxes share; ``id`` is the file stem, ``source``
    the file name. ``workers`` threads decode JPEGs (PIL releases the GIL); the default uses up
    to 4. Returns a summary (images, boxes, boxes dropped by the crop).
    """
    images_dir, annotations, synsets, limit = spec.images_dir, spec.annotations, spec.synsets, spec.limit
    resize, crop, mean, std = spec.resize, spec.crop, spec.mean, spec.std
    if crop > resize:
        raise ConfigError(f"crop ({crop}) larger than resize ({resize}): expected crop <= resize")
    files = list_images(images_dir)
    if limit is not None:
        files = files[: int(limit)]
    wnids = read_synsets(synsets)
    index_of = {w: i for i, w in enumerate(wnids)}
    ann = _Annotations(annotations)

    # Check every annotation before decoding anything: a missing one fails in seconds, not hours.
    labelled = []
    for f in files:
        image_id = f.stem
        w, h, boxes = ann.boxes(image_id)
        where = f"{ann.path / (image_id + '.xml')}" if ann.table is None else f"{ann.path}: {image_id}"
        if not boxes:
            raise DataError(f"{where}: no boxes for {f.name} (expected at least one object)")
        classes = {b[0] for b in boxes}
        unknown = sorted(classes - set(index_of))
        if unknown:
            raise DataError(f"{where}: WNID(s) {unknown} not in {synsets}")
        if len(classes) > 1:
            raise DataError(
                f"{where}: boxes of several classes {sorted(classes)} (expected one class per ILSVRC val image)"
            )
        for b in boxes:
            if not (b[1] <= b[3] and b[2] <= b[4]) or (
                w is not None and (b[1] >= w or b[2] >= h or b[3] < 0 or b[4] < 0)
            ):
                raise DataError(
                    f"{where}: box {list(b)} is reversed or lies outside the {w}x{h} image "
                    "(expected xmin <= xmax, ymin <= ymax, overlapping the image)"
                )
        labelled.append((f, index_of[boxes[0][0]], w, h, boxes))

    workers = workers or min(4, os.cpu_count() or 1)
    attrs = {
        "dataset": "imagenet",
        "kind": "imagenet",
        "resize": int(resize),
        "crop": int(crop),
        "images_dir": str(images_dir),
        "annotations": str(annotations),
    }
    rows, n_boxes, dropped = [], 0, 0
    block = 64
    with (
        ImageSetWriter(path_h5, len(labelled), crop, crop, mean, std, attrs=attrs) as writer,
        concurrent.futures.ThreadPoolExecutor(workers) as pool,
        tqdm(total=len(labelled), desc="ILSVRC val", unit="img", disable=not progress) as bar,
    ):
        for b0 in range(0, len(labelled), block):
            chunk = labelled[b0 : b0 + block]
            results = pool.map(lambda item: preprocess(item[0], resize, crop), chunk)
            for i, ((f, label, xw, xh, boxes), (image, width, height)) in enumerate(
                zip(chunk, results, strict=True), start=b0
            ):
                if xw is not None and (xw, xh) != (width, height):
                    raise DataError(
                        f"{ann.path / (f.stem + '.xml')}: size {xw}x{xh} but {f} is "
                        f"{width}x{height} (expected the annotation of this JPEG)"
                    )
                out = []
                for _wnid, x0, y0, x1, y1 in boxes:
                    x0, x1 = max(0, x0), min(width - 1, x1)  # clip to the image (inclusive)
                    y0, y1 = max(0, y0), min(height - 1, y1)
                    t = transform_box((x0, y0, x1, y1), width, height, resize, crop) if x0 <= x1 and y0 <= y1 else None
                    if t is None:
                        dropped += 1
                    else:
                        out.append([label, *t])
                n_boxes += len(out)
                writer.write(i, image, f.stem)
                rows.append({"id": f.stem, "split": "val", "index": i, "label": label, "source": f.name, "boxes": out})
                bar.update(1)
        write_manifest(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), path_manifest)
    summary = {"images": len(rows), "boxes": n_boxes, "boxes_outside_crop": dropped}
    log.info("ILSVRC val: %d images, %d boxes kept, %d outside the %d px crop", len(rows), n_boxes, dropped, crop)
    if dropped:
        log.warning("%d boxes fell entirely outside the centre crop and were dropped", dropped)
    return summary
