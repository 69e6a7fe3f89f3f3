"""Table 7 and Appendix G: fidelity and contrastivity of Grad-CAM, SHAP and Integrated Gradients.

:func:`class_maps` is the costly step: for the first images of the evaluation split it computes
every method's map for *every* class (contrastivity compares the label's mask with each other
class's) and caches them in one HDF5 file, written atomically:

``ids`` [N]; ``labels`` [N]; ``images`` uint8 [N, H, W, C]; per method ``maps/{method}``
float32 [N, K, H, W] — Grad-CAM upsampled bilinearly to the input, pixel maps (SHAP, IG)
summed over channels (the study took channel 0 only), and so for a library's method or your own
(``captum:Saliency``, ``package.module:function``; a CAM-type one upsampled as Grad-CAM); attributes: the layer, IG steps, the
SHAP explainer actually used (``deep`` or ``gradient``), background size, seconds, versions.

:func:`fidelity_rows` reads that file and measures, per image, method and percentile: the
contrastivity of the binarized masks and the label's probability before and after the label
mask's pixels are set to the dataset's mean (0 after normalization).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.errors import DataError
from cameval.methods import labels

log = logging.getLogger(__name__)

METHODS = labels("gradcam", "shap", "integrated_gradients")


def background_rows(manifest: str, n: int, seed: int = 0) -> np.ndarray:
    """Image-set rows of ``n`` training images: the first ``n`` of a permutation seeded by ``seed``."""
    from cameval.heatmaps import eval_rows

    train = eval_rows(manifest, "train")["index"].to_numpy()
    return train[np.random.default_rng([seed, 7]).permutation(len(train))[: min(n, len(train))]]


def class_maps(
    weights: str,
    images: str,
    manifest: str,
    out: str | os.PathLike,
    *,
    split: str,
    n_images,
    methods=tuple(METHODS),
    background: int = 100,
    ig_steps: int = 50,
    shap_explainer: str = "auto",
    shap_samples: int = 200,
    layer: str | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    params: dict | None = None,
) -> None:
    """Every class's map by each method for the first ``n_images`` of ``split``; see the module docstring.

    ``params``: ``{method: keyword arguments}`` for library and own methods."""
    import h5py
    import torch

    import cameval
    from cameval.data.images import ImageSet
    from cameval.explain import explain_targets, is_external, shap_all_classes, uses_layer
    from cameval.explain._core import default_layer, logits_of, upsample
    from cameval.heatmaps import eval_rows
    from cameval.io import atomic_path
    from cameval.models import load_model, model_digest

    unknown = [m for m in methods if m not in METHODS and not is_external(m)]
    if unknown:
        raise ValueError(f"methods: {unknown} not among {list(METHODS)}, a library's or your own (module:name)")
    model = load_model(weights).to(device)
    layer = layer or default_layer(model)
    rows = eval_rows(manifest, split).iloc[: int(n_images)]
    with ImageSet(images) as imgs:
        x = imgs.tensor(rows["index"].to_numpy()).to(device)
        clean = imgs.uint8(rows["index"].to_numpy())
        bg = imgs.tensor(background_rows(manifest, background, seed)).to(device) if "shap" in methods else None
    with torch.no_grad():
        k = logits_of(model(x[:1])).shape[1]
    targets = torch.arange(k, device=device).expand(len(x), k)
    maps, attrs, t0 = {}, {}, time.perf_counter()
    if "shap" in methods and shap_explainer == "auto":
        # DeepExplainer's additivity does not depend on the background's size: probe it on one image
        # and a few background images, then run every batch with the explainer that works
        _, shap_explainer = shap_all_classes(
            model, x[:1], bg[: min(4, len(bg))], explainer="auto", n_samples=1, seed=seed
        )
        log.info("shap: %s explainer for %s", shap_explainer, type(model).__name__)
    for method in methods:
        start, parts = time.perf_counter(), []
        for b0 in tqdm(range(0, len(x), batch_size), desc=f"{method}, all {k} classes", unit="batch"):
            xb, tb = x[b0 : b0 + batch_size], targets[b0 : b0 + batch_size]
            if method == "gradcam":
                m, _ = explain_targets(model, xb, tb, "gradcam", layer=layer, size=tuple(x.shape[-2:]))
            elif method == "integrated_gradients":
                m, _ = explain_targets(model, xb, tb, "integrated_gradients", steps=ig_steps)
            elif is_external(method):
                m, _ = explain_targets(
                    model, xb, tb, method, layer=layer if uses_layer(method) else None, **(params or {}).get(method, {})
                )
                if m.ndim == 4:  # [N, K, h, w]: CAM-type, upsampled to the input as Grad-CAM
                    m = upsample(m, tuple(x.shape[-2:]))
            else:
                values, used = shap_all_classes(
                    model, xb, bg, explainer=shap_explainer, n_samples=shap_samples, seed=seed
                )
                m = torch.as_tensor(values)
                attrs["shap_explainer"] = used if attrs.get("shap_explainer", used) == used else "mixed"
            m = m.detach().cpu()
            parts.append((m.sum(2) if m.ndim == 5 else m).numpy().astype(np.float32))
        maps[method] = np.concatenate(parts)
        attrs[f"seconds_{method}"] = time.perf_counter() - start
        log.info("%s: %d images x %d classes in %.1f s", method, len(x), k, attrs[f"seconds_{method}"])
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("ids", data=np.asarray(rows["id"], dtype=object), dtype=h5py.string_dtype())
        fh.create_dataset("labels", data=rows["label"].to_numpy(dtype=np.int64))
        fh.create_dataset("images", data=clean, compression="gzip")
        for method, arr in maps.items():
            fh.create_dataset(f"maps/{method}", data=arr, compression="gzip")
        fh.attrs.update(
            {
                "layer": layer,
                "ig_steps": ig_steps,
                "background": background,
                "methods": list(methods),
                "shap_samples": shap_samples,
                "model_digest": model_digest(weights),
                "split": split,
                "seconds": time.perf_counter() - t0,
                "cameval_version": cameval.__version__,
                "torch_version": str(torch.__version__),
                **attrs,
            }
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
    import h5py
    import torch

    from cameval.data.images import ImageSet, read_manifest
    from cameval.models import load_model
    from cameval.store import check_coverage

    if not os.path.isfile(maps_h5):
        raise DataError(f"{maps_h5}: no such file (expected the class maps written by cameval.faithfulness)")
    model = load_model(weights).to(device)
    index = read_manifest(manifest).set_index("id")["index"]
    with h5py.File(maps_h5, "r") as fh:
        ids = [s.decode() if isinstance(s, bytes) else str(s) for s in fh["ids"][()]]
        labels = fh["labels"][()]
        maps = {m: fh[f"maps/{m}"][()] for m in fh["maps"]}
        explainer = fh.attrs.get("shap_explainer", "")
    check_coverage([(maps_h5, ids)], expected, "class maps")
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
