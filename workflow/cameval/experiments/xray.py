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
from cameval.claims import PAIRED_CRITERION, Claim, Context, Verdict, combine, greater, has_pair, pair, study_pair
from cameval.data.images import ImageSet, gt_boxes_of, read_manifest
from cameval.errors import ConfigError, DataError
from cameval.experiments.record import Experiment, model_sets, require, table_files
from cameval.figures import colorbar, overlay, panel_grid, pyplot, save, tidy_row
from cameval.formatting import MISSING, row_interval
from cameval.io import write_csv, write_text
from cameval.methods import label as method_label
from cameval.store import Expect, Shard, check_shards
from cameval.tables import to_markdown

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
    expect: dict[str, Expect] | None = None,
) -> pd.DataFrame:
    """One row per (image, boxed finding) with the measures of the module docstring for every set.

    ``sets`` maps a heatmap-set name to its shards (covering the same rows in the same order,
    each explaining the row's finding, targets ``label``). Columns: ``id, label, finding,
    score`` (the finding's logit), then ``{set}_inbox`` for every set and ``{set}_iou``,
    ``{set}_iobb``, ``{set}_loc_study``, ``{set}_loc_iou50`` for CAM sets (2-D maps). ``expected``:
    the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`);
    ``expect[set]``: what that set's shards must have been made from (:class:`cameval.store.Expect`).
    """
    for name, paths in sets.items():
        check_shards(paths, expected, (expect or {}).get(name))
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
        for s, i in items.values():
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
        return MISSING
    return cell(r)


def cell(r, value: str = "value", digits: int = 3) -> str:
    """A long-form Table 5 row's ``value [low, high]``."""
    return row_interval(r, value, digits, low="low", high="high")


def table5_markdown(full: pd.DataFrame, notes: list[str], title: str) -> str:
    """Overall and per-finding sections of Table 5 (Markdown)."""

    def wide(sub: pd.DataFrame, keys: list[str], measures: list[str], refs: tuple[str, ...] = ()) -> pd.DataFrame:
        recs = []
        for key, g in sub.groupby(keys, sort=False):
            rec = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
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
            + ", ".join(
                f"{m} {a:.3f}"
                for m, a in zip(au["model"], au["auroc"], strict=True)
                if a is not None and not pd.isna(a)
            )
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
    write_csv(full, csv)
    write_text(table5_markdown(full, notes, title), md)


# --- figures -------------------------------------------------------------------------------------


#: the y axis of each measure Table 5's figure draws (what the bar's height is, on which scale)
FIGURE_MEASURES = {
    "loc_study": ("localization accuracy (IoU rule, eq. 3)", "share of boxes localized (0–1)"),
    "inbox": ("in-box share of the strongest pixels", "share of pixels ≥ 85 % of max\ninside the box (0–1)"),
}


