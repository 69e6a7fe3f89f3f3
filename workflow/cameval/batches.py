"""The one batch driver of the costly stages: heatmap shards, FGSM, one-pixel attacks, class maps.

Each of them loads a model and rows of the evaluation split (:func:`load`), runs its own ``step``
over the rows in batches (:func:`run`) and hands the collected arrays to its writer, which writes
atomically (:func:`cameval.io.atomic_path`)::

    model, rows = load(weights, manifest, split, start, stop, device=device)
    out = run(model, images, rows, step, batch_size=16, device=device, desc="fgsm")
    write(out)  # the stage's own file layout

``step(model, batch) -> {name: array}`` returns arrays whose first axis is the batch's images (or
several of them per image, or none: the driver only concatenates); :func:`run` concatenates each
name over the batches in order. A :class:`Batch` holds its rows, the stored uint8 images, the
images in pixel space ``[0, 1]`` and normalized as the model sees them, ``x = (pixel − mean) / std``
(:meth:`cameval.data.images.ImageSet.tensor`, the same numbers).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cameval.data.images import ImageSet
from cameval.data.manifest import check_manifest, read_manifest
from cameval.data.multilabel import explode_findings, is_multilabel
from cameval.errors import ConfigError, DataError
from cameval.logs import batch_images
from cameval.models import load_model
from cameval.pixels import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """Consecutive rows of a stage's rows, and their images.

    ``offset``: the position of the first row among the rows given to :func:`run` (the batch is
    ``rows[offset : offset + len(batch)]``); ``clean``: uint8 ``[B, H, W, C]`` as stored;
    ``pixels``: float32 ``[B, C, H, W]``, ``clean / 255``; ``x``: ``normalize(pixels)``, contiguous.
    """

    rows: pd.DataFrame
    offset: int
    clean: np.ndarray
    pixels: torch.Tensor
    x: torch.Tensor
    mean: torch.Tensor  # [1, C, 1, 1], on the batch's device
    std: torch.Tensor

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def positions(self) -> slice:
        """This batch's rows among the rows given to :func:`run`."""
        return slice(self.offset, self.offset + len(self))

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel-space images ``[B, C, H, W]`` (an attacked copy, say) as the model sees them:
        ``(pixels − mean) / std`` (:func:`cameval.pixels.normalize`), in the layout ``pixels`` has."""
        return normalize(pixels, self.mean, self.std)


def eval_rows(
    manifest_path: str | os.PathLike, split: str, expected: int | None = None, images: ImageSet | None = None
):
    """The evaluation split of a manifest, in order (this order defines the shards).

    ``expected``: the rows of ``split`` the config promises (the shard count was fixed from it at
    parse time); ``images``: the image set the manifest describes. Both are checked with
    :func:`cameval.data.manifest.check_manifest`. Multi-label manifests (ChestX-ray14, digits-multi)
    give one row per (image, boxed finding), ``label`` set to the finding
    (:func:`cameval.data.multilabel.explode_findings`); ``expected`` then counts those rows.
    """
    manifest = read_manifest(manifest_path)
    multilabel = is_multilabel(manifest)
    check_manifest(
        manifest, manifest_path, images=images, counts=None if expected is None or multilabel else {split: expected}
    )
    rows = manifest[manifest["split"] == split].reset_index(drop=True)
    if multilabel:
        rows = explode_findings(rows)
        if expected is not None and len(rows) != expected:
            raise DataError(
                f"{manifest_path}: {len(rows)} (image, boxed finding) rows in split {split!r}, "
                f"expected {expected} (the shard count was fixed from the config at parse time)"
            )
    if rows.empty:
        raise ConfigError(f"eval_split: no rows with split {split!r} in {manifest_path}")
    return rows


def load(
    weights: str,
    manifest: str | os.PathLike,
    split: str,
    start: int = 0,
    stop: int | None = None,
    *,
    device: str = "cpu",
    images: ImageSet | None = None,
    expected: int | None = None,
    shard: int | None = None,
    error: type[Exception] = ConfigError,
) -> tuple[torch.nn.Module, pd.DataFrame]:
    """The model (on ``device``) and rows ``[start, stop)`` of ``split``.

    The rows come from :func:`eval_rows`, which checks the manifest (against
    ``images`` and the ``expected`` row count where given). No rows left is an ``error`` naming
    ``shard`` when given.
    """
    model = load_model(weights).to(device)
    rows = eval_rows(manifest, split, expected=expected, images=images).iloc[start:stop]
    if rows.empty:
        where = f"shard {shard}: rows {start}..{stop}" if shard is not None else f"rows {start}..{stop}"
        raise error(f"{where} are past the end of split {split!r} in {manifest}")
    return model, rows


def run(
    model: torch.nn.Module,
    images: str | os.PathLike,
    rows: pd.DataFrame,
    step: Callable[[torch.nn.Module, Batch], dict],
    *,
    batch_size: int,
    device: str = "cpu",
    desc: str = "batches",
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """``step(model, batch)`` on consecutive batches of ``batch_size`` of ``rows`` (in order), with a
    progress bar over the images and a log line per batch; each name the steps return, its arrays
    concatenated along the first axis (tensors are moved to the CPU first).

    Images are read from the image set ``images`` at the rows' ``index`` and normalized on the CPU
    (then moved to ``device``), exactly as :meth:`cameval.data.images.ImageSet.tensor` does.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: {batch_size}, expected at least 1")
    parts: dict[str, list[np.ndarray]] = {}
    index = rows["index"].to_numpy()
    t0 = time.perf_counter()
    with (
        ImageSet(images) as imgs,
        tqdm(total=len(rows), desc=desc, unit="img", disable=not progress) as bar,
    ):
        mean = torch.as_tensor(imgs.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.as_tensor(imgs.std, dtype=torch.float32).view(1, -1, 1, 1)
        dev_mean, dev_std = mean.to(device), std.to(device)
        for b0 in range(0, len(rows), batch_size):
            clean = imgs.uint8(index[b0 : b0 + batch_size])
            pixels = torch.as_tensor(clean, dtype=torch.float32).permute(0, 3, 1, 2) / 255
            x = normalize(pixels, mean, std).contiguous()
            batch = Batch(
                rows=rows.iloc[b0 : b0 + batch_size],
                offset=b0,
                clean=clean,
                pixels=pixels.to(device),
                x=x.to(device),
                mean=dev_mean,
                std=dev_std,
            )
            with batch_images(batch.rows["id"] if "id" in batch.rows else batch.rows.index, b0):
                found = step(model, batch)
            for name, value in found.items():
                if isinstance(value, torch.Tensor):
                    value = value.detach().cpu().numpy()
                parts.setdefault(name, []).append(np.asarray(value))
            bar.update(len(batch))
            log.info("%s: %d/%d images, %.1f s", desc, b0 + len(batch), len(rows), time.perf_counter() - t0)
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}
