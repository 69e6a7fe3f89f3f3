"""The sanity experiment's torch work: every method's maps on each randomized copy of a model and on
its shuffled-label twin, cached in one HDF5 file per model (written atomically), then the
similarity rows (:mod:`.rows`). The only module of the package that imports torch.

Cache layout (``results/maps/sanity/{dataset}/{model}.h5``): ``ids`` [N], ``rows`` [N] (the images'
rows in the image set), ``targets`` [N] (the class explained: each image's top-1 class, as the
shards explain it), ``images`` uint8 [N, H, W, C]; ``original`` float32 [S, N, H, W] (the unchanged
model's maps, read from the heatmap shards), per mode ``{mode}`` [K, S, N, H, W] (step k: the
copy yielded k-th by :func:`cameval.metrics.randomized_models`) and ``data`` [S, N, H, W] (the
twin's maps) where a twin is given; attributes: ``columns`` (the S maps: the sets, Guided Grad-CAM
formed from Grad-CAM and Guided Backprop, the seeded random map), ``methods`` (column -> method),
``kinds`` (column -> ``cam``, ``pixel`` or ``random``),
``layers_{mode}``, ``conv_{mode}`` (whether step k's layer is a convolution), ``twin``, ``seed``,
``reduce``, ``model_digest``. Every map is one channel at the input's size: CAM-type maps upsampled
bilinearly, pixel-type maps reduced with ``reduce`` (:func:`cameval.heatmaps.input_maps`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

import h5py
import numpy as np
import torch

from cameval import batches, metrics
from cameval.data.images import ImageSet
from cameval.errors import DataError
from cameval.explain import explain_targets
from cameval.hdf5 import open_h5
from cameval.heatmaps import GUIDED_GRADCAM, RANDOM, first_maps, input_maps, random_maps, set_maps, with_guided_gradcam
from cameval.io import atomic_path
from cameval.models import load_model, model_digest
from cameval.store import Expect

log = logging.getLogger(__name__)

#: the random map's draw for the twin's column (a step of its own, after any randomization step)
DATA_STEP = 1_000_000


def _is_conv(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.modules.conv._ConvNd)


@dataclass(frozen=True)
class SanitySpec:
    """What a sanity job computes, as its config section says (``sanity:``): the first ``n_images``
    of ``split``, the randomization ``modes``, the first ``layers`` steps of each (None: all),
    pixel maps reduced to one channel by ``reduce``, every draw seeded by ``seed``."""

    split: str
    n_images: int
    modes: tuple[str, ...] = ("cascading", "independent")
    layers: int | None = None
    reduce: str = "abs_max"
    seed: int = 0


def sanity_maps(
    weights: str,
    images: str,
    manifest: str,
    shards: dict[str, list[str]],
    specs: dict[str, dict],
    out: str | os.PathLike,
    spec: SanitySpec,
    twin: str | None = None,
    twin_name: str = "",
    device: str = "cpu",
) -> None:
    """Every set's maps (``shards``: ``{set: paths}``, ``specs``: ``{set: what made its shards, as they record it}``)
    of the first ``spec.n_images`` of ``spec.split`` on the unchanged model (from the shards), on the
    first ``spec.layers`` (None: all) copies of each randomization mode, and on the ``twin`` (its
    weights), each for the class the shards explain; written to ``out`` (module docstring).

    The randomized copies are the steps of :func:`cameval.metrics.randomized_steps`, whose CAM maps
    re-run only the part of the network a step changed: the same maps as on a fresh copy."""
    t0 = time.perf_counter()
    found = first_maps(shards, spec.n_images, {s: Expect(weights, specs[s], manifest) for s in shards})
    model, rows = batches.load(weights, manifest, spec.split, 0, spec.n_images, device=device)
    if list(rows["id"]) != found["ids"]:
        raise DataError(
            f"{next(iter(shards.values()))[0]}: the shards' first images {found['ids'][:3]}… are not the first "
            f"rows of split {spec.split!r} of {manifest} ({list(rows['id'])[:3]}…)"
        )
    index = rows["index"].to_numpy()
    with ImageSet(images) as imgs:
        x = imgs.tensor(index).to(device)
        clean = imgs.uint8(index)
    size = tuple(int(s) for s in x.shape[-2:])
    targets = torch.as_tensor(found["targets"], dtype=torch.long, device=device)
    methods = {s: specs[s]["method"] for s in shards}

    def one_channel(raw: dict, step: int) -> dict[str, np.ndarray]:
        maps = {k: input_maps(v, size, spec.reduce) for k, v in with_guided_gradcam(raw, methods).items()}
        maps[RANDOM] = random_maps(index, size, spec.seed, step)
        return maps

    def maps_on(net: torch.nn.Module, step: int, explainer=explain_targets) -> dict[str, np.ndarray]:
        net.eval()
        raw = {s: set_maps(net, x, targets, specs[s], found["layers"].get(s), explainer) for s in shards}
        return one_channel(raw, step)

    raw = with_guided_gradcam({s: torch.as_tensor(m) for s, m in found["maps"].items()}, methods)
    kinds = {c: "cam" if m.ndim == 3 else "pixel" for c, m in raw.items()} | {RANDOM: RANDOM}
    original = one_channel(raw, 0)
    columns = list(original)
    column_methods = {**methods, GUIDED_GRADCAM: GUIDED_GRADCAM, RANDOM: RANDOM}
    modules = dict(model.named_modules())
    per_mode, names, convs = {}, {}, {}
    model.eval()  # each step's model is a copy of it (the plain path put each copy in eval mode)
    for mode in spec.modes:
        stack, names[mode], convs[mode] = [], [], []
        for k, randomized in enumerate(metrics.randomized_steps(model, x, mode=mode, seed=spec.seed)):
            if spec.layers is not None and k >= spec.layers:
                break
            maps = maps_on(randomized.model, k + 1, randomized.explain_targets)
            stack.append(np.stack([maps[c] for c in columns]))
            names[mode].append(randomized.layer)
            convs[mode].append(_is_conv(modules[randomized.layer]))
            log.info(
                "%s step %d (%s randomized): %d maps, %.1f s",
                mode,
                k + 1,
                randomized.layer,
                len(columns),
                time.perf_counter() - t0,
            )
        per_mode[mode] = np.stack(stack)
    data = None
    if twin is not None:
        shuffled = load_model(twin).to(device)
        maps = maps_on(shuffled, DATA_STEP)
        data = np.stack([maps[c] for c in columns])
        log.info("shuffled-label twin %s: %d maps", twin_name, len(columns))
    with atomic_path(out) as tmp, open_h5(tmp, "w") as fh:
        fh.create_dataset("ids", data=np.asarray(found["ids"], dtype=object), dtype=h5py.string_dtype())
        fh.create_dataset("rows", data=index.astype(np.int64))
        fh.create_dataset("targets", data=found["targets"])
        fh.create_dataset("images", data=clean, compression="gzip")
        fh.create_dataset("original", data=np.stack([original[c] for c in columns]), compression="gzip")
        for mode, arr in per_mode.items():
            fh.create_dataset(mode, data=arr, compression="gzip")
        if data is not None:
            fh.create_dataset("data", data=data, compression="gzip")
        fh.attrs.update(
            {
                "columns": json.dumps(columns),
                "methods": json.dumps({c: column_methods[c] for c in columns}),
                "kinds": json.dumps(kinds),
                "modes": json.dumps(list(per_mode)),
                **{f"layers_{m}": json.dumps(v) for m, v in names.items()},
                **{f"conv_{m}": json.dumps(v) for m, v in convs.items()},
                "twin": twin_name,
                "seed": spec.seed,
                "reduce": spec.reduce,
                "model_digest": model_digest(weights),
                "seconds": time.perf_counter() - t0,
            }
        )
    log.info(
        "%s: %d images, %s in %.1f s", out, len(index), {m: len(v) for m, v in names.items()}, time.perf_counter() - t0
    )
