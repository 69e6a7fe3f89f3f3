"""Tables: aggregate per-image rows into the paper's tables, as CSV and Markdown.

Every number comes with a 95 % percentile-bootstrap interval over images; where the config gives
the study's and the original paper's values they stand in their own columns beside ours.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from cameval.io import write_csv, write_text
from cameval.methods import label as method_label
from cameval.methods import labels
from cameval.metrics import mean_ci, paired_compare


def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, (float, np.floating)) else str(value)


def to_markdown(df: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (no extra dependency)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c], digits) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_table(
    df: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    title: str,
    notes: list[str],
    display: pd.DataFrame | None = None,
    digits: int = 2,
) -> None:
    """Write the full table as CSV and a readable version (``display``) as Markdown."""
    write_csv(df, csv)
    body = to_markdown(display if display is not None else df, digits)
    write_text(f"# {title}\n\n{body}\n" + "".join(f"- {n}\n" for n in notes), md)


def _with_ci(value: float, low: float, high: float, digits: int = 2) -> str:
    return f"{_fmt(value, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


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
            shown[label] = _with_ci(s["mean"], s["low"], s["high"])
            for source in ("study", "original"):
                value = reference.get(model, {}).get(source, {}).get(key)
                rec[f"{source}_{key}"] = value
                if reference:
                    shown[f"{label} ({source})"] = _fmt(value)
        other = rows.get((model, "gradcam"))
        if method != "gradcam" and other is not None and "id" in df and "id" in other:
            for key, (col, label) in TABLE1_METRICS.items():
                if key.endswith("_loc"):  # error difference (percentage points) vs Grad-CAM, same images
                    a, b = _aligned(df, other, col)
                    _paired_columns(
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


def _stat_columns(
    rec: dict, shown: dict, key: str, label: str, values, n_boot: int, seed: int, digits: int = 3, std: bool = False
) -> None:
    s = mean_ci(np.asarray(values, dtype=float), n_boot=n_boot, seed=seed)
    rec.update({key: s["mean"], f"{key}_low": s["low"], f"{key}_high": s["high"]})
    if std:
        rec[f"{key}_std"] = s["std"]
        shown[label] = (
            f"{_fmt(s['mean'], digits)} ± {_fmt(s['std'], digits)} [{_fmt(s['low'], digits)}, {_fmt(s['high'], digits)}]"
        )
    else:
        shown[label] = _with_ci(s["mean"], s["low"], s["high"], digits)


def _paired_columns(
    rec: dict, shown: dict, key: str, label: str, a, b, n_boot: int, seed: int, digits: int = 3
) -> None:
    """``a − b`` on the same images (:func:`cameval.metrics.paired_compare`): columns ``{key}``
    (mean difference), ``{key}_low``/``_high`` (paired bootstrap interval), ``{key}_p`` (Wilcoxon)."""
    c = paired_compare(np.asarray(a, dtype=float), np.asarray(b, dtype=float), n_boot=n_boot, seed=seed)
    rec.update({key: c["mean"], f"{key}_low": c["low"], f"{key}_high": c["high"], f"{key}_p": c["p_value"]})
    p = "–" if math.isnan(c["p_value"]) else f"{c['p_value']:.3g}"
    shown[label] = f"{_with_ci(c['mean'], c['low'], c['high'], digits)}, p = {p}"


def _aligned(df_a: pd.DataFrame, df_b: pd.DataFrame, col_a: str, col_b: str | None = None):
    """The values of ``col_a`` in ``df_a`` and ``col_b`` (default ``col_a``) in ``df_b`` on the
    images both hold (by ``id``, in ``df_a``'s order): the pairs of a paired comparison."""
    b = df_b.drop_duplicates("id").set_index("id")[col_b or col_a]
    keep = df_a["id"].isin(b.index)
    return df_a.loc[keep, col_a].astype(float).to_numpy(), b.loc[df_a.loc[keep, "id"]].astype(float).to_numpy()


def paired_key(a: str, b: str) -> str:
    """The column of the paired difference ``a − b`` in a table's CSV."""
    return f"{a}_minus_{b}"


def table2(
    rows: dict[str, pd.DataFrame], tolerances, reference: dict | None = None, n_boot: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2: pointing-game accuracy (per tolerance) and recall per model, as fractions; each
    model after the first gets the paired difference from the first on the same images
    (``accuracy_tol{t}_minus_{first}``, ``recall_minus_{first}``).

    ``reference[model]`` = ``{"study": {accuracy, recall}, "original": {accuracy, recall}}``: the
    study's values and the original paper's (Selvaraju et al. quote GoogLeNet's accuracy only, on
    COCO) go to the columns ``study_accuracy`` … ``original_recall``; the display shows the
    original paper's columns where any model has such a value.
    """
    reference = reference or {}
    shown_sources = ["study"] + (["original"] if any(r.get("original") for r in reference.values()) else [])
    full, display = [], []
    first, base = next(iter(rows.items()), (None, None))  # every other model is paired with the first
    for model, df in rows.items():
        rec, shown = {"model": model, "n": len(df)}, {"model": model, "n": len(df)}
        for t in tolerances:
            _stat_columns(
                rec, shown, f"accuracy_tol{t}", f"accuracy ({t} px)", df[f"hit_tol{t}"].astype(float), n_boot, seed
            )
        _stat_columns(rec, shown, "recall", "recall", df["recall"], n_boot, seed)
        if model != first and "id" in df and "id" in base:  # paired on the images both models saw
            for col, label in [(f"hit_tol{t}", f"accuracy ({t} px)") for t in tolerances] + [("recall", "recall")]:
                a, b = _aligned(df, base, col)
                key = col.replace("hit_", "accuracy_")
                _paired_columns(rec, shown, f"{key}_minus_{first}", f"{label} − {first}'s", a, b, n_boot, seed)
        for source in ("study", "original"):
            for key in ("accuracy", "recall"):
                value = (reference.get(model, {}).get(source) or {}).get(key)
                rec[f"{source}_{key}"] = value
                if reference and source in shown_sources:
                    shown[f"{key} ({source})"] = _fmt(value, 5 if source == "study" else 4)
        full.append(rec)
        display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


TABLE3_METHODS = labels("guided_backprop", "gradcam", "guided_gradcam")
#: the paired comparisons of Table 3, on the same images
TABLE3_PAIRS = (("gradcam", "guided_backprop"), ("guided_gradcam", "guided_backprop"), ("guided_gradcam", "gradcam"))


def table3(
    rows: dict[tuple[str, str], pd.DataFrame],
    patches: dict[str, int],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3: mean ± std Spearman rho with occlusion, per model, patch size and method, and the
    paired differences of :data:`TABLE3_PAIRS` on the same images (:func:`_paired_columns`).

    ``reference[source]`` (``source``: ``study``, ``original``) = ``{method: mean}`` or
    ``{method: {mean, std}}``, with optional ``patch`` and ``n`` (what the values were computed
    on). They are shown as rows of their own in the display, and in the CSV as columns
    ``{source}_{method}`` (and ``{source}_{method}_std``) on the rows of that patch size (every
    row where ``patch`` is not given).
    """
    reference = reference or {}

    def ref(source: str, key: str) -> tuple:
        v = (reference.get(source) or {}).get(key)
        return (v.get("mean"), v.get("std")) if isinstance(v, dict) else (v, None)

    full, display = [], []
    for (model, occlusion), df in rows.items():
        rec = {"model": model, "occlusion": occlusion, "patch": patches[occlusion], "n": len(df)}
        shown = {"model": model, "patch": f"{patches[occlusion]}×{patches[occlusion]}", "n": len(df)}
        for key, label in TABLE3_METHODS.items():
            _stat_columns(rec, shown, key, label, df[key], n_boot, seed, std=True)
        for a, b in TABLE3_PAIRS:
            _paired_columns(
                rec, shown, paired_key(a, b), f"{TABLE3_METHODS[a]} − {TABLE3_METHODS[b]}", df[a], df[b], n_boot, seed
            )
        for source in ("study", "original"):
            values = reference.get(source) or {}
            applies = bool(values) and values.get("patch") in (None, patches[occlusion])
            for key in TABLE3_METHODS:
                mean, std = ref(source, key) if applies else (None, None)
                rec[f"{source}_{key}"], rec[f"{source}_{key}_std"] = mean, std
        full.append(rec)
        display.append(shown)
    for source in ("original", "study"):
        values = reference.get(source)
        if values:
            patch = values.get("patch")
            cells = {}
            for key, label in TABLE3_METHODS.items():
                mean, std = ref(source, key)
                cells[label] = _fmt(mean, 4) + (f" ± {_fmt(std, 4)}" if std is not None else "")
            display.append(
                {
                    "model": f"({source})",
                    "patch": f"{patch}×{patch}" if patch else "–",
                    "n": values.get("n", "–"),
                    **cells,
                }
            )
    return pd.DataFrame(full), pd.DataFrame(display)


def fgsm_table(rows: dict[str, pd.DataFrame], eps: float, n_boot: int = 1000, seed: int = 0):
    """Appendix C in numbers: accuracy before/after FGSM and how much Grad-CAM moved."""
    full, display = [], []
    for model, df in rows.items():
        rec, shown = {"model": model, "eps": eps, "n": len(df)}, {"model": model, "eps": f"{eps:.4g}", "n": len(df)}
        _stat_columns(rec, shown, "acc_clean", "accuracy clean", df["correct_clean"].astype(float), n_boot, seed)
        _stat_columns(rec, shown, "acc_adv", "accuracy FGSM", df["correct_adv"].astype(float), n_boot, seed)
        _stat_columns(rec, shown, "rank_corr", "Spearman ρ (before, after)", df["rank_corr"], n_boot, seed)
        _stat_columns(rec, shown, "box_iou", "box IoU (before, after)", df["box_iou"], n_boot, seed)
        full.append(rec)
        display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


def _describe(values) -> dict:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def wilcoxon_p(a, b) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of paired ``a`` vs ``b`` (scipy): ``(statistic, p)``;
    NaN when fewer than 2 pairs differ."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.count_nonzero(a - b) < 2:
        return float("nan"), float("nan")
    res = stats.wilcoxon(a, b)
    return float(res.statistic), float(res.pvalue)


TABLE6_METHODS = labels("gradcam", "ig")


def study_cell(study: dict, when: str) -> str:
    """The study's Table 6 values ``{when}_mean`` … ``{when}_max`` as ``mean ± std [min, max]`` (4 digits, as printed)."""
    if not study or study.get(f"{when}_mean") is None:
        return "–"
    return (
        f"{_fmt(study.get(f'{when}_mean'), 4)} ± {_fmt(study.get(f'{when}_std'), 4)} "
        f"[{_fmt(study.get(f'{when}_min'), 4)}, {_fmt(study.get(f'{when}_max'), 4)}]"
    )


def table6(
    rows: dict[str, pd.DataFrame], reference: dict | None = None, n_boot: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6: one-pixel attacks and the map's value (0–1) at the attacked pixel.

    ``rows[model]`` are :func:`cameval.sensitivity.sensitivity_rows`. Per model and method, over
    the successful attacks: mean, std, min, max before (class: the label) and after (class: the
    new prediction), as the study reports them; the same at a seeded random pixel (chance level),
    the attacked pixel's percentile rank, and a Wilcoxon signed-rank test of attacked vs random
    (before). ``reference[model]["study"]`` holds the study's Grad-CAM values (keys such as
    ``before_mean``, ``after_max``, ``successful``).
    """
    reference = reference or {}
    full, display = [], []
    for model, df in rows.items():
        ok = df[df["success"].astype(bool)]
        for method, label in TABLE6_METHODS.items():
            rec = {"model": model, "method": method, "attacks": len(df), "successful": len(ok)}
            shown = {"model": model, "method": label, "attacks": len(df), "successful": len(ok)}
            s = mean_ci(df["success"].astype(float).to_numpy(), n_boot=n_boot, seed=seed)
            rec.update(success_rate=s["mean"], success_rate_low=s["low"], success_rate_high=s["high"])
            for when, title in (("before", "before (label)"), ("after", "after (new class)")):
                d = _describe(ok[f"{method}_{when}"])
                rec.update({f"{when}_{k}": v for k, v in d.items()})
                shown[title] = f"{_fmt(d['mean'], 3)} ± {_fmt(d['std'], 3)} [{_fmt(d['min'], 3)}, {_fmt(d['max'], 3)}]"
                r = _describe(ok[f"{method}_random_{when}"])
                rec.update({f"random_{when}_{k}": v for k, v in r.items()})
                rec[f"pct_{when}_mean"] = _describe(ok[f"{method}_pct_{when}"])["mean"]
            c = mean_ci(ok[f"{method}_before"].to_numpy(), n_boot=n_boot, seed=seed)
            rec["before_low"], rec["before_high"] = c["low"], c["high"]
            stat, p = wilcoxon_p(ok[f"{method}_before"], ok[f"{method}_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before)"] = (
                f"{_fmt(rec['random_before_mean'], 3)} ± {_fmt(rec['random_before_std'], 3)}"
            )
            shown["percentile rank (before)"] = _fmt(rec["pct_before_mean"], 1)
            shown["Wilcoxon p (attacked vs random)"] = _fmt(p, 3)
            study = reference.get(model, {}).get("study", {}) if method == "gradcam" else {}
            for key in (
                "successful",
                "before_mean",
                "before_std",
                "before_min",
                "before_max",
                "after_mean",
                "after_std",
                "after_min",
                "after_max",
            ):
                rec[f"study_{key}"] = study.get(key)
            if reference:
                shown["study: successful"] = _fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


STUDY_SUBSETS = {"listed": "every listed attack", "successful": "those that change the top-1 class here"}


def table6_study(rows: dict[str, pd.DataFrame], reference: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6 on the study's own attacks: Grad-CAM (0–1) at the attacked pixel, per model.

    ``rows[model]`` are :func:`cameval.sensitivity.study_attack_rows`. Per model, over every
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
                st = _describe(d[f"gradcam_{when}"])
                rec.update({f"{when}_{k}": v for k, v in st.items()})
                rec[f"random_{when}_mean"] = _describe(d[f"gradcam_random_{when}"])["mean"]
                shown[label] = (
                    f"{_fmt(st['mean'], 4)} ± {_fmt(st['std'], 4)} [{_fmt(st['min'], 4)}, {_fmt(st['max'], 4)}]"
                )
            stat, p = wilcoxon_p(d["gradcam_before"], d["gradcam_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before / after)"] = (
                f"{_fmt(rec['random_before_mean'], 4)} / {_fmt(rec['random_after_mean'], 4)}"
            )
            shown["Wilcoxon p (attacked vs random)"] = _fmt(p, 3)
            for key in (
                "successful",
                "before_mean",
                "before_std",
                "before_min",
                "before_max",
                "after_mean",
                "after_std",
                "after_min",
                "after_max",
            ):
                rec[f"study_{key}"] = study.get(key)
            if subset == "listed":
                shown["study: successful"] = _fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            else:
                shown["study: successful"] = shown["study: before"] = shown["study: after"] = ""
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


TABLE7_METHODS = labels("gradcam", "shap", "integrated_gradients")


def table7(
    rows: dict[str, pd.DataFrame],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    accuracy: dict[str, dict] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 7: fidelity (mean drop of the label's probability when its mask is set to the mean),
    accuracy before/after masking and contrastivity, per model, method and percentile.

    ``rows[model]`` are :func:`cameval.faithfulness.fidelity_rows`; ``reference[model][method]``
    holds the study's values under ``fidelity_p{P}``, ``contrastivity_p{P}``, ``acc_after_p{P}``.
    A method other than Grad-CAM gets Grad-CAM's paired difference from it on the same images
    (``gradcam_minus_fidelity``, ``gradcam_minus_contrastivity`` with ``_low``, ``_high``, ``_p``).
    ``accuracy[model]`` (:func:`cameval.models.train.split_accuracy`) adds the model's accuracy on
    its whole evaluation split to the CSV (``eval_acc``, ``eval_n``).
    """
    reference, accuracy = reference or {}, accuracy or {}
    full, display = [], []
    for model, df in rows.items():
        for (method, p), g in df.groupby(["method", "percentile"], sort=False):
            rec = {
                "model": model,
                "method": method,
                "percentile": p,
                "n": len(g),
                "explainer": (
                    g["explainer"].iloc[0] if "explainer" in g and isinstance(g["explainer"].iloc[0], str) else ""
                ),
            }
            label = method_label(method)
            if method == "shap" and rec["explainer"]:
                label = f"SHAP ({rec['explainer']})"
            shown = {"model": model, "method": label, "percentile": p, "n": len(g)}
            _stat_columns(rec, shown, "fidelity", "fidelity (Δp)", g["drop"], n_boot, seed)
            _stat_columns(rec, shown, "acc_before", "accuracy before", g["correct_before"].astype(float), n_boot, seed)
            _stat_columns(rec, shown, "acc_after", "accuracy after", g["correct_after"].astype(float), n_boot, seed)
            _stat_columns(rec, shown, "contrastivity", "contrastivity", g["contrastivity"], n_boot, seed)
            cam = df[(df["method"] == "gradcam") & (df["percentile"] == p)]
            if method != "gradcam" and len(cam) and "id" in g:  # Grad-CAM − this method, same images
                for key, col in (("fidelity", "drop"), ("contrastivity", "contrastivity")):
                    a, b = _aligned(cam, g, col)
                    _paired_columns(rec, shown, f"gradcam_minus_{key}", f"Grad-CAM − this ({key})", a, b, n_boot, seed)
            rec["mask_share"] = float(g["mask_share"].mean())
            if model in accuracy:
                rec["eval_acc"], rec["eval_n"] = accuracy[model]["acc"], accuracy[model]["n"]
            shown["masked share"] = _fmt(rec["mask_share"], 3)
            study = reference.get(model, {}).get(method, {}) or {}
            for key in ("fidelity", "contrastivity", "acc_after"):
                rec[f"study_{key}"] = study.get(f"{key}_p{p}")
                if reference:
                    shown[f"{key} (study)"] = _fmt(study.get(f"{key}_p{p}"), 3)
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


def accuracy_note(accuracy: dict[str, dict], datasets: dict[str, str], reference: dict | None = None) -> str:
    """The sentence of a table's notes that gives each model's top-1 accuracy on its whole evaluation
    split (``accuracy[model]``: :func:`cameval.models.train.split_accuracy`), and the study's
    where ``reference[model]["accuracy"]`` (in %) gives it."""
    reference = reference or {}
    parts = []
    for model, a in accuracy.items():
        text = (
            f"{model}: {100 * a['acc']:.2f} % ({a['correct']} of the {a['n']} {a['split']} images of "
            f"{datasets.get(model, '?')})"
        )
        study = (reference.get(model) or {}).get("accuracy")
        if study is not None:
            text += f"; the study: {study:.2f} % on its test set"
        parts.append(text)
    return "Top-1 accuracy on the whole evaluation split: " + "; ".join(parts) + "."
