"""Datasets → ``images.h5`` (uint8 images, normalization attributes) and ``manifest.csv`` (boxes).

Box convention everywhere: ``(x0, y0, x1, y1)`` inclusive pixels of the stored image; images and
maps are indexed ``[y, x]``. See :mod:`cameval.data.images` and :mod:`cameval.data.manifest`.
"""

from cameval.data.digits import make_digits_loc
from cameval.data.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_imagenet,
    read_loc_solution,
    read_synsets,
    read_voc_xml,
    transform_box,
)
from cameval.data.images import ImageSet, ImageSetWriter
from cameval.data.manifest import read_manifest, write_manifest

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageSet",
    "ImageSetWriter",
    "build_imagenet",
    "make_digits_loc",
    "read_loc_solution",
    "read_manifest",
    "read_synsets",
    "read_voc_xml",
    "transform_box",
    "write_manifest",
]
