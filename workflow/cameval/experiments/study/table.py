"""The study's Tables 3, 4 and 5 from its raw results: the rows (:func:`table3_values`,
:func:`table4_scores`, :func:`table5_values`), the tables (:func:`reanalysis`), their Markdown form
and the notes that say what was computed (:func:`write`).

Every table is long-form, one row per method and one per comparison:

=============  ==========================================================================
``model``      the model (Table 5: ``A``, ``B``; Tables 3 and 4: the study's one setting)
``kind``       ``method`` (a method's values), ``paired`` (``a − b`` on the same units), or
               ``against 0`` (``a``'s values tested against 0)
``a``, ``b``   the method(s); ``b`` is empty for ``method`` and ``against 0`` rows
``unit``       what is resampled and paired: images, boxes, or raters
``n``          units; ``mean``, ``std`` (ddof = 1) of the values or of the differences
``ci_low/high`` 95 % percentile-bootstrap interval of ``mean`` (paired: pairs resampled
               together; Table 4: raters resampled with all their answers)
``statistic``, ``p_value``  two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
               defaults) of ``a − b`` (or of ``a``) against 0
``study_mean``, ``study_std``  the study's printed values; ``matches_study``: ours rounded to
               the printed digits equals them
=============  ==========================================================================

Table 4's ``method`` rows are over all answers (the study's mean and std); its ``paired`` and
``against 0`` rows are over per-rater mean scores, so that each rater counts once.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from cameval.data.study import read_table3, read_table5
from cameval.experiments.occlusion.table import TABLE3_PAIRS
from cameval.experiments.userstudy.answers import score_survey_export
from cameval.experiments.userstudy.table import clustered_bootstrap_ci
from cameval.formatting import fmt
from cameval.methods import labels
from cameval.metrics.stats import mean_ci, paired_compare
from cameval.tables import write_table

log = logging.getLogger(__name__)

LABELS = labels("guided_backprop", "gradcam", "guided_gradcam", "gradcampp", "integrated_gradients", "gradient_shap")
TABLE5_PAIRS = (
    ("gradcampp", "gradcam"),
    ("integrated_gradients", "gradcampp"),
    ("gradient_shap", "gradcampp"),
    ("integrated_gradients", "gradient_shap"),
    ("integrated_gradients", "gradcam"),
    ("gradient_shap", "gradcam"),
)
TABLE4_METHODS = ("guided_gradcam", "guided_backprop")
COLUMNS = [
    "model",
    "kind",
    "a",
    "b",
    "unit",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "statistic",
    "p_value",
    "study_mean",
    "study_std",
    "matches_study",
]
PRINTED_DIGITS = 4  # Tables 3, 4 and 5 print four decimals


def _printed(ours: float, printed) -> bool | None:
    if printed is None:
        return None
    return bool(round(float(ours), PRINTED_DIGITS) == round(float(printed), PRINTED_DIGITS))


def _method_row(model: str, method: str, unit: str, values, study: dict, n_boot: int, seed: int) -> dict:
    s = mean_ci(values, n_boot=n_boot, seed=seed)
    return {
        "model": model,
        "kind": "method",
        "a": method,
        "b": "",
        "unit": unit,
        "n": s["n"],
        "mean": s["mean"],
        "std": s["std"],
        "ci_low": s["low"],
        "ci_high": s["high"],
        "statistic": np.nan,
        "p_value": np.nan,
        "study_mean": study.get("mean"),
        "study_std": study.get("std"),
        "matches_study": _matches(s, study),
    }


def _matches(s: dict, study: dict) -> bool | None:
    checks = [_printed(s[k], study.get(k)) for k in ("mean", "std") if study.get(k) is not None]
    return all(checks) if checks else None


def _paired_row(model: str, a: str, b: str | None, unit: str, va, vb, n_boot: int, seed: int) -> dict:
    c = paired_compare(va, vb, n_boot=n_boot, seed=seed)
    d = np.asarray(va, float) - (0.0 if vb is None else np.asarray(vb, float))
    return {
        "model": model,
        "kind": "against 0" if b is None else "paired",
        "a": a,
        "b": b or "",
        "unit": unit,
        "n": c["n"],
        "mean": c["mean"],
        "std": float(np.nanstd(d, ddof=1)) if c["n"] > 1 else np.nan,
        "ci_low": c["low"],
        "ci_high": c["high"],
        "statistic": c["statistic"],
        "p_value": c["p_value"],
        "study_mean": None,
        "study_std": None,
        "matches_study": None,
    }


# --- rows: the study's raw results ------------------------------------------------------------------


def table3_values(root: str | os.PathLike) -> dict[str, np.ndarray]:
    """Spearman ρ per image (120) for Guided Backprop, Grad-CAM and Guided Grad-CAM."""
    return read_table3(root)


def table5_values(root: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """In-box share (> 0.85 of the normalized map) per box (984) for each model and method."""
    return read_table5(root)


def table4_scores(export: str | os.PathLike, key: str | os.PathLike, better: str = "vgg") -> pd.DataFrame:
    """The survey's raw export scored against its key (:func:`cameval.experiments.userstudy.score_survey_export`)."""
    return score_survey_export(export, key, better)


