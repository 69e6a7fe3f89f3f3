"""Table 2: the pointing game (a CAM's peak inside a ground-truth box; recall over the top-5 maps).

Per image (:func:`pointing_rows`, from ``top5+label`` shards of a CAM-type set: Grad-CAM, or any
CAM-type method named in ``table2.heatmaps``), the table with intervals and paired differences
between models (:func:`table2`), its notes, and the claim it decides (on the Grad-CAM rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.claims import NO_RAW, PAIRED_CRITERION, Claim, Context, Verdict, combine, greater, iv, pair, reverse
from cameval.data.manifest import gt_boxes_of, read_manifest
from cameval.errors import ConfigError, DataError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.formatting import fmt, row_interval
from cameval.methods import label as method_label
from cameval.paths import layout
from cameval.store import Expect, Shard, check_shards
from cameval.tables import aligned, paired_columns, stat_columns


def pointing_rows(
    shards: list[str],
    manifest: str,
    tolerances=(0, 15),
    threshold: float = 0.5,
    scale: str = "image",
    topk: int = 5,
    expected: int | None = None,
    expect: Expect | None = None,
) -> pd.DataFrame:
    """Table 2's per-image pointing-game outcome from ``top{k}+label`` shards of a CAM-type set.

    - accuracy (Zhang et al., 2016): the arg-max of the ground-truth class's map, upsampled to
      the input, lies in one of its boxes (or within ``tolerance`` px): ``hit_tol{t}``;
    - recall (the Grad-CAM paper's extension): each of the top-k maps is kept when its peak
      is >= ``threshold`` — the peak taken on the scale ``scale``: ``image`` divides by the
      largest peak among the image's top-k maps, ``raw`` uses the unnormalized Grad-CAM value —
      and scores a hit when (class present and point in its box and kept) or (class absent and
      rejected). ``recall`` is the share of hits among the k maps of the image.

    ``expected``: the rows the shards must cover, each once (:func:`cameval.store.check_shards`);
    ``expect``: what the shards must have been made from (:class:`cameval.store.Expect`).
    """
    if scale not in ("image", "raw"):
        raise ValueError(f"scale: {scale!r} is not one of image, raw")
    check_shards(shards, expected, expect)
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


def table2(
    rows: dict,
    tolerances,
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    methods: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2: pointing-game accuracy (per tolerance) and recall per model and heatmap set, as
    fractions; within a set, each model after the first gets the paired difference from the first
    on the same images (``accuracy_tol{t}_minus_{first}``, ``recall_minus_{first}``).

    ``rows`` is keyed by ``model`` (one set) or by ``(model, heatmap set)``: then ``methods`` maps
    each set to its method (``gradcam``, ``pytorch_grad_cam:LayerCAM`` …) and the CSV gains the
    columns ``heatmap`` and ``method`` (last, so the other columns keep their places), the display
    a ``method`` column of labels. Rows come set by set, in the order given.

    ``reference[model]`` = ``{"study": {accuracy, recall}, "original": {accuracy, recall}}``: the
    study's values and the original paper's (Selvaraju et al. quote GoogLeNet's accuracy only, on
    COCO) go to the columns ``study_accuracy`` … ``original_recall`` of the Grad-CAM rows (method
    ``gradcam``, or every row when ``rows`` is keyed by model); the display shows the original
    paper's columns where any model has such a value.
    """
    reference = reference or {}
    methods = methods or {}
    keyed = {k if isinstance(k, tuple) else (k, None): df for k, df in rows.items()}
    sets = list(dict.fromkeys(h for _, h in keyed))
    shown_sources = ["study"] + (["original"] if any(r.get("original") for r in reference.values()) else [])
    full, display = [], []
    for h in sets:
        group = [(m, df) for (m, hh), df in keyed.items() if hh == h]
        first, base = group[0]  # every other model is paired with the first, within the set
        method = methods.get(h, "gradcam") if h is not None else None
        for model, df in group:
            rec, shown = {"model": model, "n": len(df)}, {"model": model}
            if h is not None:
                shown["method"] = method_label(method)
            shown["n"] = len(df)
            for t in tolerances:
                stat_columns(
                    rec, shown, f"accuracy_tol{t}", f"accuracy ({t} px)", df[f"hit_tol{t}"].astype(float), n_boot, seed
                )
            stat_columns(rec, shown, "recall", "recall", df["recall"], n_boot, seed)
            if model != first and "id" in df and "id" in base:  # paired on the images both models saw
                for col, text in [(f"hit_tol{t}", f"accuracy ({t} px)") for t in tolerances] + [("recall", "recall")]:
                    a, b = aligned(df, base, col)
                    key = col.replace("hit_", "accuracy_")
                    paired_columns(rec, shown, f"{key}_minus_{first}", f"{text} − {first}'s", a, b, n_boot, seed)
            cited = method in (None, "gradcam")  # the study's numbers are Grad-CAM's
            for source in ("study", "original"):
                for key in ("accuracy", "recall"):
                    value = (reference.get(model, {}).get(source) or {}).get(key) if cited else None
                    rec[f"{source}_{key}"] = value
                    if reference and source in shown_sources:
                        shown[f"{key} ({source})"] = fmt(value, 5 if source == "study" else 4)
            if h is not None:
                rec["heatmap"], rec["method"] = h, method
            full.append(rec)
            display.append(shown)
    table = pd.DataFrame(full)
    last = [c for c in ("heatmap", "method") if c in table]
    return table[[c for c in table if c not in last] + last], pd.DataFrame(display)


def gradcam_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of Table 2's first Grad-CAM set (all rows of a table without a ``method`` column)."""
    if "method" not in table:
        return table
    cams = table[table["method"] == "gradcam"]
    return cams[cams["heatmap"] == cams["heatmap"].iloc[0]] if len(cams) else cams


def claim_pointing_googlenet_vs_vgg(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = gradcam_rows(tables["table2"]).set_index("model")
    vgg, goo = ctx.roles.get("vgg16"), ctx.roles.get("googlenet")
    criterion = (
        "GoogLeNet's pointing accuracy (largest configured tolerance) above VGG-16's, and VGG-16's recall "
        "above GoogLeNet's: intervals separated"
    )
    if vgg not in t.index or goo not in t.index:
        return Verdict("not evaluated (Table 2 lacks a VGG-16- or GoogLeNet-type model)", "", criterion)
    tol = max(
        int(c[len("accuracy_tol") :])
        for c in t.columns
        if c.startswith("accuracy_tol") and c[len("accuracy_tol") :].isdigit()
    )
    acc = f"accuracy_tol{tol}"
    numbers = (
        f"accuracy ({tol} px): {goo} {row_interval(t.loc[goo], acc, 3)} vs {vgg} {row_interval(t.loc[vgg], acc, 3)}; "
        f"recall: {vgg} {row_interval(t.loc[vgg], 'recall', 3)} vs {goo} {row_interval(t.loc[goo], 'recall', 3)}"
    )
    # paired on the same images where the table has the difference of one model from the other
    pairs = [(m, o, f"{col}_minus_{o}") for col in (acc, "recall") for m, o in ((goo, vgg), (vgg, goo))]
    found = {
        col: (m, o, key)
        for col in (acc, "recall")
        for m, o, key in pairs
        if key.startswith(col) and key in t.columns and not pd.isna(t.loc[m].get(key))
    }
    if set(found) == {acc, "recall"}:
        parts = []
        for col, want in ((acc, goo), ("recall", vgg)):  # GoogLeNet's accuracy higher, VGG-16's recall higher
            m, o, key = found[col]
            v, diff = pair(t.loc[m], key, ctx.alpha)
            parts.append(v if m == want else reverse(v))
            numbers += f"; {col} {m} − {o} (paired): {diff}"
        criterion = criterion.replace("intervals separated", PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha))
    else:
        parts = [
            greater(iv(t.loc[goo], acc), iv(t.loc[vgg], acc)),
            greater(iv(t.loc[vgg], "recall"), iv(t.loc[goo], "recall")),
        ]
    return Verdict(combine(parts), numbers, criterion)


TITLE = "Table 2 — pointing game (fraction of hits, 95 % bootstrap interval)"


def notes(cfg: dict, heatmaps: dict | None = None, n_eval: int | None = None) -> list[str]:
    """What Table 2 computed (``cfg``: the config's ``table2``; ``heatmaps``: the config's heatmap
    sets, to name each set's method and its images; ``n_eval``: images of the evaluation split)."""
    out = [
        "Accuracy: the arg-max of the ground-truth class's map (bilinearly upsampled to the input) "
        f"lies in a GT box, or within the tolerance (px, Euclidean); tolerances {cfg['tolerances']}.",
        f"Recall: each of the top-5 maps is kept when its peak >= {cfg['threshold']} "
        + (
            "after dividing by the largest peak of the image's top-5 maps"
            if cfg["scale"] == "image"
            else "on the unnormalized scale of the map"
        )
        + "; hit = (class present, point in its box, kept) or (class absent, rejected).",
        "The study's accuracy column is compared with ours at tolerance "
        f"{cfg['tolerances'][-1]} px (Zhang et al. used 15 px on 224² images).",
    ]
    if heatmaps:
        sets = []
        for h in cfg["heatmaps"]:
            spec = heatmaps[h]
            n = spec.get("images")
            where = f" (first {n} images)" if n is not None and (n_eval is None or n < n_eval) else ""
            sets.append(f"{h}: {method_label(spec['method'])}{where}")
        out.append(
            "One row per model and heatmap set, each set's own maps (targets top5+label): "
            + "; ".join(sets)
            + ". Paired differences are between models within a set; the study's values sit on the Grad-CAM rows."
        )
        library = [h for h in cfg["heatmaps"] if str(heatmaps[h]["method"]).startswith("pytorch_grad_cam:")]
        if library:
            out.append(
                "pytorch-grad-cam min-max normalizes every map it returns; its sets here ("
                + ", ".join(library)
                + ") hold the library's per-layer CAM before that scaling (ReLU applied, at the layer's grid, "
                "upsampled as Grad-CAM's), so the recall's peak threshold means for them what it means for Grad-CAM."
            )
            # as cameval.explain.libraries.raw_library_maps (torch-free here): FullGrad and aug_smooth
            # keep the maps the library returns
            params = {h: heatmaps[h].get("params") or {} for h in library}
            scaled = [h for h in library if heatmaps[h]["method"].endswith(":FullGrad") or params[h].get("aug_smooth")]
            if scaled:
                out.append(
                    f"Except {', '.join(scaled)}: FullGrad and test-time augmentation (aug_smooth) have no per-layer "
                    "map before the scaling, so those maps are min-max normalized (every peak ≈ 1) and their recall "
                    "is not comparable with Grad-CAM's."
                )
    return out


def table_inputs(config: dict) -> dict[str, str]:
    """The per-image rows Table 2 aggregates: ``{model}__{heatmap}`` -> its CSV, set by set."""
    t, paths = config["table2"], layout(config)
    return {
        f"{model}__{h}": paths.metrics("pointing", t["dataset"], model, h)
        for h in t["heatmaps"]
        for model in t["models"]
    }


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table2")
    for h in config["table2"]["heatmaps"]:
        require("table2.heatmaps", h, config["heatmaps"])
    if len(set(config["table2"]["heatmaps"])) < len(config["table2"]["heatmaps"]):
        raise ConfigError(f"table2.heatmaps: {config['table2']['heatmaps']} names a set twice (expected each once)")


CLAIMS = (
    Claim(
        "pointing-googlenet-vgg",
        "In the pointing game GoogLeNet's Grad-CAM is more accurate than VGG-16's, "
        "VGG-16's has the higher recall (study: 0.904 vs 0.864; 0.767 vs 0.826).",
        "Table 2",
        ("table2",),
        claim_pointing_googlenet_vs_vgg,
        study_gap=NO_RAW.format("Table 2"),
    ),
)

EXPERIMENT = Experiment(
    name="pointing",
    order=2,
    title="Table 2 — pointing game",
    section="table2",
    targets=lambda config: table_files(config, "table2"),
    heatmaps=lambda config: model_sets(config, "table2", config["table2"]["heatmaps"]),
    tables=("table2",),
    claims=CLAIMS,
    check=check,
)
