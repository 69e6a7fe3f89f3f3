"""Table 5 and Appendix E: weakly supervised localization of findings (ChestX-ray14 or digits-multi).

Per evaluation row — one (image, boxed finding) — and per heatmap set (all explain the row's
finding, read from shards; nothing is recomputed):

- CAM sets (Grad-CAM, Grad-CAM++ at some layer): the map is upsampled bilinearly to the image,
  boxed around its largest 8-connected component ``>= box_threshold · max`` (the study: 50 %);
  against the finding's ground-truth boxes (the best one counts):

  - ``loc_study``: IoU ``>= min(0.5, wh / ((w+10)(h+10)))`` (the study's eq. 3),
  - ``loc_iou50``: IoU ``>= 0.5``,
  - ``iou`` and ``iobb`` (intersection over the *predicted* box's area, Wang et al., CVPR 2017),
    from which the table forms Wang et al.'s accuracies at ``T(IoU)`` and ``T(IoBB)``;

- every set: ``inbox``, the share of the pixels ``>= inbox_threshold · max`` (85 %) that lie in
  the finding's boxes (:func:`cameval.metrics.inbox_ratio`). Pixel maps ``[C, H, W]`` (IG,
  Gradient SHAP) are first reduced to ``Σ_c |m_c|`` (``reduce``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.data.images import read_manifest
from cameval.errors import DataError
from cameval.experiments import gt_boxes_of
from cameval.store import Shard, check_shards

THRESHOLDS = (0.1, 0.25, 0.5, 0.75)


def _rows_of(paths: list[str]):
    """Yield ``(shard, i)`` over the rows of several shards, in order."""
    for p in paths:
        with Shard(p) as s:
            for i in range(len(s)):
                yield s, i


def xray_rows(
    sets: dict[str, list[str]],
    manifest: str,
    classes: Sequence[str],
    *,
    box_threshold: float = 0.5,
    inbox_threshold: float = 0.85,
    reduce: str = "abs_sum",
    expected: int | None = None,
) -> pd.DataFrame:
    """One row per (image, boxed finding) with the measures of the module docstring for every set.

    ``sets`` maps a heatmap-set name to its shards (covering the same rows in the same order,
    each explaining the row's finding, targets ``label``). Columns: ``id, label, finding,
    score`` (the finding's logit), then ``{set}_inbox`` for every set and ``{set}_iou``,
    ``{set}_iobb``, ``{set}_loc_study``, ``{set}_loc_iou50`` for CAM sets (2-D maps). ``expected``:
    the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`).
    """
    for paths in sets.values():
        check_shards(paths, expected)
    man = read_manifest(manifest).set_index("id")
    names = list(sets)
    iters = {k: _rows_of(v) for k, v in sets.items()}
    rows = []
    bar = tqdm(desc="xray rows", unit="row")
    while True:
        items = {k: next(it, None) for k, it in iters.items()}
        ended = [k for k, v in items.items() if v is None]
        if ended:
            if len(ended) != len(items):
                raise DataError(
                    f"heatmap sets {ended} end before {sorted(set(items) - set(ended))}: "
                    "expected the same evaluation rows in every set"
                )
            break
        s0, i0 = items[names[0]]
        image_id, label = s0.ids[i0], int(s0.labels[i0])
        for k, (s, i) in items.items():
            if s.ids[i] != image_id or int(s.labels[i]) != label:
                raise DataError(
                    f"{s.path}: row {i} is ({s.ids[i]}, {int(s.labels[i])}), {s0.path} has "
                    f"({image_id}, {label}): expected the same rows in every set"
                )
        gts = gt_boxes_of(man, image_id, label)
        if not gts:
            raise DataError(f"{manifest}: image {image_id} has no box of class {label}")
        size = tuple(s0.attrs["input_size"])
        unit = int(s0.targets[i0, 0])
        row = {"id": image_id, "label": label, "finding": str(classes[label]), "score": float(s0.scores[i0, unit])}
        for k, (s, i) in items.items():
            m = np.asarray(s.maps[i, 0])
            if m.ndim == 3:
                row[f"{k}_inbox"] = metrics.inbox_ratio(metrics.reduce_channels(m, reduce), gts, inbox_threshold)
                continue
            m = metrics.upsample_map(m, size)
            box = metrics.heatmap_box(m, box_threshold)
            row[f"{k}_iou"] = max(metrics.iou(box, g) for g in gts)
            row[f"{k}_iobb"] = max(metrics.iobb(box, g) for g in gts)
            row[f"{k}_loc_study"] = metrics.loc_correct(box, gts, rule="study")
            row[f"{k}_loc_iou50"] = metrics.loc_correct(box, gts, rule="ilsvrc")
            row[f"{k}_inbox"] = metrics.inbox_ratio(m, gts, inbox_threshold)
        rows.append(row)
        bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def _t(v: float) -> str:
    return f"{v:g}"


def xray_measures(row_columns: Sequence[str], name: str, thresholds=THRESHOLDS) -> dict[str, str]:
    """The table's measures of set ``name``: ``{measure: per-row column or an expression}``."""
    out = {}
    if f"{name}_loc_study" in row_columns:
        out["loc_study"] = f"{name}_loc_study"
        out["loc_iou50"] = f"{name}_loc_iou50"
    out["inbox"] = f"{name}_inbox"
    if f"{name}_iou" in row_columns:
        for t in thresholds:
            out[f"iou@{_t(t)}"] = f"{name}_iou>={t}"
        for t in thresholds:
            out[f"iobb@{_t(t)}"] = f"{name}_iobb>={t}"
    return out


def _values(df: pd.DataFrame, spec: str) -> np.ndarray:
    if ">=" in spec:
        col, t = spec.split(">=")
        return (df[col].to_numpy(dtype=float) >= float(t)).astype(float)
    return df[spec].to_numpy(dtype=float)


#: the measures compared between sets on the same rows (the claims' criteria)
PAIRED_MEASURES = ("loc_study", "loc_iou50", "inbox")
MEASURE_LABELS = {"loc_study": "acc. (IoU, eq. 3)", "loc_iou50": "acc. (IoU ≥ 0.5)", "inbox": "in-box (≥ 85 %)"}


def table5(
    rows: dict[str, pd.DataFrame],
    sets: dict[str, dict],
    reference: dict | None = None,
    auroc: dict[str, float | None] | None = None,
    thresholds=THRESHOLDS,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 5 in long form: one row per (model, finding or ``all``, set, measure) with ``n``,
    ``value``, the bootstrap interval ``low, high`` and reference columns.

    ``sets[name]`` = ``{"method": label, "layer": label}``; ``reference`` =
    ``{"study": {model: {set: {measure: value}}}, "wang": {measure: {finding: value}}}`` (Wang
    et al.'s values are per finding, for their own method: shown beside ours, not ours; finding
    ``all`` holds an overall value, e.g. ``{"loc_study": {"all": 0.228}}``, the accuracy the study
    compares with, shown in the overall section);
    ``auroc[model]`` the model's test mean AUROC (or None). Over all findings, each row of a
    measure of :data:`PAIRED_MEASURES` also holds its paired difference from every other set on
    the same rows: ``minus__{set}`` (mean of this − that), ``_low``, ``_high`` (paired bootstrap)
    and ``_p`` (two-sided Wilcoxon signed-rank).
    """
    reference = reference or {}
    study, wang = reference.get("study") or {}, reference.get("wang") or {}
    out = []
    for model, df in rows.items():
        groups = [("all", df)] + [(f, g) for f, g in df.groupby("finding", sort=True)]
        for finding, g in groups:
            for name, meta in sets.items():
                for measure, spec in xray_measures(df.columns, name, thresholds).items():
                    s = metrics.mean_ci(_values(g, spec), n_boot=n_boot, seed=seed)
                    ref_study = study.get(model, {}).get(name, {}).get(measure) if finding == "all" else None
                    ref_wang = wang.get(measure, {}).get(finding)
                    rec = {
                        "model": model,
                        "auroc": (auroc or {}).get(model),
                        "finding": finding,
                        "n": len(g),
                        "set": name,
                        "method": meta["method"],
                        "layer": meta["layer"],
                        "measure": measure,
                        "value": s["mean"],
                        "low": s["low"],
                        "high": s["high"],
                        "study": ref_study,
                        "wang": ref_wang,
                    }
                    if finding == "all" and measure in PAIRED_MEASURES:  # vs every other set, on the same rows
                        for other in sets:
                            spec_o = xray_measures(df.columns, other, thresholds).get(measure)
                            if other != name and spec_o is not None:
                                c = metrics.paired_compare(
                                    _values(g, spec), _values(g, spec_o), n_boot=n_boot, seed=seed
                                )
                                rec.update(
                                    {
                                        f"minus__{other}": c["mean"],
                                        f"minus__{other}_low": c["low"],
                                        f"minus__{other}_high": c["high"],
                                        f"minus__{other}_p": c["p_value"],
                                    }
                                )
                    out.append(rec)
    return pd.DataFrame(out)


def measure_label(measure: str) -> str:
    """``iou@0.25`` → ``T(IoU) = 0.25``; ``iobb@0.5`` → ``T(IoBB) = 0.5``; others by :data:`MEASURE_LABELS`."""
    if measure in MEASURE_LABELS:
        return MEASURE_LABELS[measure]
    kind, t = measure.split("@")
    return f"T({'IoBB' if kind == 'iobb' else 'IoU'}) = {t}"


def _cell(r) -> str:
    if r is None or (isinstance(r["value"], float) and math.isnan(r["value"])):
        return "–"
    return f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"


def table5_markdown(full: pd.DataFrame, notes: list[str], title: str) -> str:
    """Overall and per-finding sections of Table 5 (Markdown)."""
    from cameval.tables import to_markdown

    def wide(sub: pd.DataFrame, keys: list[str], measures: list[str], refs: tuple[str, ...] = ()) -> pd.DataFrame:
        recs = []
        for key, g in sub.groupby(keys, sort=False):
            rec = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            rec["n"] = int(g["n"].iloc[0])
            by = {r["measure"]: r for _, r in g.iterrows()}
            for m in measures:
                label = MEASURE_LABELS.get(m) or measure_label(m)
                rec[label] = _cell(by.get(m))
                for ref in refs:
                    if m in by and by[m][ref] is not None and not pd.isna(by[m][ref]):
                        rec[label] += f" ({ref} {float(by[m][ref]):.4g})"
            recs.append(rec)
        return pd.DataFrame(recs)

    measures = list(dict.fromkeys(full["measure"]))
    main = [m for m in measures if "@" not in m]
    wang = [m for m in measures if "@" in m]
    overall = full[full["finding"] == "all"]
    parts = [f"# {title}\n"]
    au = overall.drop_duplicates("model")[["model", "auroc"]]
    if au["auroc"].notna().any():
        parts.append(
            "Test mean AUROC: "
            + ", ".join(f"{m} {a:.3f}" for m, a in zip(au["model"], au["auroc"]) if a is not None and not pd.isna(a))
            + "\n"
        )
    parts.append("## Overall\n\n" + to_markdown(wide(overall, ["model", "method", "layer"], main, ("study", "wang"))))
    per = full[full["finding"] != "all"]
    parts.append("## Per finding\n\n" + to_markdown(wide(per, ["model", "finding", "method", "layer"], main)))
    if wang:
        cams = full[full["measure"].isin(wang)]
        parts.append(
            "## Wang et al.'s protocol (T(IoU), T(IoBB)); their values in parentheses\n\n"
            + to_markdown(wide(cams, ["model", "finding", "method", "layer"], wang, ("wang",)))
        )
    return "\n".join(parts) + "\n" + "".join(f"- {n}\n" for n in notes)


def write_table5(
    full: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    notes: list[str],
    title: str = "Table 5 — localization of findings (95 % bootstrap intervals)",
) -> None:
    from cameval.io import write_csv, write_text

    write_csv(full, csv)
    write_text(table5_markdown(full, notes, title), md)


# --- figures -------------------------------------------------------------------------------------


def table5_figure(full: pd.DataFrame, path: str | os.PathLike) -> None:
    """The study's localization figures: per model, accuracy (eq. 3) of each CAM set per finding
    and the in-box ratio of every set, with 95 % bootstrap intervals."""
    from cameval.figures import plt, save

    models = list(dict.fromkeys(full["model"]))
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 3.2 * len(models)), squeeze=False, layout="constrained")
    for r, model in enumerate(models):
        sub = full[full["model"] == model]
        for c, measure in enumerate(("loc_study", "inbox")):
            ax = axes[r, c]
            d = sub[sub["measure"] == measure]
            findings = list(dict.fromkeys(d["finding"]))
            labels = list(dict.fromkeys(d["set"]))
            width = 0.8 / max(1, len(labels))
            for k, name in enumerate(labels):
                e = d[d["set"] == name].set_index("finding").reindex(findings)
                xs = np.arange(len(findings)) + (k - (len(labels) - 1) / 2) * width
                err = np.vstack([e["value"] - e["low"], e["high"] - e["value"]]).clip(0)
                meta = e.iloc[0]
                ax.bar(xs, e["value"], width, yerr=err, capsize=2, label=f"{meta['method']} ({meta['layer']})")
            ax.set_xticks(np.arange(len(findings)), findings, rotation=45, ha="right", fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_title(f"{model}: {MEASURE_LABELS[measure]}", fontsize=9)
            ax.legend(fontsize=6)
    save(fig, path)


def appendix_e(
    images: str,
    manifest: str,
    sets: dict[str, dict[str, list[str]]],
    titles: dict[str, str],
    path: str | os.PathLike,
    n_images: int = 4,
    seed: int = 0,
    reduce: str = "abs_sum",
    expected: int | None = None,
) -> None:
    """Appendix E: for a seeded draw of evaluation rows, the image with its ground-truth box(es),
    then each set's map overlaid (pixel maps reduced with ``reduce``), per model.

    ``sets[model][name]`` are the shards of heatmap set ``name``; ``titles[name]`` its column title;
    ``expected``: the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`).
    """
    from matplotlib.patches import Rectangle

    from cameval.data.images import ImageSet
    from cameval.figures import overlay, plt, save

    man = read_manifest(manifest).set_index("id")
    models = list(sets)
    names = list(titles)
    for by_name in sets.values():
        for paths in by_name.values():
            check_shards(paths, expected)
    first = sets[models[0]][names[0]]
    ids, labels = [], []
    for p in first:
        with Shard(p) as s:
            ids += s.ids
            labels += [int(v) for v in s.labels]
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(ids), size=min(n_images, len(ids)), replace=False).tolist())

    def load(files: list[str], row: int) -> np.ndarray:
        for p in files:
            with Shard(p) as s:
                if row < len(s):
                    return np.asarray(s.maps[row, 0])
                row -= len(s)
        raise DataError(f"row beyond the shards {files}")

    n_rows = len(pick) * len(models)
    fig, axes = plt.subplots(
        n_rows, 1 + len(names), figsize=(2.1 * (1 + len(names)), 2.2 * n_rows), squeeze=False, layout="constrained"
    )
    im = None
    with ImageSet(images) as imgs:
        names_of = imgs.attrs.get("classes") or [str(c) for c in range(max(labels) + 1)]
        for a, row in enumerate(pick):
            image = imgs.uint8(np.array([man.at[ids[row], "index"]]))[0]
            h, w = image.shape[:2]
            gts = gt_boxes_of(man, ids[row], labels[row])
            for b, model in enumerate(models):
                r = a * len(models) + b
                axes[r, 0].imshow(image)
                axes[r, 0].set_ylabel(f"{model}\n{ids[row].split('/')[-1]}\n{names_of[labels[row]]}", fontsize=7)
                for c, name in enumerate(names, start=1):
                    m = load(sets[model][name], row)
                    m = metrics.reduce_channels(m, reduce) if m.ndim == 3 else metrics.upsample_map(m, (h, w))
                    im = overlay(axes[r, c], image, m)
                for c in range(1 + len(names)):
                    for x0, y0, x1, y1 in gts:
                        axes[r, c].add_patch(
                            Rectangle(
                                (x0 - 0.5, y0 - 0.5),
                                x1 - x0 + 1,
                                y1 - y0 + 1,
                                fill=False,
                                edgecolor="lime",
                                linewidth=1.2,
                            )
                        )
                    axes[r, c].set_xticks([])
                    axes[r, c].set_yticks([])
                    if r == 0:
                        axes[r, c].set_title("image + box" if c == 0 else titles[names[c - 1]], fontsize=8)
    cbar = fig.colorbar(im, ax=axes[:, 1:], location="bottom", shrink=0.5, pad=0.02)
    cbar.set_label("map / max (pixel maps: Σ over channels of |attribution|)")
    save(fig, path)