# --- tables ----------------------------------------------------------------------------------------


def table3(values: dict[str, np.ndarray], study: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Table 3 from the per-image ρ: each method, then every pair of :data:`TABLE3_PAIRS`.
    ``study[method] = {"study": {mean, std}, ...}`` (``values.yaml``'s ``table3``)."""
    rows = [
        _method_row("vgg16", m, "images", v, (study.get(m) or {}).get("study", {}), n_boot, seed)
        for m, v in values.items()
    ]
    rows += [_paired_row("vgg16", a, b, "images", values[a], values[b], n_boot, seed) for a, b in TABLE3_PAIRS]
    return pd.DataFrame(rows, columns=COLUMNS)


def table5(values: dict[str, dict[str, np.ndarray]], study: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Table 5 (in-box share at 0.85) per model: each method, then every pair of :data:`TABLE5_PAIRS`.
    ``study[model][method]``: the printed mean (``values.yaml``'s ``table5.{A,B}.study``)."""
    rows = []
    for model, per in values.items():
        printed = (study.get(model) or {}).get("study", {})
        rows += [_method_row(model, m, "boxes", v, {"mean": printed.get(m)}, n_boot, seed) for m, v in per.items()]
        rows += [_paired_row(model, a, b, "boxes", per[a], per[b], n_boot, seed) for a, b in TABLE5_PAIRS]
    return pd.DataFrame(rows, columns=COLUMNS)


def table4(scores: pd.DataFrame, study: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Table 4 from the scored answers: per method the mean and std over all answers with a
    rater-clustered interval (the study's numbers), then on per-rater mean scores Guided Grad-CAM
    − Guided Backprop and each method against 0."""
    rows = []
    for m in TABLE4_METHODS:
        s = scores[scores["method"] == m]["score"].astype(float)
        printed = (study.get(m) or {}).get("study", {})
        low, high = clustered_bootstrap_ci(scores[scores["method"] == m], n_boot=n_boot, seed=seed)
        stats = {"mean": float(s.mean()), "std": float(s.std(ddof=1))}
        rows.append(
            {
                "model": "vgg16 vs alexnet",
                "kind": "method",
                "a": m,
                "b": "",
                "unit": "raters",
                "n": int(scores.loc[scores["method"] == m, "rater"].nunique()),
                **stats,
                "ci_low": low,
                "ci_high": high,
                "statistic": np.nan,
                "p_value": np.nan,
                "study_mean": printed.get("mean"),
                "study_std": printed.get("std"),
                "matches_study": _matches(stats, printed),
            }
        )
    per = scores.groupby(["rater", "method"])["score"].mean().unstack("method").reindex(columns=list(TABLE4_METHODS))
    a, b = TABLE4_METHODS
    rows.append(_paired_row("vgg16 vs alexnet", a, b, "raters", per[a].to_numpy(), per[b].to_numpy(), n_boot, seed))
    rows += [
        _paired_row("vgg16 vs alexnet", m, None, "raters", per[m].to_numpy(), None, n_boot, seed)
        for m in TABLE4_METHODS
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def display(df: pd.DataFrame) -> pd.DataFrame:
    """The Markdown form: one line per row, values with their interval, the study's beside them."""
    shown = []
    for _, r in df.iterrows():
        what = (
            LABELS.get(r["a"], r["a"])
            if r["kind"] == "method"
            else f"{LABELS.get(r['a'], r['a'])} − {LABELS.get(r['b'], r['b'])}"
            if r["kind"] == "paired"
            else f"{LABELS.get(r['a'], r['a'])} vs 0 (per-rater means)"
        )
        study = (
            "–"
            if pd.isna(r["study_mean"])
            else fmt(float(r["study_mean"]), 4)
            + ("" if pd.isna(r["study_std"]) else f" ± {fmt(float(r['study_std']), 4)}")
        )
        shown.append(
            {
                "model": r["model"],
                "comparison": what,
                "n": f"{int(r['n'])} {r['unit']}",
                "mean ± std [95 % CI]": f"{fmt(r['mean'], 4)} ± {fmt(r['std'], 4)} "
                f"[{fmt(r['ci_low'], 4)}, {fmt(r['ci_high'], 4)}]",
                "Wilcoxon p": "–" if pd.isna(r["p_value"]) else f"{r['p_value']:.3g}",
                "study (printed)": study,
                "= printed": "–"
                if r["matches_study"] is None or pd.isna(r["matches_study"])
                else ("yes" if r["matches_study"] else "no"),
            }
        )
    return pd.DataFrame(shown)


def notes(name: str, df: pd.DataFrame) -> list[str]:
    """What was computed, from which file, and where a printed value differs from ours."""
    common = [
        "intervals: 95 % percentile bootstrap (1,000 resamples, seeded) over the unit named in `n`; paired "
        "rows resample the pairs together; Wilcoxon: `scipy.stats.wilcoxon` (two-sided, zero differences "
        "dropped) of the paired differences",
        "`= printed`: our mean (and std) rounded to four decimals equals the study's printed value",
    ]
    source = {
        "table3": [
            "source: the study's per-image Spearman ρ between each method's map and the 45×45 occlusion map, "
            "both at 14×14, VGG-16, ILSVRC2012_val_00000001…120 (`resources/study/occlusion_45x45/`)"
        ],
        "table4": [
            "source: the survey's raw export (36 raters × 26 questions, "
            "`resources/study/user_study/Truthfulness of Visualization.xlsx`) scored with its key "
            "(`key.csv`): −2…2, positive when VGG-16 (the more accurate model) is judged more reasonable",
            "method rows: mean and std (ddof = 1) over all answers, as the study computed them, with a "
            "rater-clustered interval; paired and `vs 0` rows: on per-rater mean scores (each rater once)",
        ],
        "table5": [
            "source: the study's in-box share per box (984 ChestX-ray14 boxes): the share of the map's "
            "pixels above 0.85 of its min–max range that lie in the true box, models A (CheXNet) and B "
            "(`resources/study/chest_xray/result_*_0_85.csv`); the study published no finding per box, so "
            "no per-finding rows"
        ],
    }[name]
    differs = df[(df["kind"] == "method") & (df["matches_study"] == False)]  # noqa: E712 (a column of True/False/None)
    flagged = [
        f"{r['model']} {LABELS.get(r['a'], r['a'])}: ours {r['mean']:.5f}, printed {r['study_mean']:g} "
        "(the study's table differs from its own raw results in the last digit)"
        for _, r in differs.iterrows()
    ]
    return source + common + flagged


TITLES = {
    "table3": "Table 3 on the study's own results: rank correlation with 45×45 occlusion (VGG-16)",
    "table4": "Table 4 on the study's own results: the user study (VGG-16 vs AlexNet)",
    "table5": "Table 5 on the study's own results: in-box share of the strongest pixels (ChestX-ray14)",
}


def write(name: str, df: pd.DataFrame, csv: str | os.PathLike, md: str | os.PathLike) -> None:
    write_table(df, csv, md, TITLES[name], notes(name, df), display=display(df))


def reanalysis(
    occlusion: str | os.PathLike,
    chest_xray: str | os.PathLike,
    export: str | os.PathLike,
    key: str | os.PathLike,
    published: dict,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """The three tables from the raw files and ``values.yaml`` (``published``)."""
    tables = {
        "table3": table3(table3_values(occlusion), published["table3"], n_boot, seed),
        "table4": table4(table4_scores(export, key), published["table4"], n_boot, seed),
        "table5": table5(table5_values(chest_xray), published["table5"], n_boot, seed),
    }
    for name, df in tables.items():
        m = df[df["kind"] == "method"]
        log.info("%s: %d of %d printed values reproduced", name, int((m["matches_study"] == True).sum()), len(m))  # noqa: E712
    return tables
