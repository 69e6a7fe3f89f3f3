"""Compute one heatmap shard: the rows ``[start, stop)`` of a dataset's evaluation split.

This is the costly step of the pipeline; everything downstream reads its shards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from cameval import batches, metrics
from cameval.data.images import ImageSet
from cameval.data.manifest import check_manifest
from cameval.errors import ConfigError, DataError
from cameval.explain import combine_guided_gradcam, default_layer, explain_targets, logits_of, uses_layer
from cameval.methods import kind as method_kind
from cameval.models.densenet import class_map, map_labels, resolve_layer
from cameval.pixels import normalize
from cameval.store import Shard, provenance, write_shard

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


def check_map_shape(maps: torch.Tensor, kind: str, x_shape, where: str, method: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` (the heatmap set), ``method`` and the shape expected
    unless ``maps`` ``[N, K, ...]`` (K targets per image) are of ``kind`` for inputs of ``x_shape``
    ``[N, C, H, W]``: ``cam`` one map per target at a layer's grid, ``[N, h, w]`` with ``h <= H`` and
    ``w <= W`` (occlusion too: its grid of patch centres, ``stride`` apart); ``pixel`` ``[N, C, H, W]``
    at the input's size."""
    n, c, h, w = (int(v) for v in x_shape)
    got = (int(maps.shape[0]), *(int(v) for v in maps.shape[2:])) if maps.ndim >= 2 else tuple(maps.shape)
    if kind == "pixel":
        ok, want = got == (n, c, h, w), f"[{n}, {c}, {h}, {w}] (a value per input pixel and channel)"
    else:
        ok = len(got) == 3 and got[0] == n and 1 <= got[1] <= h and 1 <= got[2] <= w
        grid = "the layer's grid" if kind == "cam" else "the grid of patch centres"
        want = f"[{n}, h, w] with h <= {h} and w <= {w} (one map per image at {grid})"
    if not ok:
        raise ConfigError(
            f"{where}: method {method} (kind {kind}) returned maps of shape {list(got)} for a batch of "
            f"{list(x_shape)}, expected {want}; nothing was written"
        )


def fill_in_input_space(fill_pixel, mean, std) -> list[float]:
    """A gray given in the image's pixel space [0, 1] as the model sees it: (v - mean) / std
    (:func:`cameval.pixels.normalize`), one value per channel."""
    fill = np.broadcast_to(np.asarray(fill_pixel, dtype=float), (len(mean),))
    return list(normalize(fill, mean, std, channel_axis=-1))


@dataclass(frozen=True)
class ShardJob:
    """One heatmap shard to compute: rows ``[start, stop)`` of the evaluation split ``split``, shard number
    ``shard`` of ``dataset``, explained with ``method`` and its keyword arguments ``params`` (for occlusion
    ``fill`` is given in pixel space, 0–1) for the classes ``targets`` (:func:`select_targets`) at ``layer``
    (None: the model's default; an alias of :data:`cameval.models.densenet.LAYER_ALIASES` is resolved),
    ``batch_size`` images at a time.

    ``expected``: the rows of ``split`` the config promises (the manifest is checked against it).
    ``made_by``: what makes the maps as the config resolves it (``heatmap_spec`` of
    workflow/rules/common.smk: set, method, params, layer, targets, kind, your method's source digest),
    recorded with the model's and the manifest rows' digests (:func:`cameval.store.provenance`);
    default: method, params, layer and targets as given here."""

    method: str
    targets: str
    split: str
    start: int
    stop: int
    params: dict = field(default_factory=dict)
    layer: str | None = None
    batch_size: int = 32
    dataset: str = ""
    shard: int = 0
    expected: int | None = None
    made_by: dict | None = None


