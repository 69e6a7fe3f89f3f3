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
import math
import os
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.claims import FAILS, HOLDS, UNDECIDED, Claim, Context, Verdict, combine, role_model
from cameval.errors import ConfigError, DataError
from cameval.experiments.record import Experiment, require, require_dataset_models, table_files
from cameval.figures import as_rgb, class_label, colorbar, overlay, panel_grid, pyplot, save, tidy_row
from cameval.formatting import fmt, interval
from cameval.methods import label as method_label
from cameval.methods import labels
from cameval.metrics import mean_ci, wilcoxon_test
from cameval.store import ATTACK_ARRAYS, Expect, provenance, read_attacks, write_cache
from cameval.tables import describe

log = logging.getLogger(__name__)

ARRAYS = ATTACK_ARRAYS  # the layout below, read by cameval.store.read_attacks
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
    # torch and what loads it here only: the table and figure jobs of this module start without it
    import torch  # noqa: PLC0415

    from cameval import batches  # noqa: PLC0415
    from cameval.attacks import one_pixel  # noqa: PLC0415
    from cameval.explain import default_layer, explain, logits_of  # noqa: PLC0415

    model, rows = batches.load(weights, manifest, split, start, stop, device=device, shard=shard, error=DataError)
    layer = layer or default_layer(model)

    def labels_of(batch: batches.Batch) -> torch.Tensor:
        return torch.as_tensor(batch.rows["label"].to_numpy(copy=True), dtype=torch.long, device=device)

    def attack(model, batch: batches.Batch) -> dict:
        """The shard's attacks, image by image inside :func:`one_pixel` (early stopping, its own bar and
        a log line per image); the clean and the attacked images each scored in one forward pass."""
        res = one_pixel(
            model,
            batch.pixels,
            labels_of(batch),
            mean=batch.mean,
            std=batch.std,
            population=population,
            generations=generations,
            f=f,
            seed=seed,
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
    data = batches.run(model, images, rows, attack, batch_size=len(rows), device=device, desc="one-pixel attacks")
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
            "ig_before": explain(model, x, labels, "integrated_gradients", steps=ig_steps),
            "ig_after": explain(model, xa, after, "integrated_gradients", steps=ig_steps),
        }

    found = batches.run(model, images, rows, maps, batch_size=batch_size, device=device, desc="maps before/after")
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
    data["random_pixel"] = random_pixels(seed, range(start, stop), *data["clean"].shape[1:3])
    data["clean"] = data.pop("clean")  # the file's order: the attack, the random pixel, the images, the maps
    data |= {k: v.astype(np.float32) for k, v in found.items()}
    spec = {
        "attack": "one_pixel",
        "population": population,
        "generations": generations,
        "f": f,
        "seed": seed,
        "layer": layer,
        "ig_steps": ig_steps,
    }
    ids = rows["id"].tolist()
    write_cache(
        out,
        ids,
        data,
        {
            **spec,
            **provenance(weights, manifest, ids, spec),
            "dataset": dataset,
            "split": split,
            "shard": shard,
            "rows": [start, stop],
            "attack_seconds": attack_seconds,
            "seconds": seconds,
        },
        compressed=tuple(k for k, v in data.items() if np.asarray(v).ndim >= 3),
    )


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


