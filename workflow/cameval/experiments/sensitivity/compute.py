"""Table 6's torch work: the one-pixel attacks and the maps before and after, and the replay of the study's
own attacks. The only module of the package that imports torch.

:func:`attack_shard` is the costly step: it attacks rows ``[start, stop)`` of the evaluation
split and caches, per image, the attack, the clean image and the maps before (class: the label)
and after (class: the new prediction) in one HDF5 file, written atomically; :func:`extra_attack_maps`
adds the maps of further CAM-type sets on the cached images; :func:`study_attack_rows` replays the
study's published attacks (resources/study/one_pixel/).

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cameval import batches
from cameval.attacks import OnePixelAttack, one_pixel
from cameval.batches import eval_rows
from cameval.data.images import ImageSet
from cameval.errors import DataError
from cameval.experiments.sensitivity.rows import attacked_pixels, percentile_rank, pixel_map, random_pixels
from cameval.explain import default_layer, explain, logits_of
from cameval.heatmaps import check_map_shape
from cameval.models import load_model
from cameval.models.densenet import resolve_layer
from cameval.pixels import normalize, set_pixels
from cameval.store import Expect, provenance, read_attacks, write_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttackShard:
    """One attack shard: rows ``[start, stop)`` of the evaluation split ``split`` (shard number ``shard``
    of ``dataset``, both recorded in the file), attacked with ``attack``; the maps before and after:
    Grad-CAM at ``layer`` (None: the model's default) and Integrated Gradients with ``ig_steps``,
    ``batch_size`` images at a time. ``attack.seed`` also draws each image's random pixel."""

    split: str
    start: int
    stop: int
    attack: OnePixelAttack = OnePixelAttack()
    layer: str | None = None
    ig_steps: int = 50
    batch_size: int = 16
    dataset: str = ""
    shard: int = 0


def attack_shard(
    weights: str, images: str, manifest: str, out: str | os.PathLike, job: AttackShard, *, device: str = "cpu"
) -> None:
    """One-pixel attacks on rows ``[job.start, job.stop)`` of ``job.split`` and the maps before and after
    (the module docstring gives the file's layout)."""
    start, stop, split, shard, attack = job.start, job.stop, job.split, job.shard, job.attack
    model, rows = batches.load(weights, manifest, split, start, stop, device=device, shard=shard, error=DataError)
    layer = job.layer or default_layer(model)

    def labels_of(batch: batches.Batch) -> torch.Tensor:
        return torch.as_tensor(batch.rows["label"].to_numpy(copy=True), dtype=torch.long, device=device)

    def attack_step(model, batch: batches.Batch) -> dict:
        """The shard's attacks, image by image inside :func:`one_pixel` (early stopping, its own bar and
        a log line per image); the clean and the attacked images each scored in one forward pass."""
        res = one_pixel(
            model,
            batch.pixels,
            labels_of(batch),
            mean=batch.mean,
            std=batch.std,
            attack=attack,
            first_index=start + batch.offset,
            progress=True,
        )
        after = torch.as_tensor(res.pred_after, dtype=torch.long, device=device)
        with torch.no_grad():  # the new class's probability on the attacked image (Appendix F)
            xa = batch.normalize(res.adversarial)
            p_new = torch.softmax(logits_of(model(xa)).float(), 1).gather(1, after[:, None])[:, 0]
        return {
            "labels": labels_of(batch),
            "success": res.success,
            "pixel": res.pixel,
            "colour": res.colour,
            "generations": res.generations,
            "evaluations": res.evaluations,
            "p_before": res.p_before,
            "p_after": res.p_after,
            "p_new": p_new.cpu().numpy().astype(np.float64),
            "pred_before": res.pred_before,
            "pred_after": res.pred_after,
            "clean": batch.clean,
            "adversarial": res.adversarial,
        }

    t0 = time.perf_counter()
    data = batches.run(model, images, rows, attack_step, batch_size=len(rows), device=device, desc="one-pixel attacks")
    attack_seconds = time.perf_counter() - t0
    # the attacked images in the clean pixels' layout (channels last, a view of the stored images)
    adversarial = torch.as_tensor(data.pop("adversarial")).to(device, memory_format=torch.channels_last)
    pred_after = torch.as_tensor(data["pred_after"], dtype=torch.long, device=device)

    def maps(model, batch: batches.Batch) -> dict:
        labels, after = labels_of(batch), pred_after[batch.positions]
        x, xa = batch.normalize(batch.pixels), batch.normalize(adversarial[batch.positions])
        return {
            "cam_before": explain(model, x, labels, "gradcam", layer=layer),
            "cam_after": explain(model, xa, after, "gradcam", layer=layer),
            "ig_before": explain(model, x, labels, "integrated_gradients", steps=job.ig_steps),
            "ig_after": explain(model, xa, after, "integrated_gradients", steps=job.ig_steps),
        }

    found = batches.run(model, images, rows, maps, batch_size=job.batch_size, device=device, desc="maps before/after")
    seconds = time.perf_counter() - t0
    n = len(rows)
    log.info(
        "%s: %d images, %d successful; attack %.1f s (%.2f s/image, %.0f candidates/image), total %.1f s",
        out,
        n,
        int(data["success"].sum()),
        attack_seconds,
        attack_seconds / n,
        data["evaluations"].mean(),
        seconds,
    )
    data["random_pixel"] = random_pixels(attack.seed, range(start, stop), *data["clean"].shape[1:3])
    data["clean"] = data.pop("clean")  # the file's order: the attack, the random pixel, the images, the maps
    data |= {k: v.astype(np.float32) for k, v in found.items()}
    spec = {
        "attack": "one_pixel",
        "population": attack.population,
        "generations": attack.generations,
        "f": attack.f,
        "seed": attack.seed,
        "layer": layer,
        "ig_steps": job.ig_steps,
    }
    ids = rows["id"].tolist()
    write_cache(
        out,
        ids,
        data,
        {
            **spec,
            **provenance(weights, manifest, ids, spec),
            "dataset": job.dataset,
            "split": split,
            "shard": shard,
            "rows": [start, stop],
            "attack_seconds": attack_seconds,
            "seconds": seconds,
        },
        compressed=tuple(k for k, v in data.items() if np.asarray(v).ndim >= 3),
    )


def extra_attack_maps(
    weights: str,
    images: str,
    paths,
    methods: dict[str, dict],
    *,
    layer: str | None = None,
    expected: int | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    expect: Expect | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Maps of further CAM-type heatmap sets (``table6.methods``) on the images of attack shards
    ``paths``, nothing attacked again: per set ``{"before": [N, h, w], "after": [N, h, w]}``, before
    the label's map on the clean image, after the new prediction's on the attacked one
    (:func:`attacked_pixels`), normalized with ``images``' mean and std as the attack job did.

    ``methods[name]`` is the heatmap set's entry (``method``, ``params``, ``layer``); its ``layer``
    wins over ``layer`` (the model's), else the model's default layer. ``expect``: what the attack
    shards must have been made from (:class:`cameval.store.Expect`)."""
    a = read_attacks(paths, expected, expect)
    model = load_model(weights).to(device)
    with ImageSet(images) as imgs:
        mean, std = imgs.mean, imgs.std
    clean = torch.as_tensor(a["clean"], dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255
    x = normalize(clean, mean, std)
    xa = normalize(torch.as_tensor(attacked_pixels(a), device=device), mean, std)
    labels = torch.as_tensor(a["labels"], dtype=torch.long, device=device)
    after = torch.as_tensor(a["pred_after"], dtype=torch.long, device=device)
    out = {}
    for name, spec in methods.items():
        at = resolve_layer(model, spec.get("layer") or layer)
        params = spec.get("params") or {}
        maps = {"before": [], "after": []}
        for b0 in tqdm(range(0, len(x), batch_size), desc=f"{name} before/after", unit="batch"):
            sl = slice(b0, b0 + batch_size)
            maps["before"].append(explain(model, x[sl], labels[sl], spec["method"], layer=at, **params))
            maps["after"].append(explain(model, xa[sl], after[sl], spec["method"], layer=at, **params))
            for m in (maps["before"][-1], maps["after"][-1]):  # CAM-type: [N, h, w], checked as it is made
                check_map_shape(m[:, None], "cam", x[sl].shape, f"heatmaps.{name}", spec["method"])
        out[name] = {k: torch.cat(v).detach().cpu().numpy().astype(np.float32) for k, v in maps.items()}
        log.info("%s (%s): maps of %d images before and after their attacks", name, spec["method"], len(x))
    return out


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
    colour = attacks[["r", "g", "b"]].to_numpy(dtype=np.float32)[:, : pixels.shape[1]]
    attacked = set_pixels(pixels.clone(), attacks["row"].to_numpy(), attacks["col"].to_numpy(), colour)
    x, xa = normalize(pixels, mean, std), normalize(attacked, mean, std)
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
