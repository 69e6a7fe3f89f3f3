"""Compute one heatmap shard: the rows ``[start, stop)`` of a dataset's evaluation split.

This is the costly step of the pipeline; everything downstream reads its shards.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from cameval.data.images import ImageSet, check_manifest, read_manifest
from cameval.data.multilabel import explode_findings, is_multilabel
from cameval.errors import ConfigError, DataError
from cameval.explain import default_layer, explain_targets, logits_of, uses_layer
from cameval.models import load_model, model_digest
from cameval.models.densenet import class_map, map_labels, resolve_layer
from cameval.store import write_shard

log = logging.getLogger(__name__)


def select_targets(logits: torch.Tensor, labels: torch.Tensor, spec: str) -> torch.Tensor:
    """Classes to explain per image, ``[N, K]``, from a spec such as ``top5``, ``label`` or
    ``top5+label`` (columns in that order: the top-k predictions by score, then the label)."""
    cols = []
    for part in spec.split("+"):
        if part == "label":
            cols.append(labels[:, None])
        elif part.startswith("top") and part[3:].isdigit() and int(part[3:]) >= 1:
            cols.append(logits.topk(int(part[3:]), dim=1).indices)
        else:
            raise ConfigError(f"targets: {spec!r}: expected 'topK', 'label' or both joined by '+'")
    return torch.cat(cols, dim=1)


def eval_rows(
    manifest_path: str | os.PathLike, split: str, expected: int | None = None, images: ImageSet | None = None
):
    """The evaluation split of a manifest, in order (this order defines the shards).

    ``expected``: the rows of ``split`` the config promises (the shard count was fixed from it at
    parse time); ``images``: the image set the manifest describes. Both are checked with
    :func:`cameval.data.images.check_manifest`. Multi-label manifests (ChestX-ray14, digits-multi)
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


def fill_in_input_space(fill_pixel, mean, std) -> list[float]:
    """A gray given in the image's pixel space [0, 1] as the model sees it: (v - mean) / std."""
    fill = np.broadcast_to(np.asarray(fill_pixel, dtype=float), (len(mean),))
    return list((fill - np.asarray(mean)) / np.asarray(std))


def compute_shard(
    weights: str,
    images: str,
    manifest: str,
    out: str,
    *,
    split: str,
    start: int,
    stop: int,
    method: str,
    targets: str,
    params: dict | None = None,
    layer: str | None = None,
    batch_size: int = 32,
    dataset: str = "",
    shard: int = 0,
    progress: bool = True,
    device: str = "cpu",
    expected: int | None = None,
    model_classes: list[str] | None = None,
    model_name: str = "model",
) -> None:
    """Explain rows ``[start, stop)`` of ``split`` with ``method`` and write the shard ``out``.

    ``params`` are the method's keyword arguments; for occlusion ``fill`` is given in pixel
    space (0–1) and converted here with the dataset's normalization. ``expected``: the rows of
    ``split`` the config promises; the manifest is checked against it, against ``images`` and
    against the model's class count before anything is computed. ``layer`` may be an alias
    of :data:`cameval.models.densenet.LAYER_ALIASES`. ``model_classes``: the model's output
    names; when given, a ``label`` target is the unit *named* like the row's class in the
    dataset's ``classes`` (an absent finding is a ConfigError); the shard's ``labels`` stay
    dataset classes, its ``targets`` are output units.
    """
    params = dict(params or {})
    model = load_model(weights).to(device)
    layer = resolve_layer(model, layer)
    with ImageSet(images) as imgs:
        rows = eval_rows(manifest, split, expected=expected, images=imgs).iloc[start:stop]
    if rows.empty:
        raise ConfigError(f"shard {shard}: rows {start}..{stop} are past the end of split {split!r} in {manifest}")
    if uses_layer(method):
        given = layer
        layer = layer or default_layer(model)
        log.info(
            "%s: explaining layer %s of %s (%s)",
            method,
            layer,
            type(model).__name__,
            "given in the config" if given else "the default found from the architecture; set layer: to override",
        )
    maps, targets_all, scores, t0 = [], [], [], time.perf_counter()
    with (
        ImageSet(images) as imgs,
        tqdm(total=len(rows), desc=f"{method} shard {shard}", unit="img", disable=not progress) as bar,
    ):
        n_classes = None
        if method == "occlusion":
            params["fill"] = fill_in_input_space(params.get("fill", 0.5), imgs.mean, imgs.std)
        index = rows["index"].to_numpy()
        labels = torch.as_tensor(rows["label"].to_numpy(copy=True), dtype=torch.long)
        units = labels
        if model_classes is not None:
            names = imgs.attrs.get("classes")
            if not names:
                raise ConfigError(f"models.{model_name}.classes: {images} names no classes to match them with")
            mapping = class_map(names, model_classes, f"models.{model_name}")
            units = torch.as_tensor(map_labels(labels.numpy(), mapping, names, model_classes, f"models.{model_name}"))
        for b0 in range(0, len(rows), batch_size):
            x = imgs.tensor(index[b0 : b0 + batch_size]).to(device)
            with torch.no_grad():
                logits = logits_of(model(x))
            if n_classes is None:
                n_classes = logits.shape[1]
                check_manifest(rows, manifest, num_classes=n_classes)
            t = select_targets(logits, units[b0 : b0 + batch_size].to(device), targets)
            m, _ = explain_targets(model, x, t, method, layer=layer, **params)
            maps.append(m.detach().cpu().numpy())
            targets_all.append(t.cpu().numpy())
            scores.append(logits.cpu().numpy())
            size = list(x.shape[-2:])
            bar.update(len(x))
    seconds = time.perf_counter() - t0
    log.info("%s: %d images in %.1f s (%.3f s/image)", out, len(rows), seconds, seconds / len(rows))
    write_shard(
        out,
        ids=rows["id"].tolist(),
        labels=labels.numpy(),
        targets=np.concatenate(targets_all),
        scores=np.concatenate(scores),
        maps=np.concatenate(maps),
        attrs={
            "method": method,
            "layer": layer or "",
            "params": params,
            "targets_spec": targets,
            "model_digest": model_digest(weights),
            "dataset": dataset,
            "split": split,
            "shard": shard,
            "rows": [start, start + len(rows)],
            "seconds": seconds,
            "input_size": size,
            "model_classes": model_classes or [],
        },
    )
