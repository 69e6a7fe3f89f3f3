"""Table 6 and Appendix F: one-pixel attacks and what Grad-CAM (and IG) said about the pixel.

:func:`attack_shard` is the costly step: it attacks rows ``[start, stop)`` of the evaluation
split and caches, per image, the attack, the clean image and the maps before (class: the label)
and after (class: the new prediction) in one HDF5 file, written atomically. :func:`sensitivity_rows`
reads those files (nothing is recomputed) and measures, per image and method, the map's value
at the attacked pixel — the map upsampled bilinearly to the input and divided by its max, as the
study did for Grad-CAM — and the same at a seeded random pixel of the image (the chance level),
and the attacked pixel's percentile rank within its map.

Attack shard layout (``results/attacks/one_pixel/{dataset}/{model}/shard-{i}.h5``):
``ids`` [N]; ``labels``, ``pred_before``, ``pred_after``, ``generations``, ``evaluations`` int [N];
``success`` bool [N]; ``pixel`` and ``random_pixel`` int [N, 2] (row, col); ``colour`` uint8 [N, C];
``p_before``, ``p_after`` float [N] (the label's probability); ``p_new`` float [N] (the new prediction's
probability on the attacked image); ``clean`` uint8 [N, H, W, C]; ``cam_before``, ``cam_after``
float32 [N, h, w] (Grad-CAM at the layer's grid); ``ig_before``, ``ig_after`` float32
[N, C, H, W] (Integrated Gradients, zero baseline); attributes: the attack's parameters, layer,
IG steps, model digest, seconds, versions.
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

ARRAYS = (
    "labels",
    "success",
    "pixel",
    "colour",
    "generations",
    "evaluations",
    "p_before",
    "p_after",
    "pred_before",
    "pred_after",
    "random_pixel",
    "clean",
    "cam_before",
    "cam_after",
    "ig_before",
    "ig_after",
)
#: written by :func:`attack_shard` since Appendix F prints it; shards from before lack it
OPTIONAL = ("p_new",)
METHODS = labels("gradcam", "ig")


def random_pixels(seed: int, indices, h: int, w: int) -> np.ndarray:
    """A seeded uniform ``(row, col)`` per image; image ``i`` of the split uses ``(seed, 6, i)``."""
    out = np.empty((len(indices), 2), dtype=np.int64)
    for k, i in enumerate(indices):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 6, int(i)])))
        out[k] = rng.integers(0, h), rng.integers(0, w)
    return out


def attack_shard(
    weights: str,
    images: str,
    manifest: str,
    out: str | os.PathLike,
    *,
    split: str,
    start: int,
    stop: int,
    population: int = 400,
    generations: int = 100,
    f: float = 0.5,
    seed: int = 0,
    layer: str | None = None,
    ig_steps: int = 50,
    batch_size: int = 16,
    device: str = "cpu",
    dataset: str = "",
    shard: int = 0,
) -> None:
    """One-pixel attacks on rows ``[start, stop)`` of ``split`` and the maps before and after."""
    import h5py
    import torch

    import cameval
    from cameval.attacks import one_pixel
    from cameval.data.images import ImageSet
    from cameval.explain import explain
    from cameval.explain._core import default_layer, logits_of
    from cameval.heatmaps import eval_rows
    from cameval.io import atomic_path
    from cameval.models import load_model, model_digest

    model = load_model(weights).to(device)
    layer = layer or default_layer(model)
    rows = eval_rows(manifest, split).iloc[start:stop]
    if rows.empty:
        raise DataError(f"shard {shard}: rows {start}..{stop} are past the end of split {split!r} in {manifest}")
    t0 = time.perf_counter()
    with ImageSet(images) as imgs:
        clean = imgs.uint8(rows["index"].to_numpy())
        mean, std = imgs.mean, imgs.std
    pixels = torch.as_tensor(clean, dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255
    labels = torch.as_tensor(rows["label"].to_numpy(copy=True), dtype=torch.long, device=device)
    res = one_pixel(
        model,
        pixels,
        labels,
        mean=mean,
        std=std,
        population=population,
        generations=generations,
        f=f,
        seed=seed,
        first_index=start,
        progress=True,
    )
    attack_seconds = time.perf_counter() - t0
    m = torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    x, xa = (pixels - m) / s, (res.adversarial - m) / s
    after = torch.as_tensor(res.pred_after, dtype=torch.long, device=device)
    with torch.no_grad():  # the new class's probability on the attacked image (Appendix F)
        p_new = torch.softmax(logits_of(model(xa)).float(), 1).gather(1, after[:, None])[:, 0].cpu().numpy()
    maps = {k: [] for k in ("cam_before", "cam_after", "ig_before", "ig_after")}
    for b0 in tqdm(range(0, len(x), batch_size), desc="maps before/after", unit="batch"):
        sl = slice(b0, b0 + batch_size)
        maps["cam_before"].append(explain(model, x[sl], labels[sl], "gradcam", layer=layer))
        maps["cam_after"].append(explain(model, xa[sl], after[sl], "gradcam", layer=layer))
        maps["ig_before"].append(explain(model, x[sl], labels[sl], "integrated_gradients", steps=ig_steps))
        maps["ig_after"].append(explain(model, xa[sl], after[sl], "integrated_gradients", steps=ig_steps))
    seconds = time.perf_counter() - t0
    n = len(rows)
    log.info(
        "%s: %d images, %d successful; attack %.1f s (%.2f s/image, %.0f candidates/image), total %.1f s",
        out,
        n,
        int(res.success.sum()),
        attack_seconds,
        attack_seconds / n,
        res.evaluations.mean(),
        seconds,
    )
    data = {
        "labels": labels.cpu().numpy(),
        "success": res.success,
        "pixel": res.pixel,
        "colour": res.colour,
        "generations": res.generations,
        "evaluations": res.evaluations,
        "p_before": res.p_before,
        "p_after": res.p_after,
        "p_new": p_new.astype(np.float64),
        "pred_before": res.pred_before,
        "pred_after": res.pred_after,
        "random_pixel": random_pixels(seed, range(start, stop), *clean.shape[1:3]),
        "clean": clean,
        **{k: torch.cat(v).detach().cpu().numpy().astype(np.float32) for k, v in maps.items()},
    }
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("ids", data=np.asarray(rows["id"], dtype=object), dtype=h5py.string_dtype())
        for key, arr in data.items():
            big = np.asarray(arr).ndim >= 3
            fh.create_dataset(key, data=arr, compression="gzip" if big else None)
        fh.attrs.update(
            {
                "population": population,
                "generations": generations,
                "f": f,
                "seed": seed,
                "layer": layer,
                "ig_steps": ig_steps,
                "model_digest": model_digest(weights),
                "dataset": dataset,
                "split": split,
                "shard": shard,
                "rows": [start, stop],
                "attack_seconds": attack_seconds,
                "seconds": seconds,
                "cameval_version": cameval.__version__,
                "torch_version": str(torch.__version__),
            }
        )


def read_attacks(paths, expected: int | None = None) -> dict:
    """The arrays of several attack shards, concatenated in order, after checking that they cover
    ``expected`` images (None: not checked), each once (:func:`cameval.store.check_coverage`)."""
    import h5py

    from cameval.store import check_coverage

    paths = list(paths)
    out: dict = {k: [] for k in ("ids", *ARRAYS)}
    attrs, parts = {}, []
    for p in paths:
        if not os.path.isfile(p):
            raise DataError(f"{p}: no such attack shard (expected an HDF5 file written by cameval.sensitivity)")
        with h5py.File(p, "r") as fh:
            missing = [k for k in ("ids", *ARRAYS) if k not in fh]
            if missing:
                raise DataError(f"{p}: not a one-pixel attack shard, missing datasets {missing}")
            parts.append((p, [s.decode() if isinstance(s, bytes) else str(s) for s in fh["ids"][()]]))
            out["ids"] += parts[-1][1]
            for k in ARRAYS:
                out[k].append(fh[k][()])
            for k in OPTIONAL:
                if k in fh:
                    out.setdefault(k, []).append(fh[k][()])
            attrs = dict(fh.attrs)
    check_coverage(parts, expected, "attack shards")
    for k in ARRAYS:
        out[k] = np.concatenate(out[k])
    for k in OPTIONAL:  # kept only where every shard has it
        if k in out and len(out[k]) == len(paths):
            out[k] = np.concatenate(out[k])
        else:
            out.pop(k, None)
    out["attrs"] = attrs
    return out


def pixel_map(m: np.ndarray, size) -> np.ndarray:
    """A map as the study read it at a pixel: a CAM ``[h, w]`` upsampled bilinearly to ``size``,
    a pixel map ``[C, H, W]`` reduced to ``sum_c |m_c|``; then divided by its max (all zero stays zero)."""
    m = np.asarray(m, dtype=np.float64)
    m = np.abs(m).sum(0) if m.ndim == 3 else metrics.upsample_map(m, size)
    top = m.max()
    return m / top if top > 0 else np.zeros_like(m)


def percentile_rank(m: np.ndarray, value: float) -> float:
    """``100 * share of the map's pixels <= value`` (scipy's ``percentileofscore(kind="weak")``)."""
    return float(100.0 * np.mean(m <= value))


def sensitivity_rows(paths, expected: int | None = None) -> pd.DataFrame:
    """Per image: the attack's outcome (``flipped``: the prediction is not the label after the attack;
    ``success``: flipped on an image the model classified correctly before it) and, per method (``gradcam``, ``ig``), the normalized map at
    the attacked pixel and at the random pixel, before (label) and after (new prediction), and the
    attacked pixel's percentile rank in each map. ``expected``: the images the shards must cover
    (:func:`read_attacks`)."""
    a = read_attacks(paths, expected)
    size = a["clean"].shape[1:3]
    rows = []
    for i, image_id in enumerate(a["ids"]):
        r, c = (int(v) for v in a["pixel"][i])
        rr, rc = (int(v) for v in a["random_pixel"][i])
        row = {
            "id": image_id,
            "label": int(a["labels"][i]),
            "pred_before": int(a["pred_before"][i]),
            "pred_after": int(a["pred_after"][i]),
            "flipped": bool(a["success"][i]),
            # an image the model misclassifies before any pixel changes is no successful attack
            "success": bool(a["success"][i]) and int(a["pred_before"][i]) == int(a["labels"][i]),
            "generations": int(a["generations"][i]),
            "evaluations": int(a["evaluations"][i]),
            "p_before": float(a["p_before"][i]),
            "p_after": float(a["p_after"][i]),
            "row": r,
            "col": c,
            "random_row": rr,
            "random_col": rc,
        }
        for method, key in (("gradcam", "cam"), ("ig", "ig")):
            for when in ("before", "after"):
                m = pixel_map(a[f"{key}_{when}"][i], size)
                row[f"{method}_{when}"] = float(m[r, c])
                row[f"{method}_random_{when}"] = float(m[rr, rc])
                row[f"{method}_pct_{when}"] = percentile_rank(m, m[r, c])
        rows.append(row)
    return pd.DataFrame(rows)


# --- the study's own attacks (resources/study/one_pixel/), re-evaluated here ---------------------


def study_attack_rows(
    weights: str,
    images: str,
    manifest: str,
    attacks: pd.DataFrame,
    *,
    split: str,
    layer: str | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    source: str = "",
) -> pd.DataFrame:
    """The study's published one-pixel attacks replayed on this pipeline's images and model.

    ``attacks``: :func:`cameval.data.study.read_one_pixel_attacks` (``index`` into the evaluation
    split of ``manifest``, ``row``, ``col``, ``r, g, b``). Per attack: the image as this pipeline
    preprocessed it (pixel space [0, 1]), the attacked copy with pixel ``(row, col)`` set to
    ``(r, g, b) / 255``, both normalized with the image set's mean and std; the model's top-1 class
    before (``pred_before``; the class the study attacked and explained) and after (``pred_after``);
    ``success`` = the attack still changes the top-1 class here. Grad-CAM (``layer``: the study's
    default when None) of the clean prediction (``gradcam_before``, as the study's code did), of
    the label (``gradcam_before_label``, as cameval's Table 6) and of the new prediction on the
    attacked image (``gradcam_after``), read at the attacked pixel by :func:`pixel_map` (upsampled
    bilinearly to the input, divided by its max) and at the seeded random pixel of
    :func:`random_pixels` (``gradcam_random_*``); ``gradcam_pct_*`` the attacked pixel's
    percentile rank (:func:`percentile_rank`).
    """
    import torch

    from cameval.data.images import ImageSet
    from cameval.explain import explain
    from cameval.explain._core import default_layer
    from cameval.heatmaps import eval_rows
    from cameval.models import load_model

    model = load_model(weights).to(device)
    layer = layer or default_layer(model)
    rows = eval_rows(manifest, split)
    index = attacks["index"].to_numpy(dtype=np.int64)
    if index.size and index.max() >= len(rows):
        bad = attacks[attacks["index"] >= len(rows)].iloc[0]
        raise DataError(
            f"{source}: line {int(bad['line'])}: image {int(bad['index'])} is past the end of split "
            f"{split!r} of {manifest} ({len(rows)} images)"
        )
    sel = rows.iloc[index]
    with ImageSet(images) as imgs:
        order = np.argsort(sel["index"].to_numpy())
        clean = np.empty((len(sel), imgs.height, imgs.width, imgs.channels), dtype=np.uint8)
        clean[order] = imgs.uint8(sel["index"].to_numpy()[order])
        mean, std = imgs.mean, imgs.std
    h, w = clean.shape[1:3]
    if (attacks["row"] >= h).any() or (attacks["col"] >= w).any():
        raise DataError(f"{source}: an attacked pixel lies outside the {h}×{w} images of {images}")
    pixels = torch.as_tensor(clean, dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255
    attacked = pixels.clone()
    k = torch.arange(len(sel), device=device)
    colour = torch.tensor(attacks[["r", "g", "b"]].to_numpy(dtype=np.float32)[:, : pixels.shape[1]], device=device)
    attacked[k, :, torch.as_tensor(attacks["row"].to_numpy()), torch.as_tensor(attacks["col"].to_numpy())] = (
        colour / 255
    )
    m = torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    x, xa = (pixels - m) / s, (attacked - m) / s
    labels = torch.as_tensor(sel["label"].to_numpy(copy=True), dtype=torch.long, device=device)
    maps = {"before": [], "before_label": [], "after": []}
    probs = {"before": [], "after": []}
    for b0 in tqdm(range(0, len(x), batch_size), desc="study attacks", unit="batch"):
        sl = slice(b0, b0 + batch_size)
        with torch.no_grad():
            pb, pa = torch.softmax(model(x[sl]), 1), torch.softmax(model(xa[sl]), 1)
        probs["before"].append(pb.cpu())
        probs["after"].append(pa.cpu())
        maps["before"].append(explain(model, x[sl], pb.argmax(1), "gradcam", layer=layer).detach().cpu())
        maps["before_label"].append(explain(model, x[sl], labels[sl], "gradcam", layer=layer).detach().cpu())
        maps["after"].append(explain(model, xa[sl], pa.argmax(1), "gradcam", layer=layer).detach().cpu())
    pb, pa = torch.cat(probs["before"]).numpy(), torch.cat(probs["after"]).numpy()
    maps = {key: torch.cat(v).numpy() for key, v in maps.items()}
    pred_before, pred_after = pb.argmax(1), pa.argmax(1)
    random = random_pixels(seed, sel["index"].to_numpy(), h, w)
    out = []
    for i, (_, a) in enumerate(attacks.iterrows()):
        r, c = int(a["row"]), int(a["col"])
        rr, rc = (int(v) for v in random[i])
        row = {
            "id": sel["id"].iloc[i],
            "index": int(a["index"]),
            "line": int(a["line"]),
            "row": r,
            "col": c,
            "colour": f"{int(a['r'])} {int(a['g'])} {int(a['b'])}",
            "label": int(labels[i]),
            "pred_before": int(pred_before[i]),
            "pred_after": int(pred_after[i]),
            "correct_before": bool(pred_before[i] == int(labels[i])),
            "success": bool(pred_after[i] != pred_before[i]),
            "p_before": float(pb[i, pred_before[i]]),
            "p_after": float(pa[i, pred_before[i]]),
            "random_row": rr,
            "random_col": rc,
        }
        for when, cam in maps.items():
            pm = pixel_map(cam[i], (h, w))
            row[f"gradcam_{when}"] = float(pm[r, c])
            row[f"gradcam_random_{when}"] = float(pm[rr, rc])
            row[f"gradcam_pct_{when}"] = percentile_rank(pm, pm[r, c])
        out.append(row)
    log.info(
        "%s: %d of the study's %d attacks change the top-1 class with this preprocessing (layer %s)",
        source,
        sum(r["success"] for r in out),
        len(out),
        layer,
    )
    return pd.DataFrame(out)