def table5_figure(full: pd.DataFrame, path: str | os.PathLike) -> None:
    """The study's localization figures: per model, accuracy (eq. 3) of each CAM set per finding
    and the in-box ratio of every set, with 95 % bootstrap intervals (error bars).

    A set with a value of 0 gets a thick tick on the axis in its colour; a set without a value (the
    measure does not apply to it, or no row of that finding) an "n/a" at the bar's place, so that
    a zero is never mistaken for a missing bar. One legend, below the panels."""
    plt = pyplot()
    models = list(dict.fromkeys(full["model"]))
    sets = list(dict.fromkeys(full["set"]))
    colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(sets)}
    n_findings = max(1, full["finding"].nunique())
    fig, axes = panel_grid(len(models), 2, (max(8.0, 0.8 * n_findings + 3.5), 3.0 * len(models) + 1.2))
    handles = {}
    for r, model in enumerate(models):
        sub = full[full["model"] == model]
        for c, (measure, (title, ylabel)) in enumerate(FIGURE_MEASURES.items()):
            ax = axes[r, c]
            d = sub[sub["measure"] == measure]
            findings = list(dict.fromkeys(sub["finding"]))
            labels = [name for name in sets if name in set(d["set"])]
            width = 0.8 / max(1, len(labels))
            for k, name in enumerate(labels):
                e = d[d["set"] == name].set_index("finding").reindex(findings)
                xs = np.arange(len(findings)) + (k - (len(labels) - 1) / 2) * width
                value = e["value"].to_numpy(dtype=float)
                err = np.vstack([value - e["low"].to_numpy(dtype=float), e["high"].to_numpy(dtype=float) - value])
                meta = d[d["set"] == name].iloc[0]
                label = f"{meta['method']} ({meta['layer']})"
                handles[label] = ax.bar(
                    xs,
                    np.nan_to_num(value),
                    width,
                    yerr=np.nan_to_num(err).clip(0),
                    capsize=2,
                    color=colours[name],
                    error_kw={"elinewidth": 0.8, "ecolor": "0.25"},
                    label=label,
                )
                for x, v in zip(xs, value, strict=True):
                    if np.isnan(v):
                        ax.text(x, 0.02, "n/a", rotation=90, ha="center", va="bottom", fontsize=7.5, color="0.3")
                    elif v == 0:
                        ax.plot(
                            [x - width / 2, x + width / 2],
                            [0, 0],
                            color=colours[name],
                            linewidth=3,
                            solid_capstyle="butt",
                            clip_on=False,
                            zorder=3,
                        )
            ax.set_xticks(np.arange(len(findings)), findings, rotation=45, ha="right", fontsize=9.5)
            ax.set_xlim(-0.6, len(findings) - 0.4)
            ax.set_ylim(0, 1.12)  # room above 1 for a full bar's error bar
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.tick_params(axis="y", labelsize=9.5)
            ax.axhline(1.0, color="0.8", linewidth=0.6, zorder=0)
            ax.set_ylabel(ylabel, fontsize=10)
            ax.set_xlabel("finding (all: every box)", fontsize=10)
            ax.set_title(f"model {model}: {title}", fontsize=11)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=min(3, max(1, len(handles))),
        fontsize=9.5,
        title="set: method (layer); error bars: 95 % bootstrap interval; n/a: no value; a thick line on the axis: 0",
        title_fontsize=9.5,
        frameon=False,
    )
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
    expect: dict[str, dict[str, Expect]] | None = None,
) -> None:
    """Appendix E: for a seeded draw of evaluation rows, the image with its ground-truth box(es),
    then each set's map overlaid (pixel maps reduced with ``reduce``), per model.

    ``sets[model][name]`` are the shards of heatmap set ``name``; ``titles[name]`` its column title;
    ``expected``: the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`);
    ``expect[model][name]``: what those shards must have been made from (:class:`cameval.store.Expect`).
    """
    man = read_manifest(manifest).set_index("id")
    models = list(sets)
    names = list(titles)
    for model, by_name in sets.items():
        for name, paths in by_name.items():
            check_shards(paths, expected, (expect or {}).get(model, {}).get(name))
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
    fig, axes = panel_grid(n_rows, 1 + len(names), (1.5 * (1 + len(names)) + 0.4, 1.55 * n_rows + 1.0))
    cols = ["image, its box", *(titles[name] for name in names)]
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
                axes[r, 0].set_ylabel(
                    f"model {model}\nimage {ids[row].split('/')[-1]}\nfinding {names_of[labels[row]]}", fontsize=9.5
                )
                for c, name in enumerate(names, start=1):
                    m = load(sets[model][name], row)
                    m = metrics.reduce_channels(m, reduce) if m.ndim == 3 else metrics.upsample_map(m, (h, w))
                    im = overlay(axes[r, c], image, m)
                for c in range(1 + len(names)):
                    for x0, y0, x1, y1 in gts:
                        axes[r, c].add_patch(
                            pyplot().Rectangle(
                                (x0 - 0.5, y0 - 0.5),
                                x1 - x0 + 1,
                                y1 - y0 + 1,
                                fill=False,
                                edgecolor="lime",
                                linewidth=1.2,
                            )
                        )
                tidy_row(axes, r, cols, fontsize=9.5)
    colorbar(
        fig,
        im,
        axes[:, 1:],
        "map of the finding, 0–1 of its max (pixel maps: Σ over channels of |attribution|)",
        label_size=10,
        location="bottom",
        shrink=0.6,
        pad=0.02,
    )
    fig.suptitle(
        "each row: a model, an evaluation image and one of its boxed findings (the class explained); "
        "green: that finding's ground-truth box",
        fontsize=9.5,
    )
    save(fig, path)


