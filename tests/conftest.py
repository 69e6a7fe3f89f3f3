"""Shared fixtures: small, seeded inputs in the real formats, made by code."""

from __future__ import annotations

import numpy as np
import pytest


# --- ILSVRC2012 val in its distributed formats (cameval.data.imagenet) -------------------------

TINY_IMAGENET_SYNSETS = [
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
    ("n01484850", "great white shark, white shark, man-eater"),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"),
    ("n01494475", "hammerhead, hammerhead shark"),
]
# file number -> (width, height, PIL mode, wnid, boxes as 0-based inclusive (xmin, ymin, xmax, ymax))
TINY_IMAGENET_IMAGES = {
    1: (512, 384, "RGB", "n01443537", [(100, 60, 399, 299)]),
    2: (300, 450, "RGB", "n01494475", [(30, 40, 149, 239), (160, 250, 289, 439)]),
    3: (256, 256, "L", "n01440764", [(0, 0, 255, 255)]),  # grayscale JPEG
    4: (640, 200, "CMYK", "n01484850", [(0, 10, 50, 120), (300, 50, 420, 180)]),  # first box is cut off by the crop
}


def _voc_xml(name: str, width: int, height: int, wnid: str, boxes) -> str:
    objects = "".join(
        f"\t<object>\n\t\t<name>{wnid}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n"
        f"\t\t\t<xmax>{x1}</xmax>\n\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for x0, y0, x1, y1 in boxes
    )
    return (f"<annotation>\n\t<folder>val</folder>\n\t<filename>{name}</filename>\n\t<source>\n"
            f"\t\t<database>ILSVRC_2012</database>\n\t</source>\n\t<size>\n\t\t<width>{width}</width>\n"
            f"\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
            f"{objects}</annotation>\n")


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory):
    """A tiny ILSVRC2012 val tree: JPEGs (RGB, grayscale, CMYK; several aspect ratios), one VOC XML
    per image, the same boxes as Kaggle's LOC_val_solution.csv, and LOC_synset_mapping.txt.

    Each image is dark noise with its boxes filled bright, so where a box lands after
    preprocessing can be seen in the pixels. Returns a dict of paths plus the ground truth.
    """
    from PIL import Image

    root = tmp_path_factory.mktemp("ilsvrc")
    images, xml, rng = root / "val", root / "bbox_val", np.random.default_rng(0)
    images.mkdir()
    xml.mkdir()
    rows = []
    for k, (width, height, mode, wnid, boxes) in TINY_IMAGENET_IMAGES.items():
        name = f"ILSVRC2012_val_{k:08d}"
        pixels = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
        for x0, y0, x1, y1 in boxes:
            pixels[y0 : y1 + 1, x0 : x1 + 1] = 230
        im = Image.fromarray(pixels, "RGB")
        im = im.convert(mode) if mode != "RGB" else im
        im.save(images / f"{name}.JPEG", quality=95)
        (xml / f"{name}.xml").write_text(_voc_xml(name, width, height, wnid, boxes))
        rows.append(f"{name}," + "".join(f"{wnid} {x0} {y0} {x1} {y1} " for x0, y0, x1, y1 in boxes))
    (images / "README.txt").write_text("not an image\n")  # ignored: not ILSVRC2012_val_*.JPEG
    solution = root / "LOC_val_solution.csv"
    solution.write_text("ImageId,PredictionString\n" + "\n".join(rows[::-1]) + "\n")  # Kaggle's rows are unsorted
    synsets = root / "LOC_synset_mapping.txt"
    synsets.write_text("".join(f"{w} {n}\n" for w, n in TINY_IMAGENET_SYNSETS))
    return {"root": root, "images": images, "xml": xml, "csv": solution, "synsets": synsets,
            "truth": TINY_IMAGENET_IMAGES}
