"""The Table 7 experiment's torch work: every class's map by each method (:func:`class_maps`) and the
fidelity rows measured on them (:func:`fidelity_rows`). The only module of the package that imports torch.

:func:`class_maps` is the costly step: for the first images of the evaluation split it computes
every method's map for *every* class (contrastivity compares the label's mask with each other
class's) and caches them in one HDF5 file, written atomically:

``ids`` [N]; ``labels`` [N]; ``images`` uint8 [N, H, W, C]; per method ``maps/{method}``
float32 [N, K, H, W] — Grad-CAM upsampled bilinearly to the input, pixel maps (SHAP, IG)
summed over channels (the study took channel 0 only), and so for a library's method or your own
(``captum:Saliency``, ``package.module:function``; a CAM-type one upsampled as Grad-CAM); attributes: the layer,
IG steps, the SHAP explainer actually used (``deep`` or ``gradient``), background size, seconds, versions.

:func:`fidelity_rows` reads that file and measures, per image, method and percentile: the
contrastivity of the binarized masks and the label's probability before and after the label
mask's pixels are set to the dataset's mean (0 after normalization).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from cameval import batches, metrics
from cameval.batches import eval_rows
from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.errors import DataError
from cameval.experiments.faithfulness.table import METHODS
from cameval.explain import (
    default_layer,
    explain_targets,
    is_external,
    logits_of,
    shap_all_classes,
    upsample,
    uses_layer,
)
from cameval.models import load_model
from cameval.store import Expect, provenance, read_class_maps, write_cache

log = logging.getLogger(__name__)


def background_rows(manifest: str, n: int, seed: int = 0) -> np.ndarray:
    """Image-set rows of ``n`` training images: the first ``n`` of a permutation seeded by ``seed``."""
    train = eval_rows(manifest, "train")["index"].to_numpy()
    return train[np.random.default_rng([seed, 7]).permutation(len(train))[: min(n, len(train))]]


@dataclass(frozen=True)
class ClassMapsJob:
    """What :func:`class_maps` computes: the first ``n_images`` rows of the evaluation split ``split``,
    every class's map by each of ``methods`` (the built-in :data:`~.table.METHODS`, a library's or your
    own, ``module:name``, with its keyword arguments in ``params[method]``). Grad-CAM and CAM-type
    methods at ``layer`` (None: the model's default); Integrated Gradients with ``ig_steps``; SHAP with
    ``background`` training images (drawn by ``seed``), ``shap_samples`` samples and ``shap_explainer``
    (``auto``: Deep where it is additive, else Gradient); ``batch_size`` images at a time."""

    split: str
    n_images: int
    methods: tuple[str, ...] = tuple(METHODS)
    params: dict | None = None
    layer: str | None = None
    background: int = 100
    ig_steps: int = 50
    shap_explainer: str = "auto"
    shap_samples: int = 200
    seed: int = 0
    batch_size: int = 16

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS and not is_external(m)]
        if unknown:
            raise ValueError(f"methods: {unknown} not among {list(METHODS)}, a library's or your own (module:name)")


def class_maps(
    weights: str, images: str, manifest: str, out: str | os.PathLike, job: ClassMapsJob, *, device: str = "cpu"
) -> None:
    """Every class's map by each method of ``job`` for its first images; see the module docstring."""
    split, n_images, methods, params, seed = job.split, job.n_images, job.methods, job.params, job.seed
    ig_steps, background, shap_samples = job.ig_steps, job.background, job.shap_samples
    shap_explainer = job.shap_explainer  # "auto" becomes the explainer that works, probed below
    model, rows = batches.load(weights, manifest, split, 0, int(n_images), device=device)
    layer = job.layer or default_layer(model)
    with ImageSet(images) as imgs:
        first = imgs.tensor(rows["index"].to_numpy()[:1]).to(device)
        bg = imgs.tensor(background_rows(manifest, background, seed)).to(device) if "shap" in methods else None
    with torch.no_grad():
        k = logits_of(model(first)).shape[1]
    size = tuple(first.shape[-2:])
    attrs, seconds, t0 = {}, dict.fromkeys(methods, 0.0), time.perf_counter()
    if "shap" in methods and shap_explainer == "auto":
        # DeepExplainer's additivity does not depend on the background's size: probe it on one image
        # and a few background images, then run every batch with the explainer that works
        _, shap_explainer = shap_all_classes(
            model, first, bg[: min(4, len(bg))], explainer="auto", n_samples=1, seed=seed
        )
        log.info("shap: %s explainer for %s", shap_explainer, type(model).__name__)

    def step(model, batch: batches.Batch) -> dict:
        xb, tb = batch.x, torch.arange(k, device=device).expand(len(batch), k)
        found = {"images": batch.clean}
        for method in methods:
            start = time.perf_counter()
            if method == "gradcam":
                m, _ = explain_targets(model, xb, tb, "gradcam", layer=layer, size=size)
            elif method == "integrated_gradients":
                m, _ = explain_targets(model, xb, tb, "integrated_gradients", steps=ig_steps)
            elif is_external(method):
                m, _ = explain_targets(
                    model, xb, tb, method, layer=layer if uses_layer(method) else None, **(params or {}).get(method, {})
                )
                if m.ndim == 4:  # [N, K, h, w]: CAM-type, upsampled to the input as Grad-CAM
                    m = upsample(m, size)
            else:
                values, used = shap_all_classes(
                    model, xb, bg, explainer=shap_explainer, n_samples=shap_samples, seed=seed
                )
                m = torch.as_tensor(values)
                attrs["shap_explainer"] = used if attrs.get("shap_explainer", used) == used else "mixed"
            m = m.detach().cpu()
            found[f"maps/{method}"] = (m.sum(2) if m.ndim == 5 else m).numpy().astype(np.float32)
            seconds[method] += time.perf_counter() - start
        return found

    got = batches.run(
        model, images, rows, step, batch_size=job.batch_size, device=device, desc=f"class maps, all {k} classes"
    )
    clean = got.pop("images")
    maps = {method: got[f"maps/{method}"] for method in methods}
    for method in methods:
        attrs[f"seconds_{method}"] = seconds[method]
        log.info("%s: %d images x %d classes in %.1f s", method, len(rows), k, seconds[method])
    spec = {
        "methods": list(methods),
        "layer": layer,
        "ig_steps": ig_steps,
        "background": background,
        "shap_explainer": shap_explainer,
        "shap_samples": shap_samples,
        "seed": seed,
        "params": params or {},
        "images": int(n_images),
    }
    ids = rows["id"].tolist()
    write_cache(
        out,
        ids,
        {
            "labels": rows["label"].to_numpy(dtype=np.int64),
            "images": clean,
            **{f"maps/{method}": arr for method, arr in maps.items()},
        },
        {
            "layer": layer,
            "ig_steps": ig_steps,
            "background": background,
            "methods": list(methods),
            "shap_samples": shap_samples,
            **provenance(weights, manifest, ids, spec),
            "split": split,
            "seconds": time.perf_counter() - t0,
            **attrs,
        },
        compressed=("images", *(f"maps/{method}" for method in methods)),
    )


def fidelity_rows(
    maps_h5: str,
    weights: str,
    images: str,
    manifest: str,
    percentiles=(1, 10),
    device: str = "cpu",
    expected: int | None = None,
) -> pd.DataFrame:
    """One row per (image, method, percentile): ``contrastivity`` of the masks of all classes with
    the label as the positive class, the label mask's share of pixels, and the label's probability
    and the prediction before and after masking (``drop = p_before - p_after``). ``expected``: the
    images the class-map file must hold, each once (:func:`cameval.store.check_coverage`)."""
    if not os.path.isfile(maps_h5):
        raise DataError(
            f"{maps_h5}: no such file (expected the class maps written by cameval.experiments.faithfulness)"
        )
    model = load_model(weights).to(device)
    index = read_manifest(manifest).set_index("id")["index"]
    cached = read_class_maps(maps_h5, expected, Expect(weights, None, manifest))
    ids, labels, maps, explainer = cached["ids"], cached["labels"], cached["maps"], cached["explainer"]
    with ImageSet(images) as imgs:
        x = imgs.tensor(index.loc[ids].to_numpy()).to(device)
    rows = []
    for method, mm in maps.items():
        for p in percentiles:
            masks = np.stack(
                [np.stack([metrics.binarize(mm[i, k], p) for k in range(mm.shape[1])]) for i in range(len(ids))]
            )
            label_masks = masks[np.arange(len(ids)), labels]
            fid = metrics.fidelity(model, x, torch.as_tensor(label_masks), labels)
            for i, image_id in enumerate(ids):
                rows.append(
                    {
                        "id": image_id,
                        "label": int(labels[i]),
                        "method": method,
                        "percentile": p,
                        "explainer": explainer if method == "shap" else "",
                        "mask_share": float(label_masks[i].mean()),
                        "contrastivity": metrics.contrastivity(masks[i], int(labels[i])),
                        "p_before": float(fid["p_before"][i]),
                        "p_after": float(fid["p_after"][i]),
                        "drop": float(fid["drop"][i]),
                        "correct_before": bool(fid["pred_before"][i] == labels[i]),
                        "correct_after": bool(fid["pred_after"][i] == labels[i]),
                    }
                )
    return pd.DataFrame(rows)