# --- the claims ---------------------------------------------------------------------------------


# Table 5's ``method`` column holds display labels (the Snakefile's set metadata); raw names are
# accepted too
XRAY_METHOD_KEYS = {"Grad-CAM": "gradcam", "Grad-CAM++": "gradcampp", "gradcam": "gradcam", "gradcampp": "gradcampp"}


def claim_gradcampp_better_on_xrays(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """Grad-CAM++ vs Grad-CAM on Table 5 (long form: ``model, finding, set, method, layer, measure,
    value, low, high``): over all findings (``finding == "all"``), the localization accuracy of the
    study's rule (``measure == "loc_study"``: IoU ≥ min(0.5, wh/((w+10)(h+10))), eq. 3), for every
    model and every layer at which both methods are computed: ``greater(Grad-CAM++, Grad-CAM)`` on
    the 95 % intervals, combined with :func:`combine`. The in-box share (``inbox``) is reported
    beside it, not decided on."""
    t = tables["table5"]
    t = t[t["finding"] == "all"].assign(key=lambda d: d["method"].map(XRAY_METHOD_KEYS))
    criterion = (
        "localization accuracy over all findings with the study's rule (box around the CAM's largest "
        "component ≥ 50 % of max; IoU ≥ min(0.5, wh/((w+10)(h+10))), eq. 3) of Grad-CAM++ above "
        "Grad-CAM's, for every model and every layer both are computed at, paired on the same rows "
        f"(Wilcoxon p < {ctx.alpha:g} with the interval of the difference above 0; where the table has "
        "no paired columns, 95 % intervals separated); the in-box share ≥ 85 % of max is shown, not decided on"
    )
    parts, numbers = [], []
    for (model, layer), g in t.groupby(["model", "layer"], sort=False):
        acc = g[g["measure"] == "loc_study"].drop_duplicates("key").set_index("key")
        if not {"gradcam", "gradcampp"} <= set(acc.index):
            continue
        pp, gc = acc.loc["gradcampp"], acc.loc["gradcam"]
        key = f"minus__{gc['set']}"
        text = f"{model} ({layer}, n = {int(pp['n'])}): accuracy Grad-CAM++ {cell(pp)} vs Grad-CAM {cell(gc)}"
        if has_pair(acc, key):  # the same rows: paired
            v, diff = pair(pp, key, ctx.alpha)
            parts.append(v)
            text += f" (paired: {diff})"
        else:
            parts.append(greater((float(pp["low"]), float(pp["high"])), (float(gc["low"]), float(gc["high"]))))
        inbox = g[g["measure"] == "inbox"].drop_duplicates("key").set_index("key")
        if {"gradcam", "gradcampp"} <= set(inbox.index):
            text += f"; in-box Grad-CAM++ {cell(inbox.loc['gradcampp'])} vs Grad-CAM {cell(inbox.loc['gradcam'])}"
        numbers.append(text)
    if not parts:
        return Verdict("not evaluated (Table 5 lacks Grad-CAM or Grad-CAM++ at a common layer)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def _study_table5(pairs: tuple[tuple[str, str], ...], what: str):
    """On the study's per-box in-box shares (984 boxes), for each model A and B: every pair holds."""

    def evaluate(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        parts, numbers = [], []
        for model in ("A", "B"):
            for a, b in pairs:
                v, text = study_pair(study["table5"], a, b, ctx.alpha, model=model)
                parts.append(v)
                numbers.append(f"model {model}: {text}")
        return Verdict(
            combine(parts),
            "; ".join(numbers),
            f"{what}, on the study's in-box share of the pixels > 0.85 of max (the only per-box result "
            "it published), for models A and B: " + PAIRED_CRITERION.format(unit="boxes", alpha=ctx.alpha),
        )

    return evaluate


def _layer_suffix(layer) -> str:
    return "" if layer in ("", None) or pd.isna(layer) else " (" + str(layer) + ")"


def claim_attributions_beat_cams_on_xrays(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """IG and Gradient SHAP ahead of both CAMs on Table 5's in-box share (over all findings, CAMs at
    every layer they are computed at): paired on the same rows (``minus__{set}`` columns), else
    95 % intervals separated."""
    t = tables["table5"]
    t = t[(t["finding"] == "all") & (t["measure"] == "inbox")]
    criterion = (
        "in-box share of the pixels ≥ 85 % of max over all findings: Integrated Gradients' and Gradient "
        "SHAP's above Grad-CAM's and Grad-CAM++'s (every layer), per model, paired on the same rows "
        f"(Wilcoxon p < {ctx.alpha:g} with the interval of the difference above 0; without paired columns "
        "95 % intervals separated)"
    )
    pixel = {"Integrated Gradients", "Gradient SHAP", "integrated_gradients", "gradient_shap"}
    parts, numbers = [], []
    for model, g in t.groupby("model", sort=False):
        px = g[g["method"].isin(pixel)]
        cams = g[g["method"].map(XRAY_METHOD_KEYS).notna()]
        for _, p in px.iterrows():
            for _, c in cams.iterrows():
                key = f"minus__{c['set']}"
                if has_pair(g, key) and not pd.isna(p[key]):  # the same rows: paired
                    parts.append(pair(p, key, ctx.alpha)[0])
                else:
                    parts.append(greater((float(p["low"]), float(p["high"])), (float(c["low"]), float(c["high"]))))
        numbers.append(
            f"{model}: "
            + ", ".join(
                f"{r['method']}{_layer_suffix(r['layer'])} {cell(r)}" for _, r in pd.concat([px, cams]).iterrows()
            )
        )
    if not parts:
        return Verdict("not evaluated (Table 5 lacks the in-box share of a pixel method or a CAM)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def notes(cfg: dict) -> list[str]:
    """What Table 5 computed (``cfg``: the config's ``table5``)."""
    return [
        f"Box: largest 8-connected component of the CAM >= {cfg['box_threshold']:g} x max (CAM upsampled bilinearly "
        "to the image); eq. 3: IoU >= min(0.5, wh/((w+10)(h+10))) with the finding's box; IoU >= 0.5 likewise.",
        f"In-box: share of the pixels >= {cfg['inbox_threshold']:g} x max inside the finding's box(es); pixel maps "
        f"(IG, Gradient SHAP) reduced over channels as '{cfg['reduce']}' (abs_sum = sum over channels of "
        "|attribution|).",
        "T(IoU), T(IoBB): Wang et al. (ChestX-ray8, CVPR 2017) — share of rows whose box has IoU (resp. overlap / area "
        "of the predicted box) >= T with the finding's box; our boxes come from the CAM as above, theirs from their "
        "own heatmaps, so their values (in parentheses) are a published benchmark beside ours, not the same method.",
        "Layers: 'last dense conv' = the study's layer (conv2 of the last dense layer; "
        "features.denseblock4.denselayer16.conv2 "
        "in DenseNet-121); 'block + ReLU' = the last dense block's output after norm5 and its ReLU (CheXNet-style "
        "CAMs).",
        "Each row explains its ground-truth finding, matched to the model's output unit by name; one row per "
        "(image, boxed finding).",
        "AUROC: the model's test mean AUROC (trained models only); 'study' = Nagy et al., where the config gives it.",
    ]


def sets(config: dict) -> list[str]:
    """The heatmap sets Table 5 evaluates: its CAM sets, then its pixel sets."""
    return config["table5"]["cams"] + config["table5"]["pixels"]


LAYER_LABELS = {"last_dense_conv": "last dense conv", "block_relu": "block + ReLU"}


def set_meta(config: dict) -> dict[str, dict[str, str]]:
    """Per heatmap set of Table 5: its method's label and the layer it is read at, as the table prints them."""
    out = {}
    for h in sets(config):
        spec = config["heatmaps"][h]
        layer = spec.get("layer")
        out[h] = {
            "method": method_label(spec["method"]),
            "layer": LAYER_LABELS.get(layer, layer) if h in config["table5"]["cams"] else "input pixels",
        }
    return out


def table_inputs(config: dict) -> dict[str, str]:
    """Per model its rows, and a trained model's test AUROC (``auroc__<model>``)."""
    t = config["table5"]
    files = {m: f"results/metrics/xray/{t['dataset']}/{m}.csv" for m in t["models"]}
    for m in t["models"]:
        if "train" in config["models"][m]:
            files[f"auroc__{m}"] = f"resources/models/{m}.json"
    return files


def check(config: dict, shipped) -> None:
    t5 = config["table5"]
    require("table5.dataset", t5["dataset"], config["datasets"])
    if config["datasets"][t5["dataset"]]["kind"] not in ("chestxray", "digits-multi"):
        raise ConfigError(
            f"table5.dataset: {t5['dataset']!r} is of kind "
            f"{config['datasets'][t5['dataset']]['kind']} (expected chestxray or digits-multi)"
        )
    for model in t5["models"]:
        require("table5.models", model, config["models"])
        if "weights" in config["models"][model] and not config["models"][model].get("classes"):
            raise ConfigError(
                f"models.{model}.classes: missing (expected the model's output order, e.g. "
                "CheXNet's 14 findings; findings are matched to outputs by name)"
            )
    for key in ("cams", "pixels"):
        for h in t5[key]:
            require(f"table5.{key}", h, config["heatmaps"])
            if config["heatmaps"][h]["targets"] != "label":
                raise ConfigError(
                    f"heatmaps.{h}.targets: {config['heatmaps'][h]['targets']!r} (expected "
                    "'label': Table 5 explains each row's ground-truth finding)"
                )


CLAIMS = (
    Claim(
        "gradcampp-better-xrays",
        "Grad-CAM++ localizes better than Grad-CAM on chest X-rays.",
        "Table 5",
        ("table5",),
        claim_gradcampp_better_on_xrays,
        on_study=_study_table5((("gradcampp", "gradcam"),), "Grad-CAM++ minus Grad-CAM"),
    ),
    Claim(
        "attributions-beat-cams-xrays",
        "Integrated Gradients and Gradient SHAP localize findings better than both CAM variants, on either model.",
        "Table 5",
        ("table5",),
        claim_attributions_beat_cams_on_xrays,
        on_study=_study_table5(
            (
                ("integrated_gradients", "gradcampp"),
                ("gradient_shap", "gradcampp"),
                ("integrated_gradients", "gradcam"),
                ("gradient_shap", "gradcam"),
            ),
            "Integrated Gradients and Gradient SHAP minus Grad-CAM++ and minus Grad-CAM",
        ),
    ),
)

EXPERIMENT = Experiment(
    name="xray",
    order=5,
    title="Table 5 / App. E — medical localization",
    section="table5",
    targets=lambda config: [*table_files("table5"), "results/figures/table5.png", "results/figures/appendix_e.png"],
    heatmaps=lambda config: model_sets(config, "table5", sets(config)),
    tables=("table5",),
    claims=CLAIMS,
    check=check,
)
