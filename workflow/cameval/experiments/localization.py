"""Table 1: weakly supervised localization (Grad-CAM, Grad-CAM++ boxes on ILSVRC val).

Per image (:func:`localization_rows`, from top-5 CAM shards), the table of classification and
localization errors with intervals (:func:`table1`), its notes, and the claims it decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.claims import (
    FAILS,
    HOLDS,
    NO_RAW,
    PAIRED_CRITERION,
    UNDECIDED,
    Claim,
    Context,
    Verdict,
    combine,
    greater,
    has_pair,
    iv,
    pair,
)
from cameval.data.manifest import gt_boxes_of, read_manifest
from cameval.errors import DataError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.formatting import fmt, interval, row_interval
from cameval.metrics import mean_ci
from cameval.paths import layout
from cameval.store import Expect, Shard, check_shards
from cameval.tables import aligned, paired_columns


def localization_rows(
    shards: list[str],
    manifest: str,
    threshold: float = 0.15,
    rule: str = "ilsvrc",
    topk: int = 5,
    expected: int | None = None,
    expect: Expect | None = None,
) -> pd.DataFrame:
    """Table 1's per-image outcome (ILSVRC CLS-LOC protocol) from top-k CAM shards.

    Each of the top-k maps is upsampled to the input (bilinear), binarized at ``threshold`` of
    its max, boxed around its largest connected component and compared with the GT boxes of
    its class (``rule``: ``ilsvrc`` IoU >= 0.5, or the study's eq. 3). ``expected``: the rows the
    shards must cover, each once (:func:`cameval.store.check_shards`); ``expect``: what the shards
    must have been made from (:class:`cameval.store.Expect`).
    """
    check_shards(shards, expected, expect)
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


TABLE1_METRICS = {  # column -> (per-image correctness column, label)
    "top1_loc": ("loc_top1", "top-1 loc. err."),
    "top5_loc": ("loc_top5", "top-5 loc. err."),
    "top1_cls": ("cls_top1", "top-1 cls. err."),
    "top5_cls": ("cls_top5", "top-5 cls. err."),
}


def table1(
    rows: dict[tuple[str, str], pd.DataFrame], reference: dict | None = None, n_boot: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1: classification and localization error (%) per model and CAM method.

    ``rows[(model, method)]`` are :func:`cameval.experiments.localization_rows`; ``reference``
    maps a model to ``{"study": {...}, "original": {...}}`` with keys of ``TABLE1_METRICS``.
    A method other than Grad-CAM gets the paired difference of its localization errors from
    Grad-CAM's on the same images (``top1_loc_minus_gradcam`` …, percentage points).
    Returns the full table (CSV) and its display form (Markdown).
    """
    reference = reference or {}
    full, display = [], []
    for (model, method), df in rows.items():
        rec = {"model": model, "method": method, "n": len(df)}
        shown = {"model": model, "method": method, "n": len(df)}
        for key, (col, label) in TABLE1_METRICS.items():
            err = 100.0 * (1.0 - df[col].astype(float).to_numpy())
            s = mean_ci(err, n_boot=n_boot, seed=seed)
            rec.update({key: s["mean"], f"{key}_low": s["low"], f"{key}_high": s["high"]})
            shown[label] = interval(s["mean"], s["low"], s["high"])
            for source in ("study", "original"):
                value = reference.get(model, {}).get(source, {}).get(key)
                rec[f"{source}_{key}"] = value
                if reference:
                    shown[f"{label} ({source})"] = fmt(value)
        other = rows.get((model, "gradcam"))
        if method != "gradcam" and other is not None and "id" in df and "id" in other:
            for key, (col, label) in TABLE1_METRICS.items():
                if key.endswith("_loc"):  # error difference (percentage points) vs Grad-CAM, same images
                    a, b = aligned(df, other, col)
                    paired_columns(
                        rec,
                        shown,
                        f"{key}_minus_gradcam",
                        f"{label} − Grad-CAM's",
                        100.0 * (b - a),
                        np.zeros_like(a),
                        n_boot,
                        seed,
                        digits=2,
                    )
        full.append(rec)
        display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


def claim_localization_close_to_original(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table1"]
    t = t[t["method"] == "gradcam"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        for key in ("top1_loc", "top5_loc"):
            orig = r.get(f"original_{key}")
            if orig is None or pd.isna(orig):
                continue
            lo, hi = iv(r, key)
            if lo >= orig - ctx.tolerance and hi <= orig + ctx.tolerance:
                parts.append(HOLDS)
            elif hi < orig - ctx.tolerance or lo > orig + ctx.tolerance:
                parts.append(FAILS)
            else:
                parts.append(UNDECIDED)
            numbers.append(f"{r['model']} {key}: {row_interval(r, key)} vs original {orig:g}")
    criterion = (
        f"the 95 % interval of our Grad-CAM error lies within ±{ctx.tolerance:g} points of the original "
        f"paper's (holds), entirely outside (does not hold), or straddles a bound (undecided)"
    )
    if not parts:
        return Verdict(
            "not evaluated (no original-paper values in table1.reference)",
            "; ".join(f"{r['model']} top-1 loc. err. {row_interval(r, 'top1_loc')}" for _, r in t.iterrows()),
            criterion,
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_gradcampp_worse_on_imagenet(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table1"]
    parts, numbers = [], []
    paired = all(has_pair(t, f"{k}_loc_minus_gradcam") for k in ("top1", "top5"))
    for model, g in t.groupby("model", sort=False):
        by = g.set_index("method")
        if not {"gradcam", "gradcampp"} <= set(by.index):
            continue
        for key in ("top1_loc", "top5_loc"):
            pp, gc = by.loc["gradcampp"], by.loc["gradcam"]
            text = f"{model} {key}: Grad-CAM++ {row_interval(pp, key)} vs Grad-CAM {row_interval(gc, key)}"
            if paired:
                v, diff = pair(pp, f"{key}_minus_gradcam", ctx.alpha)
                parts.append(v)
                text += f" (paired, points: {diff})"
            else:
                parts.append(greater(iv(pp, key), iv(gc, key)))
            numbers.append(text)
    criterion = "Grad-CAM++'s localization error (top-1 and top-5) above Grad-CAM's for every model, " + (
        PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha) if paired else "intervals separated"
    )
    if not parts:
        return Verdict("not evaluated (table1.methods lacks gradcam or gradcampp)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


TITLE = "Table 1 — weakly supervised localization (error %, 95 % bootstrap interval)"


#: the reference columns Table 1 may show beside ours (``table1.reference.<model>.<source>``), and whose
SOURCES = {"study": "Nagy et al.", "original": "Selvaraju et al."}


def notes(threshold: float, rule: str, reference: dict | None = None) -> list[str]:
    """What Table 1 computed (its Markdown's notes); the reference columns are described where
    ``reference`` (``table1.reference``) gives them."""
    shown = [s for s in SOURCES if any(s in (r or {}) for r in (reference or {}).values())]
    columns = "; ".join(f"'{s}' = {SOURCES[s]}" for s in shown)
    return [
        f"Box: largest 8-connected component of the map >= {threshold:g} x max "
        "(map upsampled bilinearly to the input).",
        "Correct: "
        + (
            "IoU >= 0.5 with a GT box of the class (ILSVRC CLS-LOC rule)."
            if rule == "ilsvrc"
            else "IoU >= min(0.5, wh/((w+10)(h+10))) (the study's eq. 3)."
        ),
        "Maps for each of the top-5 predicted classes" + (f"; {columns}." if columns else "."),
    ]


def table_inputs(config: dict) -> dict[str, str]:
    """The per-image rows Table 1 aggregates: ``{model}__{method}`` -> its CSV."""
    t, paths = config["table1"], layout(config)
    return {
        f"{model}__{method}": paths.metrics("localization", t["dataset"], model, method)
        for model in t["models"]
        for method in t["methods"]
    }


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table1")
    for method in config["table1"]["methods"]:
        require("table1.methods", method, config["heatmaps"])


CLAIMS = (
    Claim(
        "loc-close-to-original",
        "Grad-CAM's weakly supervised localization error is close to the original paper's (Selvaraju et al., Table 1).",
        "Table 1",
        ("table1",),
        claim_localization_close_to_original,
        study_gap=NO_RAW.format("Table 1"),
    ),
    Claim(
        "gradcampp-worse-imagenet",
        "Grad-CAM++ localizes worse than Grad-CAM on ImageNet (higher error).",
        "Table 1",
        ("table1",),
        claim_gradcampp_worse_on_imagenet,
        study_gap=NO_RAW.format("Table 1"),
    ),
)

EXPERIMENT = Experiment(
    name="localization",
    order=1,
    title="Table 1 — weakly supervised localization",
    section="table1",
    targets=lambda config: table_files(config, "table1"),
    heatmaps=lambda config: model_sets(config, "table1", config["table1"]["methods"]),
    tables=("table1",),
    claims=CLAIMS,
    check=check,
)
