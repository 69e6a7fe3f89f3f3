"""Per-image evaluation rows of each experiment, read from heatmap shards (nothing recomputed).

Every function returns a DataFrame with one row per image; the tables aggregate them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.data.images import read_manifest
from cameval.errors import DataError
from cameval.store import Shard, check_shards


def gt_boxes_of(manifest: pd.DataFrame, image_id: str, cls: int) -> list[tuple]:
    """The ground-truth boxes ``(x0, y0, x1, y1)`` of class ``cls`` in image ``image_id``."""
    return [tuple(b[1:5]) for b in manifest.at[image_id, "boxes"] if int(b[0]) == int(cls)]


def localization_rows(
    shards: list[str],
    manifest: str,
    threshold: float = 0.15,
    rule: str = "ilsvrc",
    topk: int = 5,
    expected: int | None = None,
) -> pd.DataFrame:
    """Table 1's per-image outcome (ILSVRC CLS-LOC protocol) from top-k CAM shards.

    Each of the top-k maps is upsampled to the input (bilinear), binarized at ``threshold`` of
    its max, boxed around its largest connected component and compared with the GT boxes of
    its class (``rule``: ``ilsvrc`` IoU >= 0.5, or the study's eq. 3). ``expected``: the rows the
    shards must cover, each once (:func:`cameval.store.check_shards`).
    """
    check_shards(shards, expected)
    man = read_manifest(manifest).set_index("id")
    rows = []
    for path in tqdm(shards, desc="localization", unit="shard"):
        with Shard(path) as s:
            if s.targets.shape[1] < topk:
                raise DataError(f"{path}: holds {s.targets.shape[1]} maps per image, need the top-{topk}")
            size = tuple(s.attrs["input_size"])
            for i, image_id in enumerate(s.ids):
                label, targets = int(s.labels[i]), [int(t) for t in s.targets[i, :topk]]
                maps = [metrics.upsample_map(m, size) for m in s.maps[i, :topk]]
                out = metrics.localization_errors(
                    targets, label, gt_boxes_of(man, image_id, label), maps, threshold=threshold, rule=rule
                )
                rows.append({"id": image_id, "label": label, "top1": targets[0], **out})
    return pd.DataFrame(rows)


def pointing_rows(
    shards: list[str],
    manifest: str,
    tolerances=(0, 15),
    threshold: float = 0.5,
    scale: str = "image",
    topk: int = 5,
    expected: int | None = None,
) -> pd.DataFrame:
    """Table 2's per-image pointing-game outcome from ``top{k}+label`` Grad-CAM shards.

    - accuracy (Zhang et al., 2016): the arg-max of the ground-truth class's map, upsampled to
      the input, lies in one of its boxes (or within ``tolerance`` px): ``hit_tol{t}``;
    - recall (the Grad-CAM paper's extension): each of the top-k maps is kept when its peak
      is >= ``threshold`` — the peak taken on the scale ``scale``: ``image`` divides by the
      largest peak among the image's top-k maps, ``raw`` uses the unnormalized Grad-CAM value —
      and scores a hit when (class present and point in its box and kept) or (class absent and
      rejected). ``recall`` is the share of hits among the k maps of the image.

    ``expected``: the rows the shards must cover, each once (:func:`cameval.store.check_shards`).
    """
    if scale not in ("image", "raw"):
        raise ValueError(f"scale: {scale!r} is not one of image, raw")
    check_shards(shards, expected)
    man = read_manifest(manifest).set_index("id")
    rows = []
    for path in tqdm(shards, desc="pointing", unit="shard"):
        with Shard(path) as s:
            spec = s.attrs.get("targets_spec", "")
            if not spec.endswith("+label") or s.targets.shape[1] < topk + 1:
                raise DataError(f"{path}: the pointing game needs targets 'top{topk}+label' (has {spec!r})")
            size = tuple(s.attrs["input_size"])
            for i, image_id in enumerate(s.ids):
                label = int(s.labels[i])
                maps = [metrics.upsample_map(m, size) for m in s.maps[i]]
                gt = gt_boxes_of(man, image_id, label)
                row = {"id": image_id, "label": label}
                for t in tolerances:
                    row[f"hit_tol{t}"] = metrics.pointing_hit(maps[topk], gt, tolerance=t)
                peaks = np.array([float(m.max()) for m in maps[:topk]])
                top = peaks.max() if scale == "image" else 1.0
                hits = []
                for k in range(topk):
                    cls = int(s.targets[i, k])
                    boxes = gt_boxes_of(man, image_id, cls)
                    point = bool(boxes) and metrics.pointing_hit(maps[k], boxes)
                    peak = peaks[k] / top if top > 0 else 0.0
                    hits.append(metrics.recall_hit(point, peak, present=bool(boxes), threshold=threshold))
                row["recall"] = float(np.mean(hits))
                rows.append(row)
    return pd.DataFrame(rows)


def rankcorr_rows(
    occlusion: list[str],
    others: dict[str, list[str]],
    n_images: int,
    size: int = 14,
    reduce: str = "abs_max",
    expected: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Table 3's per-image Spearman rho between an occlusion map and each other map.

    ``others`` maps a method name (``guided_backprop``, ``gradcam``) to shards covering the same
    first images; ``guided_gradcam`` is formed from those two (Guided Backprop ⊙ upsampled
    Grad-CAM) when both are given. Pixel maps are reduced to one channel with ``reduce``
    (see :func:`cameval.metrics.reduce_channels`); all maps are explained for the top-1 class.
    ``expected`` maps ``occlusion`` and each key of ``others`` to the rows its shards must cover,
    each once (:func:`cameval.store.check_shards`; a missing key is not checked).
    """
    import torch

    expected = expected or {}
    for name, paths in {"occlusion": occlusion, **others}.items():
        check_shards(paths, expected.get(name))

    from cameval.explain.guided import combine_guided_gradcam

    occ = [Shard(p) for p in occlusion]
    other = {k: [Shard(p) for p in v] for k, v in others.items()}
    try:
        rows = []
        for o in occ:
            for i, image_id in enumerate(o.ids):
                if len(rows) >= n_images:
                    break
                row = {"id": image_id, "class": int(o.targets[i, 0])}
                occ_map = o.maps[i, 0]
                maps = {}
                for name, shard_list in other.items():
                    shard = _find(shard_list, image_id)
                    k = shard.ids.index(image_id)
                    if int(shard.targets[k, 0]) != row["class"]:
                        raise DataError(
                            f"{shard.path}: image {image_id} explains class "
                            f"{int(shard.targets[k, 0])}, occlusion explains {row['class']}"
                        )
                    maps[name] = shard.maps[k, 0]
                if "guided_backprop" in maps and "gradcam" in maps:
                    maps["guided_gradcam"] = combine_guided_gradcam(
                        torch.as_tensor(maps["guided_backprop"])[None], torch.as_tensor(maps["gradcam"])[None]
                    )[0].numpy()
                for name, m in maps.items():
                    flat = metrics.reduce_channels(m, reduce) if m.ndim == 3 else m
                    row[name] = metrics.rank_correlation(occ_map, flat, size=size)
                rows.append(row)
        if len(rows) < n_images:
            raise DataError(f"occlusion shards hold {len(rows)} images, {n_images} were asked for")
        return pd.DataFrame(rows)
    finally:
        for s in occ + [s for v in other.values() for s in v]:
            s.close()


def _find(shards: list[Shard], image_id: str) -> Shard:
    for s in shards:
        if image_id in s.ids:
            return s
    raise DataError(f"image {image_id} is in none of {[str(s.path) for s in shards]}")


def fgsm_rows(
    weights: str,
    images: str,
    manifest: str,
    out_h5: str,
    *,
    split: str,
    n_images: int,
    eps: float,
    layer: str | None = None,
    threshold: float = 0.15,
    size: int = 14,
    batch_size: int = 32,
) -> pd.DataFrame:
    """Appendix C, measured: FGSM on the first ``n_images`` of ``split``, Grad-CAM of the true class
    before and after, and how far the map moved.

    Per image: prediction before/after, ``rank_corr`` (Spearman of the two maps at
    ``size``×``size``) and ``box_iou`` (IoU of their ``threshold`` boxes, bilinear upsampling to
    the input). The attacked images and both maps are written to ``out_h5`` (atomically) for the
    figure.
    """
    import h5py
    import torch

    from cameval.attacks import fgsm
    from cameval.data.images import ImageSet
    from cameval.explain import explain
    from cameval.explain._core import default_layer, logits_of
    from cameval.heatmaps import eval_rows
    from cameval.io import atomic_path
    from cameval.models import load_model

    model = load_model(weights)
    layer = layer or default_layer(model)
    rows_m = eval_rows(manifest, split).iloc[:n_images]
    out, store = [], {"clean": [], "adv": [], "cam_clean": [], "cam_adv": []}
    with ImageSet(images) as imgs:
        mean, std = imgs.mean, imgs.std
        m = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        index = rows_m["index"].to_numpy()
        for b0 in tqdm(range(0, len(rows_m), batch_size), desc="fgsm", unit="batch"):
            chunk = rows_m.iloc[b0 : b0 + batch_size]
            pixels = (
                torch.as_tensor(imgs.uint8(index[b0 : b0 + batch_size]), dtype=torch.float32).permute(0, 3, 1, 2) / 255
            )
            labels = torch.as_tensor(chunk["label"].to_numpy(copy=True), dtype=torch.long)
            adv = fgsm(model, pixels, labels, eps, mean, std)
            x, xa = (pixels - m) / s, (adv - m) / s
            with torch.no_grad():
                before, after = logits_of(model(x)).argmax(1), logits_of(model(xa)).argmax(1)
            cam, cam_adv = explain(model, x, labels, layer=layer), explain(model, xa, labels, layer=layer)
            hw = tuple(x.shape[-2:])
            for i, image_id in enumerate(chunk["id"]):
                a = metrics.upsample_map(cam[i].numpy(), hw)
                b = metrics.upsample_map(cam_adv[i].numpy(), hw)
                box_a, box_b = metrics.heatmap_box(a, threshold), metrics.heatmap_box(b, threshold)
                out.append(
                    {
                        "id": image_id,
                        "label": int(labels[i]),
                        "pred_clean": int(before[i]),
                        "pred_adv": int(after[i]),
                        "correct_clean": bool(before[i] == labels[i]),
                        "correct_adv": bool(after[i] == labels[i]),
                        "rank_corr": metrics.rank_correlation(a, b, size=size),
                        "box_iou": metrics.iou(box_a, box_b) if box_a and box_b else 0.0,
                    }
                )
            store["clean"].append((pixels * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
            store["adv"].append((adv * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
            store["cam_clean"].append(cam.numpy())
            store["cam_adv"].append(cam_adv.numpy())
    df = pd.DataFrame(out)
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as f:
        for key, parts in store.items():
            f.create_dataset(key, data=np.concatenate(parts), compression="gzip")
        f.create_dataset("ids", data=np.asarray(df["id"], dtype=object), dtype=h5py.string_dtype())
        for key in ("label", "pred_clean", "pred_adv"):
            f.create_dataset(key, data=df[key].to_numpy())
        f.attrs.update({"eps": eps, "layer": layer})
    return df