def compute_shard(
    weights: str,
    images: str,
    manifest: str,
    out: str,
    job: ShardJob,
    *,
    device: str = "cpu",
    progress: bool = True,
    model_classes: list[str] | None = None,
    model_name: str = "model",
) -> None:
    """Explain the rows of ``job`` (:class:`ShardJob`) and write the shard ``out``.

    The manifest is checked against ``job.expected``, against ``images`` and against the model's
    class count before anything is computed. ``model_classes``: the model's output names (its config
    entry ``models.<model_name>.classes``); when given, a ``label`` target is the unit *named* like the
    row's class in the dataset's ``classes`` (an absent finding is a ConfigError); the shard's
    ``labels`` stay dataset classes, its ``targets`` are output units. The maps of each batch are
    checked against the method's kind (:func:`check_map_shape`) before anything is written.
    """
    method, targets, split, start, stop, shard = job.method, job.targets, job.split, job.start, job.stop, job.shard
    params, layer, spec = job.params, job.layer, job.made_by
    if spec is None:
        spec = {"method": method, "params": params or {}, "layer": layer or "", "targets": targets}
    where = f"heatmaps.{spec['set']}" if spec.get("set") else str(out)
    kind = method_kind(method, spec.get("kind") or None)
    params = dict(params or {})
    with ImageSet(images) as imgs:
        model, rows = batches.load(
            weights, manifest, split, start, stop, device=device, images=imgs, expected=job.expected, shard=shard
        )
        if method == "occlusion":
            params["fill"] = fill_in_input_space(params.get("fill", 0.5), imgs.mean, imgs.std)
        labels = torch.as_tensor(rows["label"].to_numpy(copy=True), dtype=torch.long)
        units = labels
        if model_classes is not None:
            names = imgs.attrs.get("classes")
            if not names:
                raise ConfigError(f"models.{model_name}.classes: {images} names no classes to match them with")
            mapping = class_map(names, model_classes, f"models.{model_name}")
            units = torch.as_tensor(map_labels(labels.numpy(), mapping, names, model_classes, f"models.{model_name}"))
    layer = resolve_layer(model, layer)
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
    input_size = []  # [H, W], from the first batch

    def step(model, batch: batches.Batch) -> dict:
        with torch.no_grad():
            logits = logits_of(model(batch.x))
        if not input_size:  # the model's class count is known from its first output
            check_manifest(rows, manifest, num_classes=logits.shape[1])
            input_size.extend(batch.x.shape[-2:])
        t = select_targets(logits, units[batch.positions].to(device), targets)
        m, _ = explain_targets(model, batch.x, t, method, layer=layer, **params)
        check_map_shape(m, kind, batch.x.shape, where, method)
        return {"maps": m, "targets": t, "scores": logits}

    t0 = time.perf_counter()
    got = batches.run(
        model,
        images,
        rows,
        step,
        batch_size=job.batch_size,
        device=device,
        desc=f"{method} shard {shard}",
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    log.info("%s: %d images in %.1f s (%.3f s/image)", out, len(rows), seconds, seconds / len(rows))
    ids = rows["id"].tolist()
    write_shard(
        out,
        ids=ids,
        labels=labels.numpy(),
        targets=got["targets"],
        scores=got["scores"],
        maps=got["maps"],
        attrs={
            "method": method,
            "layer": layer or "",
            "params": params,
            "targets_spec": targets,
            **provenance(weights, manifest, ids, spec),
            "dataset": job.dataset,
            "split": split,
            "shard": shard,
            "rows": [start, start + len(rows)],
            "seconds": seconds,
            "input_size": input_size,
            "model_classes": model_classes or [],
        },
    )


# --- one map per image and set, at the input's size: what the sanity and deletion experiments compare ---

#: the column of the seeded random map (the floor a method has to beat) and of the Guided Grad-CAM
#: formed from a Grad-CAM and a Guided Backprop set, beside the sets' own columns
RANDOM, GUIDED_GRADCAM = "random", "guided_gradcam"


def input_maps(maps, size: tuple[int, int], reduce: str) -> np.ndarray:
    """Maps ``[N, h, w]`` (CAM-type, at a layer's grid: upsampled bilinearly to ``size``, as every
    table upsamples them) or ``[N, C, H, W]`` (pixel-type: reduced to one channel with ``reduce``,
    :func:`cameval.metrics.reduce_channels`, as Table 3 reduces them), as float32 ``[N, H, W]``."""
    m = np.asarray(maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else maps, dtype=np.float64)
    if m.ndim == 3:
        out = [metrics.upsample_map(a, size) for a in m]
    elif m.ndim == 4:
        out = [metrics.reduce_channels(a, reduce) for a in m]
    else:
        raise ValueError(f"maps: shape {list(m.shape)}, expected [N, h, w] or [N, C, H, W]")
    return np.stack(out).astype(np.float32) if out else np.zeros((0, *size), np.float32)


def random_maps(rows, size: tuple[int, int], seed: int, step: int = 0) -> np.ndarray:
    """The seeded random map of each image: uniform on [0, 1) at ``size``, drawn by a generator
    seeded by ``(seed, the image's row in its image set, step)`` — the same map for an image in any
    job, a new one for each ``step`` (the sanity experiment's randomization steps)."""
    return np.stack([np.random.default_rng([int(seed), int(i), int(step)]).random(size) for i in rows], axis=0).astype(
        np.float32
    )


def first_maps(shard_paths: dict[str, list[str]], n_images: int, expect: dict | None = None) -> dict:
    """The first ``n_images`` rows of each heatmap set's shards (``{set: [paths in shard order]}``),
    each image's first map (the top-1 class's where the set's targets start with topK):
    ``{"ids", "targets" [N], "layers" {set: layer}, "maps" {set: [N, ...]}}``. Every set must hold
    the same images in the same order and explain the same class for each, else a DataError names
    the shard; ``expect`` (``{set: cameval.store.Expect}``) is what each set's shards must have been
    made from (the model file, the spec, the manifest), checked as each is opened."""
    expect = expect or {}
    ids, targets, layers, maps = None, None, {}, {}
    for name, paths in shard_paths.items():
        got_ids, got_t, got_m = [], [], []
        for path in paths:
            with Shard(path, expect.get(name)) as s:
                k = min(len(s), n_images - len(got_ids))
                if k <= 0:
                    break
                got_ids += s.ids[:k]
                got_t.append(np.asarray(s.targets)[:k, 0])
                got_m.append(np.asarray(s.maps[:k])[:, 0])
                layers[name] = str(s.attrs.get("layer") or "") or None
        if len(got_ids) < n_images:
            raise DataError(f"{paths}: the shards of {name} hold {len(got_ids)} images, {n_images} were asked for")
        t = np.concatenate(got_t).astype(np.int64)
        if ids is None:
            ids, targets = got_ids, t
        elif got_ids != ids or not np.array_equal(t, targets):
            raise DataError(
                f"{paths[0]}: {name} explains other images or classes than {next(iter(shard_paths))} "
                "(expected the same first images of the evaluation split, each for its top-1 class)"
            )
        maps[name] = np.concatenate(got_m)
    return {"ids": ids or [], "targets": targets, "layers": layers, "maps": maps}


def set_maps(
    model, x: torch.Tensor, targets: torch.Tensor, spec: dict, layer: str | None, explainer=explain_targets
) -> torch.Tensor:
    """One heatmap set's maps of ``targets`` ``[N]`` on ``model`` (any copy of the network: a
    randomized one, the shuffled-label twin), as the heatmaps stage computes them: the set's method
    and parameters, at ``layer`` (the layer its shards explain) where the method explains one.
    ``explainer``: :func:`cameval.explain.explain_targets` or a function that gives the same maps
    (a randomization step's, :meth:`cameval.metrics.cascade.RandomizedStep.explain_targets`).
    Returns ``[N, h, w]`` or ``[N, C, H, W]`` (the first and only target of each image)."""
    method = spec["method"]
    m, _ = explainer(
        model, x, targets[:, None], method, layer=layer if uses_layer(method) else None, **spec.get("params", {})
    )
    return m[:, 0].detach()


def with_guided_gradcam(maps: dict, methods: dict[str, str]) -> dict:
    """``maps`` (``{set: raw maps}``, ``methods``: ``{set: method}``) with Guided Grad-CAM formed as
    Table 3 forms it (Guided Backprop ⊙ upsampled Grad-CAM, :func:`combine_guided_gradcam`) from the
    first Grad-CAM and the first Guided Backprop set, where both are there and no set is Guided Grad-CAM."""
    cam = next((s for s, m in methods.items() if m == "gradcam"), None)
    gbp = next((s for s, m in methods.items() if m == "guided_backprop"), None)
    if cam is None or gbp is None or GUIDED_GRADCAM in methods.values() or GUIDED_GRADCAM in maps:
        return maps
    out = dict(maps)
    out[GUIDED_GRADCAM] = combine_guided_gradcam(torch.as_tensor(maps[gbp]), torch.as_tensor(maps[cam]))
    return out
