"""Table 5 in long form: per (model, finding or ``all``, set, measure) the mean over the rows of
:func:`cameval.experiments.xray.rows.xray_rows` with its bootstrap interval, the published
references beside it, and over all findings the paired differences between sets; its Markdown."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.formatting import MISSING, row_interval
from cameval.io import write_csv, write_text
from cameval.tables import to_markdown

THRESHOLDS = (0.1, 0.25, 0.5, 0.75)


def _t(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True)
class Measure:
    """Where a measure of one set is read from the per-row table: its ``column``, and for Wang et
    al.'s accuracies the threshold ``at`` its value must reach (the value per row is then 1 or 0)."""

    column: str
    at: float | None = None

    def values(self, df: pd.DataFrame) -> np.ndarray:
        """The measure's value on every row of ``df``."""
        v = df[self.column].to_numpy(dtype=float)
        return v if self.at is None else (v >= self.at).astype(float)


def xray_measures(row_columns: Sequence[str], name: str, thresholds=THRESHOLDS) -> dict[str, Measure]:
    """The table's measures of set ``name``: ``{measure: where it is read from}``."""
    out = {}
    if f"{name}_loc_study" in row_columns:
        out["loc_study"] = Measure(f"{name}_loc_study")
        out["loc_iou50"] = Measure(f"{name}_loc_iou50")
    out["inbox"] = Measure(f"{name}_inbox")
    if f"{name}_iou" in row_columns:
        for t in thresholds:
            out[f"iou@{_t(t)}"] = Measure(f"{name}_iou", float(t))
        for t in thresholds:
            out[f"iobb@{_t(t)}"] = Measure(f"{name}_iobb", float(t))
    return out


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
                    s = metrics.mean_ci(spec.values(g), n_boot=n_boot, seed=seed)
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
                                c = metrics.paired_compare(spec.values(g), spec_o.values(g), n_boot=n_boot, seed=seed)
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