def attacked_pixels(a: dict) -> np.ndarray:
    """The attacked images of attack arrays ``a`` (:func:`cameval.store.read_attacks`) in pixel space
    [0, 1], float32 ``[N, C, H, W]``: the clean image with its best candidate's pixel set to its
    colour / 255, as :func:`cameval.attacks.one_pixel` left it (failed attacks too)."""
    pixels = np.transpose(a["clean"], (0, 3, 1, 2)).astype(np.float32) / np.float32(255)
    for i, (r, c) in enumerate(a["pixel"]):
        pixels[i, :, int(r), int(c)] = a["colour"][i].astype(np.float32) / np.float32(255)
    return pixels


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
    import torch  # noqa: PLC0415  # torch here only: the table and figure jobs of this module start without it

    from cameval.data.images import ImageSet  # noqa: PLC0415  # (as above)
    from cameval.explain import explain  # noqa: PLC0415  # loads torch (as above)
    from cameval.heatmaps import check_map_shape  # noqa: PLC0415  # loads torch (as above)
    from cameval.models import load_model  # noqa: PLC0415  # loads torch (as above)
    from cameval.models.densenet import resolve_layer  # noqa: PLC0415  # loads torch (as above)

    a = read_attacks(paths, expected, expect)
    model = load_model(weights).to(device)
    with ImageSet(images) as imgs:
        mean, std = imgs.mean, imgs.std
    m = torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
    clean = torch.as_tensor(a["clean"], dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255
    x = (clean - m) / s
    xa = (torch.as_tensor(attacked_pixels(a), device=device) - m) / s
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


def sensitivity_rows(
    paths, expected: int | None = None, extra: dict | None = None, expect: Expect | None = None
) -> pd.DataFrame:
    """Per image: the attack's outcome (``flipped``: the prediction is not the label after the attack;
    ``success``: flipped on an image the model classified correctly before it) and, per method
    (``gradcam``, ``ig``, and each set of ``extra``: :func:`extra_attack_maps`), the normalized map
    at the attacked pixel and at the random pixel, before (label) and after (new prediction), and
    the attacked pixel's percentile rank in each map. ``expected``: the images the shards must
    cover (:func:`cameval.store.read_attacks`); ``expect``: what they must have been made from
    (:class:`cameval.store.Expect`)."""
    a = read_attacks(paths, expected, expect)
    for name, maps in (extra or {}).items():
        for when in ("before", "after"):
            if len(maps[when]) != len(a["ids"]):
                raise DataError(f"{name}: {len(maps[when])} maps {when}, the attack shards hold {len(a['ids'])} images")
            a[f"{name}_{when}"] = maps[when]
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
        for method, key in (("gradcam", "cam"), ("ig", "ig"), *((n, n) for n in extra or {})):
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
    # torch and what loads it here only: the table and figure jobs of this module start without it
    import torch  # noqa: PLC0415

    from cameval.batches import eval_rows  # noqa: PLC0415
    from cameval.data.images import ImageSet  # noqa: PLC0415
    from cameval.explain import default_layer, explain  # noqa: PLC0415
    from cameval.models import load_model  # noqa: PLC0415

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


# --- Table 6 ------------------------------------------------------------------------------------


TABLE6_METHODS = labels("gradcam", "ig")


def study_cell(study: dict, when: str) -> str:
    """The study's Table 6 values ``{when}_mean`` … ``{when}_max`` as ``mean ± std [min, max]`` (4 digits,
    as printed)."""
    if not study or study.get(f"{when}_mean") is None:
        return "–"
    std = study.get(f"{when}_std")  # printed "–" where the study gives none
    return interval(
        study.get(f"{when}_mean"),
        study.get(f"{when}_min"),
        study.get(f"{when}_max"),
        4,
        std=float("nan") if std is None else std,
    )


#: the study's printed Table 6 values each row carries as ``study_{key}`` (its own and the replay)
STUDY_KEYS = (
    "successful",
    "before_mean",
    "before_std",
    "before_min",
    "before_max",
    "after_mean",
    "after_std",
    "after_min",
    "after_max",
)


def table6(
    rows: dict[str, pd.DataFrame],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    extra: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6: one-pixel attacks and the map's value (0–1) at the attacked pixel.

    ``rows[model]`` are :func:`cameval.experiments.sensitivity.sensitivity_rows`. Per model and method, over
    the successful attacks: mean, std, min, max before (class: the label) and after (class: the
    new prediction), as the study reports them; the same at a seeded random pixel (chance level),
    the attacked pixel's percentile rank, and a Wilcoxon signed-rank test of attacked vs random
    (before). ``reference[model]["study"]`` holds the study's Grad-CAM values (keys such as
    ``before_mean``, ``after_max``, ``successful``). ``extra`` maps further methods of the rows
    (``table6.methods``' heatmap sets) to their labels: rows of their own, after IG's.
    """
    reference = reference or {}
    full, display = [], []
    for model, df in rows.items():
        ok = df[df["success"].astype(bool)]
        for method, label in {**TABLE6_METHODS, **(extra or {})}.items():
            rec = {"model": model, "method": method, "attacks": len(df), "successful": len(ok)}
            shown = {"model": model, "method": label, "attacks": len(df), "successful": len(ok)}
            s = mean_ci(df["success"].astype(float).to_numpy(), n_boot=n_boot, seed=seed)
            rec.update(success_rate=s["mean"], success_rate_low=s["low"], success_rate_high=s["high"])
            for when, title in (("before", "before (label)"), ("after", "after (new class)")):
                d = describe(ok[f"{method}_{when}"])
                rec.update({f"{when}_{k}": v for k, v in d.items()})
                shown[title] = interval(d["mean"], d["min"], d["max"], 3, std=d["std"])
                r = describe(ok[f"{method}_random_{when}"])
                rec.update({f"random_{when}_{k}": v for k, v in r.items()})
                rec[f"pct_{when}_mean"] = describe(ok[f"{method}_pct_{when}"])["mean"]
            c = mean_ci(ok[f"{method}_before"].to_numpy(), n_boot=n_boot, seed=seed)
            rec["before_low"], rec["before_high"] = c["low"], c["high"]
            stat, p = wilcoxon_test(ok[f"{method}_before"], ok[f"{method}_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before)"] = f"{fmt(rec['random_before_mean'], 3)} ± {fmt(rec['random_before_std'], 3)}"
            shown["percentile rank (before)"] = fmt(rec["pct_before_mean"], 1)
            shown["Wilcoxon p (attacked vs random)"] = fmt(p, 3)
            study = reference.get(model, {}).get("study", {}) if method == "gradcam" else {}
            rec.update({f"study_{key}": study.get(key) for key in STUDY_KEYS})
            if reference:
                shown["study: successful"] = fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


STUDY_SUBSETS = {"listed": "every listed attack", "successful": "those that change the top-1 class here"}


def table6_study(rows: dict[str, pd.DataFrame], reference: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6 on the study's own attacks: Grad-CAM (0–1) at the attacked pixel, per model.

    ``rows[model]`` are :func:`cameval.experiments.sensitivity.study_attack_rows`. Per model, over every
    listed attack and over those that still change the top-1 class here: ``n``, mean, std
    (ddof = 1), min, max of ``before`` (class: the clean top-1 prediction, the study's), ``before_label``
    (class: the label, as cameval's Table 6) and ``after`` (class: the new top-1 prediction), the
    random pixel's means (chance level) and the Wilcoxon signed-rank p-value of attacked vs random
    (before). ``reference[model]["study"]`` (the study's printed Table 6, Table 6's reference)
    goes to the columns ``study_*``.
    """
    reference = reference or {}
    full, display = [], []
    for model, df in rows.items():
        study = (reference.get(model) or {}).get("study") or {}
        ok = df["success"].astype(bool)
        for subset, title in STUDY_SUBSETS.items():
            d = df if subset == "listed" else df[ok]
            rec = {"model": model, "subset": subset, "listed": len(df), "successful_here": int(ok.sum()), "n": len(d)}
            shown = {"model": model, "attacks": title, "n": f"{len(d)} of {len(df)}"}
            for when, label in (
                ("before", "before (clean prediction)"),
                ("before_label", "before (label)"),
                ("after", "after (new prediction)"),
            ):
                st = describe(d[f"gradcam_{when}"])
                rec.update({f"{when}_{k}": v for k, v in st.items()})
                rec[f"random_{when}_mean"] = describe(d[f"gradcam_random_{when}"])["mean"]
                shown[label] = interval(st["mean"], st["min"], st["max"], 4, std=st["std"])
            stat, p = wilcoxon_test(d["gradcam_before"], d["gradcam_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before / after)"] = (
                f"{fmt(rec['random_before_mean'], 4)} / {fmt(rec['random_after_mean'], 4)}"
            )
            shown["Wilcoxon p (attacked vs random)"] = fmt(p, 3)
            rec.update({f"study_{key}": study.get(key) for key in STUDY_KEYS})
            if subset == "listed":
                shown["study: successful"] = fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            else:
                shown["study: successful"] = shown["study: before"] = shown["study: after"] = ""
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


# --- Appendix F ---------------------------------------------------------------------------------


def appendix_f(
    attacks: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 3,
    class_names=None,
    expected: int | None = None,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix F: per model, the first ``n_images`` successful one-pixel attacks (in split order),
    each as Grad-CAM of the label on the clean image, the attacked image with the pixel circled and
    its new colour, and Grad-CAM of the new class on the attacked image, with both predictions and
    probabilities. Where a model has fewer successes, its first failed attacks fill the rows,
    marked "attack failed" (their third column explains the best candidate's prediction).
    ``expected``: the images each model's shards must cover (:func:`cameval.store.read_attacks`);
    ``expect[model]``: what they must have been made from (:class:`cameval.store.Expect`)."""

    def name(c):
        return class_label(class_names, c)

    rows = []
    for model, paths in attacks.items():
        a = read_attacks(paths, expected, (expect or {}).get(model))
        ok = a["success"] & (a["pred_before"] == a["labels"])  # a clean misclassification is no success
        a["success"] = ok
        order = np.concatenate([np.flatnonzero(ok), np.flatnonzero(~ok)])
        for i in order[:n_images]:
            adv = a["clean"][i].copy()
            adv[a["pixel"][i][0], a["pixel"][i][1]] = a["colour"][i]
            p_new = a["p_new"][i] if "p_new" in a else float("nan")
            rows.append(
                {
                    "model": model,
                    "id": a["ids"][i],
                    "clean": as_rgb(a["clean"][i]),
                    "adv": as_rgb(adv),
                    "cam_before": a["cam_before"][i],
                    "cam_after": a["cam_after"][i],
                    "pixel": a["pixel"][i],
                    "colour": tuple(int(v) for v in a["colour"][i]),
                    "label": int(a["labels"][i]),
                    "before": int(a["pred_before"][i]),
                    "pred": int(a["pred_after"][i]),
                    "ok": bool(a["success"][i]),
                    "p": (float(a["p_before"][i]), float(a["p_after"][i])),
                    "p_new": float(p_new),
                }
            )
    cols = [
        "clean image:\nGrad-CAM of the label",
        "attacked image: pixel circled,\nsquare = its new colour",
        "attacked image:\nGrad-CAM of the new class",
    ]
    n = max(1, len(rows))
    fig, axes = panel_grid(n, 3, (7.2, 2.5 * n + 0.8))
    im = None
    for r, row in enumerate(rows):
        h, w = row["clean"].shape[:2]
        im = overlay(axes[r, 0], row["clean"], metrics.upsample_map(row["cam_before"], (h, w)))
        axes[r, 1].imshow(row["adv"], interpolation="nearest")
        y, x = row["pixel"]
        colour = np.array(row["colour"] * (3 if len(row["colour"]) == 1 else 1)) / 255
        axes[r, 1].add_patch(pyplot().Circle((x, y), radius=max(2.0, w / 12), fill=False, color="lime", linewidth=1.5))
        axes[r, 1].add_patch(
            pyplot().Rectangle(
                (0.80, 0.80),
                0.17,
                0.17,
                transform=axes[r, 1].transAxes,
                facecolor=colour,
                edgecolor="white",
                linewidth=1.0,
            )
        )
        overlay(axes[r, 2], row["adv"], metrics.upsample_map(row["cam_after"], (h, w)))
        status = "" if row["ok"] else "\nattack failed"
        axes[r, 0].set_ylabel(
            f"{row['model']}\n{row['id']}{status}", fontsize=8, color="black" if row["ok"] else "firebrick"
        )
        axes[r, 0].set_xlabel(
            f"label {name(row['label'])}; predicted {name(row['before'])}\np(label) = {row['p'][0]:.3f}", fontsize=7.5
        )
        rgb = ", ".join(str(v) for v in row["colour"])
        axes[r, 1].set_xlabel(
            f"pixel (row {y}, col {x}) set to\n{'RGB' if len(row['colour']) == 3 else 'gray'} ({rgb})", fontsize=7.5
        )
        p_new = "" if np.isnan(row["p_new"]) else f"p(new) = {row['p_new']:.3f}, "
        axes[r, 2].set_xlabel(
            f"predicted {name(row['pred'])}{' (attack failed)' if not row['ok'] else ''}\n"
            f"{p_new}p(label) = {row['p'][1]:.3f}",
            fontsize=7.5,
        )
        tidy_row(axes, r, cols, fontsize=8.5)
    if im is not None:
        colorbar(
            fig,
            im,
            axes[:, [0, 2]].ravel().tolist(),
            "Grad-CAM, 0–1 of its max (upsampled bilinearly)",
            label_size=8,
            location="bottom",
            shrink=0.6,
            aspect=30,
            pad=0.02,
        )
    save(fig, path)


# --- the claim ----------------------------------------------------------------------------------


def min_pairs(alpha: float) -> int:
    """The fewest pairs at which a two-sided exact Wilcoxon signed-rank test can reach ``p < alpha``:
    the smallest ``n`` with ``2 · 2^-n < alpha`` (α = 0.05 → 6)."""
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def sensitivity_respected(row, alpha: float = 0.05) -> str:
    """Does one model's map respect Sensitivity on its one-pixel attacks (one row of Table 6)?

    Sensitivity (Sundararajan et al. 2017; the study's §6): a feature whose change alone changes the
    prediction must get attribution. Read against the chance level — the same map at a seeded random
    pixel of the same image — over the successful attacks, with ``b, a`` the mean map value (0–1) at
    the attacked pixel before (class: the label) and after (class: the new prediction), ``r_b, r_a``
    the random pixel's, ``[b_low, b_high]`` the 95 % interval of ``b`` and ``p`` the table's Wilcoxon
    signed-rank p-value (attacked vs random, before):

    - ``holds`` (respects):           ``p < α`` and ``b > r_b`` (significantly above chance), and ``a > r_a``;
    - ``does not hold`` (violates):   (``b_high ≤ r_b`` or (``p < α`` and ``b < r_b``)) and ``a ≤ r_a``:
      the attacked pixel gets no more than a random one, before and after;
    - ``undecided`` otherwise, and when fewer than :func:`min_pairs` attacks succeeded.
    """
    vals = [row.get(k) for k in ("before_mean", "random_before_mean", "after_mean", "random_after_mean", "before_high")]
    if int(row.get("successful", 0)) < min_pairs(alpha) or any(v is None or pd.isna(v) for v in vals):
        return UNDECIDED
    b, rb, a, ra, b_high = (float(v) for v in vals)
    p = row.get("wilcoxon_p")
    significant = p is not None and not pd.isna(p) and float(p) < alpha
    if significant and b > rb and a > ra:
        return HOLDS
    if (b_high <= rb or (significant and b < rb)) and a <= ra:
        return FAILS
    return UNDECIDED


SENSITIVITY_WORDS = {HOLDS: "respects Sensitivity", FAILS: "does not respect Sensitivity", UNDECIDED: "undecided"}


def claim_one_pixel_sensitivity(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """GoogLeNet's Grad-CAM respects Sensitivity (:func:`sensitivity_respected` holds) and VGG-16's
    does not (it fails); the two parts are combined with :func:`combine`. With one of the two
    models absent from Table 6 the claim fails when the present part fails, else is not evaluated."""
    t = tables["table6"]
    t = t[t["method"] == "gradcam"]
    k = min_pairs(ctx.alpha)
    criterion = (
        f"per model, Grad-CAM (0–1, map / max) over the successful attacks: b, a = mean value at the attacked "
        f"pixel before (label) and after (new class), r_b, r_a = the same at a seeded random pixel (chance "
        f"level), p = Wilcoxon signed-rank p-value of attacked vs random (before). Respects Sensitivity: "
        f"p < {ctx.alpha:g}, b > r_b and a > r_a; does not: (the 95 % interval of b at or below r_b, or "
        f"p < {ctx.alpha:g} with b < r_b) and a ≤ r_a; otherwise, or with fewer than {k} successful attacks "
        f"(the fewest at which the test can reach p < {ctx.alpha:g}), undecided. Holds when GoogLeNet respects "
        f"it and VGG-16 does not"
    )
    parts, numbers, missing = [], [], []
    for role, label, wanted in (("googlenet", "GoogLeNet", HOLDS), ("vgg16", "VGG-16", FAILS)):
        model = role_model(t["model"], role, ctx)
        if model is None:
            missing.append(label)
            continue
        r = t[t["model"] == model].iloc[0]
        v = sensitivity_respected(r, ctx.alpha)
        parts.append(UNDECIDED if v == UNDECIDED else HOLDS if v == wanted else FAILS)
        numbers.append(
            f"{model}: {int(r['successful'])} of {int(r['attacks'])} attacks successful; attacked pixel "
            f"before {r['before_mean']:.3f} [{r['before_low']:.3f}, {r['before_high']:.3f}] vs random "
            f"{r['random_before_mean']:.3f}, after {r['after_mean']:.3f} vs random "
            f"{r['random_after_mean']:.3f}; Wilcoxon p = {r['wilcoxon_p']:.3g} → {SENSITIVITY_WORDS[v]}"
        )
    if missing:
        if FAILS in parts:
            return Verdict(FAILS, "; ".join(numbers), criterion)
        return Verdict(
            f"not evaluated (Table 6 lacks a {' and a '.join(missing)}-type model)", "; ".join(numbers), criterion
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


TITLE = (
    "Table 6 — one-pixel attacks: map value (0–1) at the attacked pixel, over the successful attacks "
    "(mean ± std [min, max])"
)


def notes(cfg: dict) -> list[str]:
    """What Table 6 computed (``cfg``: the config's ``table6``)."""
    out = [
        f"First {cfg['images']} images of the evaluation split of {cfg['dataset']}; differential evolution with "
        f"population {cfg['population']}, at most {cfg['generations']} generations, F = {cfg['f']}, no crossover, "
        "stopping when the best candidate is misclassified (the study: 400 × 100 on 250 ImageNet images). "
        "Successful: the prediction changed from the label on an image classified correctly before the attack "
        "(an image misclassified clean counts as attacked, not successful).",
        "Before: the map of the label on the clean image; after: the map of the new prediction on the attacked "
        "image. Grad-CAM upsampled bilinearly to the input and divided by its max; Integrated Gradients (zero "
        f"baseline, {cfg['ig_steps']} steps) as sum over channels of |IG| divided by its max — the reference row.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); percentile rank: share of the "
        "map's pixels <= the attacked pixel's value; Wilcoxon signed-rank test (two-sided) of attacked vs random, "
        "before the attack.",
    ]
    if cfg.get("methods"):
        out.append(
            f"Further CAM-type sets ({', '.join(cfg['methods'])}): their maps of the same classes on the cached clean "
            "and attacked images (no new attack), upsampled and divided by their max as Grad-CAM's (pytorch-grad-cam's "
            "sets: the library's per-layer CAM before its min-max scaling, at the layer's grid as Grad-CAM's)."
        )
    return out


STUDY_TITLE = "Table 6 on the study's own attacks — Grad-CAM (0–1) at the attacked pixel (mean ± std [min, max])"


def study_notes(cfg: dict) -> list[str]:
    """What Table 6 on the study's own attacks computed (``cfg``: the config's ``table6``)."""
    attacks = ", ".join(f"{m}: {p}" for m, p in cfg["study_attacks"].items())
    return [
        f"The study's successful one-pixel attacks ({attacks}), "
        f"pixel [x, y] read as {cfg['study_xy']} (the study's code indexes [row, col] = [x, y]), replayed on the first "
        f"{cfg['images']} images of the evaluation split of {cfg['dataset']} as this pipeline preprocesses them (the "
        "study resized to 224×224 without cropping): the pixel set to (r, g, b) / 255 in pixel space.",
        "Before: Grad-CAM of the clean image's top-1 class (what the study's code explained and attacked) and of the "
        "label; after: of the attacked image's top-1 class. Upsampled bilinearly to the input and divided by its max, "
        "as in Table 6. 'Successful here': the attack still changes the top-1 class.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); Wilcoxon signed-rank test "
        "(two-sided) of attacked vs random, before. The study's printed values (its Table 6) on the first row of "
        "each model.",
    ]


def n_attacked(config: dict, n_eval: int) -> int:
    """Images Table 6 attacks: the first ``table6.images`` of the evaluation split (``n_eval`` images)."""
    return min(config["table6"]["images"], n_eval)


def attack_rows(config: dict, shard: int, n_eval: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of the evaluation split that attack shard ``shard`` covers."""
    size = config["table6"]["shard_size"]
    return shard * size, min((shard + 1) * size, n_attacked(config, n_eval))


def attack_shards(config: dict, dataset: str, model: str, n_eval: int) -> list[str]:
    """The one-pixel attack shards of ``model`` on the first ``table6.images`` of ``dataset``."""
    n = math.ceil(n_attacked(config, n_eval) / config["table6"]["shard_size"])
    return [f"results/attacks/one_pixel/{dataset}/{model}/shard-{shard}.h5" for shard in range(n)]


def extra_labels(config: dict) -> dict[str, str]:
    """``{set: label}`` of the heatmap sets of ``table6.methods``, in order."""
    return {h: method_label(config["heatmaps"][h]["method"]) for h in config.get("table6", {}).get("methods", [])}


def extra_inputs(config: dict, dataset: str, model: str) -> dict[str, str]:
    """What the sensitivity job reads beyond the attack shards, the model and the manifest (what the
    shards are checked against): the image set (its mean and std) where ``table6.methods`` names
    further sets, else nothing."""
    if not config.get("table6", {}).get("methods"):
        return {}
    return {"images": f"resources/data/{dataset}/images.h5"}


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table6")
    methods = config["table6"]["methods"]
    for h in methods:
        require("table6.methods", h, config["heatmaps"])
        if h in ("gradcam", "ig", *TABLE6_METHODS) or methods.count(h) > 1:
            raise ConfigError(
                f"table6.methods: {h} (expected further heatmap sets, each once; Grad-CAM and IG are Table 6's own "
                "rows, and a set may not be named gradcam or ig)"
            )
    for model, f in (config["table6"].get("study_attacks") or {}).items():
        require("table6.study_attacks", model, config["table6"]["models"])
        if not os.path.isfile(shipped(f)):
            raise ConfigError(
                f"table6.study_attacks.{model}: no file {f} (expected the study's attacks, "
                "'index,value' lines as shipped in resources/study/one_pixel/)"
            )


def targets(config: dict) -> list[str]:
    files = [*table_files("table6"), "results/figures/appendix_f.png"]
    if config["table6"].get("study_attacks"):
        files += table_files("table6_study")
    return files


CLAIMS = (
    Claim(
        "one-pixel-sensitivity",
        "On one-pixel attacks GoogLeNet's Grad-CAM respects Sensitivity and VGG-16's does not.",
        "Table 6",
        ("table6",),
        claim_one_pixel_sensitivity,
        study_gap="the study published its attacked pixels but not the Grad-CAM values at them",
    ),
)

EXPERIMENT = Experiment(
    name="sensitivity",
    order=6,
    title="Table 6 / App. F — sensitivity (one-pixel attacks)",
    section="table6",
    targets=targets,
    tables=("table6", "table6_study"),
    claims=CLAIMS,
    check=check,
)
