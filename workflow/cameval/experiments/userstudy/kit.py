"""The kit's stimuli without torch: the raters' class names, the seeded sample of images, the cached
maps read from the heatmap shards, and the pictures as PNG bytes (the maps themselves are formed in
:mod:`.compute`)."""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from cameval.data.kinds import class_names as dataset_class_names
from cameval.errors import DataError
from cameval.store import Expect, Shard, check_shards

log = logging.getLogger(__name__)


def class_names(dataset: dict, num_classes: int) -> list[str]:
    """Names raters see: the dataset's (:func:`cameval.data.kinds.class_names`), else ``digit k``."""
    return dataset_class_names(dataset) or [f"digit {k}" for k in range(num_classes)]


def sample_images(correct: list[str], n_images: int, seed: int) -> list[str]:
    """A seeded random sample (without replacement, in pool order) of ``n_images`` ids out of
    ``correct``; all of them, with a warning, when fewer are available."""
    if not correct:
        raise DataError(
            "user study: no image of the pool is classified correctly by both models "
            "(expected at least one; enlarge table4.pool)"
        )
    if len(correct) < n_images:
        log.warning(
            "user study: only %d images of the pool are classified correctly by both models, %d asked",
            len(correct),
            n_images,
        )
        n_images = len(correct)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(correct), size=n_images, replace=False))
    return [correct[i] for i in pick]


def load_maps(
    gbp_files: list[str],
    cam_files: list[str],
    pool: int,
    expected: dict | None = None,
    expect: dict[str, Expect] | None = None,
    made_by: list | None = None,
) -> dict:
    """Per image id of the first ``pool`` images: label, top-1 class, Guided Backprop [C,H,W] and
    the top-1 Grad-CAM [h,w] read from the cached shards, after checking that each set of shards
    covers its rows once (``expected["gbp"]``, ``expected["cam"]``: the rows the config implies)
    and was made from what ``expect["gbp"]``, ``expect["cam"]`` say (:class:`cameval.store.Expect`).
    ``made_by``: where given, each shard's digests (model, manifest rows, spec) are appended to it."""
    expected, expect = expected or {}, expect or {}
    check_shards(gbp_files, expected.get("gbp"), expect.get("gbp"))
    check_shards(cam_files, expected.get("cam"), expect.get("cam"))
    if made_by is not None:
        for f in (*gbp_files, *cam_files):
            with Shard(f) as s:
                made_by.append([s.attrs.get(k, "") for k in ("model_digest", "manifest_digest", "spec_digest")])
    out: dict = {}
    for f in gbp_files:
        with Shard(f) as s:
            for i, image_id in enumerate(s.ids):
                if len(out) < pool:
                    out[image_id] = {"label": int(s.labels[i]), "top1": int(s.targets[i, 0]), "gbp": s.maps[i, 0]}
    cams: dict = {}
    for f in cam_files:
        with Shard(f) as s:
            for i, image_id in enumerate(s.ids):
                if image_id in out and image_id not in cams:
                    if int(s.targets[i, 0]) != out[image_id]["top1"]:
                        raise DataError(
                            f"{f}: image {image_id}: Grad-CAM's first target {int(s.targets[i, 0])} is not "
                            f"the top-1 class {out[image_id]['top1']} of the Guided Backprop shard"
                        )
                    cams[image_id] = s.maps[i, 0]
    lost = [i for i in out if i not in cams]
    if lost:
        raise DataError(f"{cam_files}: no Grad-CAM for images {lost[:3]} (expected shards covering the pool)")
    for image_id, rec in out.items():
        rec["cam"] = cams[image_id]
    return out


def to_png(rgb: np.ndarray, size: int) -> bytes:
    """RGB [H, W, 3] in [0, 1] or uint8 as PNG bytes, the longer side scaled to ``size`` px."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    scale = size / max(im.size)
    im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
