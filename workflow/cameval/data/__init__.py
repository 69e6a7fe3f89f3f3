"""Datasets → ``images.h5`` (uint8 images, normalization attributes) and ``manifest.csv`` (boxes).

Box convention everywhere: ``(x0, y0, x1, y1)`` inclusive pixels of the stored image; images and
maps are indexed ``[y, x]``. See :mod:`cameval.data.images` and :mod:`cameval.data.manifest`.

The names below are imported on first use, not with the package: a job that reads an image set or
asks :mod:`cameval.data.kinds` about a dataset does not pay for the builders' imports (PIL, tqdm).
"""

from __future__ import annotations

import importlib

#: exported name -> the module that defines it
_EXPORTS = {
    "IMAGENET_MEAN": "cameval.data.imagenet",
    "IMAGENET_STD": "cameval.data.imagenet",
    "ImageSet": "cameval.data.images",
    "ImageSetWriter": "cameval.data.images",
    "build_imagenet": "cameval.data.imagenet",
    "make_digits_loc": "cameval.data.digits",
    "read_loc_solution": "cameval.data.imagenet",
    "read_manifest": "cameval.data.manifest",
    "read_synsets": "cameval.data.imagenet",
    "read_voc_xml": "cameval.data.imagenet",
    "transform_box": "cameval.data.imagenet",
    "write_manifest": "cameval.data.manifest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cameval.data' has no attribute {name!r}")
