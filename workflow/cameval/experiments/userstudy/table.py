"""Table 4 from the scores: per method the mean and the standard deviation (ddof = 1, as the study's
numbers are) of the scores, a 95 % percentile-bootstrap interval clustered by rater (raters are
resampled with replacement, every answer of a drawn rater comes along) and a paired test between
the two methods: the Wilcoxon signed-rank test on per-rater mean scores; its title and notes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval.errors import DataError
from cameval.experiments.userstudy.answers import read_key, score_answers
from cameval.formatting import fmt
from cameval.methods import labels
from cameval.metrics.stats import paired_compare, wilcoxon_test
from cameval.paths import Layout

METHOD_NAMES = labels("guided_backprop", "guided_gradcam")


def clustered_bootstrap_ci(
    scores: pd.DataFrame, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean score, resampling raters (with all their answers).

    Each resample draws R raters with replacement out of the R present and takes the mean of all
    the drawn raters' scores: ``Σ_r∈draw sum_r / Σ_r∈draw n_r``.
    """
    per = scores.groupby("rater")["score"].agg(["sum", "count"])
    if per.empty:
        return float("nan"), float("nan")
    sums, counts = per["sum"].to_numpy(float), per["count"].to_numpy(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per), size=(n_boot, len(per)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def paired_test(scores: pd.DataFrame, methods: tuple[str, str]) -> dict:
    """Wilcoxon signed-rank test (two-sided) between two methods on per-rater mean scores.

    Pairs are the raters who answered items of both methods; ``d_r = mean_r(m1) − mean_r(m2)``.
    Returns ``pairs``, ``statistic`` and ``p_value`` (:func:`cameval.metrics.stats.wilcoxon_test`:
    NaN with no pair, or when every d_r is 0).
    """
    per = scores.groupby(["rater", "method"])["score"].mean().unstack("method")
    if not all(m in per.columns for m in methods):
        return {"pairs": 0, "statistic": float("nan"), "p_value": float("nan")}
    per = per[list(methods)].dropna()
    statistic, p = wilcoxon_test(per[methods[0]].to_numpy(), per[methods[1]].to_numpy())
    return {"pairs": len(per), "statistic": statistic, "p_value": p}


SUMMARY_COLUMNS = [
    "method",
    "raters",
    "items",
    "answers",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "test",
    "pairs",
    "statistic",
    "p_value",
    "rater_mean",
    "rater_ci_low",
    "rater_ci_high",
    "p_vs_zero",
]


def summarize(
    scores: pd.DataFrame, methods: tuple[str, ...] | None = None, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Per method: raters, items, answers, mean, std (ddof = 1), 95 % rater-clustered bootstrap
    interval, and the paired Wilcoxon test between the first two methods (same on both rows);
    and on per-rater mean scores (each rater once): their mean, its bootstrap interval over raters
    and the Wilcoxon signed-rank test against 0 (``p_vs_zero``: do raters favour ``better``?).

    ``methods``: the order of the rows (default: as they first appear in ``scores``).
    """
    methods = tuple(methods) if methods is not None else tuple(dict.fromkeys(scores["method"]))
    test = (
        paired_test(scores, methods[:2])
        if len(methods) >= 2
        else {"pairs": 0, "statistic": float("nan"), "p_value": float("nan")}
    )
    rows = []
    for m in methods:
        s = scores[scores["method"] == m]
        low, high = clustered_bootstrap_ci(s, n_boot=n_boot, seed=seed)
        per_rater = s.groupby("rater")["score"].mean().to_numpy(float)
        vs0 = paired_compare(per_rater, None, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "rater_mean": vs0["mean"],
                "rater_ci_low": vs0["low"],
                "rater_ci_high": vs0["high"],
                "p_vs_zero": vs0["p_value"],
                "method": m,
                "raters": s["rater"].nunique(),
                "items": s["item"].nunique(),
                "answers": len(s),
                "mean": float(s["score"].mean()) if len(s) else float("nan"),
                "std": float(s["score"].std(ddof=1)) if len(s) > 1 else float("nan"),
                "ci_low": low,
                "ci_high": high,
                "test": f"Wilcoxon signed-rank, per-rater means, {methods[0]} vs {methods[1]}"
                if len(methods) >= 2
                else "",
                **test,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def table4(
    answer_files: list[str | os.PathLike],
    key_csv: str | os.PathLike,
    better: str,
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Table 4 from the answer files: ``(full, display, awaiting)``.

    With no answer file the table keeps one row per method of the key with empty numbers and
    ``status = awaiting answers`` (nothing is invented). ``reference[method] = {mean, std}``
    (the study's values) stand in their own columns.
    """
    reference = reference or {}
    key = read_key(key_csv)
    methods = tuple(dict.fromkeys(key["method"]))
    if answer_files:
        scores = pd.concat([score_answers(f, key_csv, better=better) for f in answer_files], ignore_index=True)
        dup = scores.duplicated(["rater", "item"])
        if dup.any():
            raise DataError(
                f"{list(map(str, answer_files))}: raters {sorted(set(scores.loc[dup, 'rater']))} "
                "appear in more than one answers file"
            )
        full = summarize(scores, methods, n_boot=n_boot, seed=seed)
        full["status"] = "answered"
    else:
        full = pd.DataFrame({c: [np.nan] * len(methods) for c in SUMMARY_COLUMNS})
        full["method"] = list(methods)
        full["status"] = "awaiting answers"
    full["study_mean"] = [reference.get(m, {}).get("mean") for m in full["method"]]
    full["study_std"] = [reference.get(m, {}).get("std") for m in full["method"]]
    display = []
    for _, r in full.iterrows():
        shown = {"method": METHOD_NAMES.get(r["method"], r["method"])}
        if answer_files:
            shown.update(
                {
                    "raters": int(r["raters"]),
                    "answers": int(r["answers"]),
                    "mean ± std [95 % CI]": f"{fmt(r['mean'])} ± {fmt(r['std'])} "
                    f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                    "Wilcoxon p": fmt(r["p_value"], 3),
                    "per-rater mean vs 0 [95 % CI], p": f"{fmt(r['rater_mean'])} [{fmt(r['rater_ci_low'])}, "
                    f"{fmt(r['rater_ci_high'])}], {fmt(r['p_vs_zero'], 3)}",
                }
            )
        else:
            shown["ours"] = "awaiting answers"
        if reference:
            shown["study mean ± std"] = f"{fmt(r['study_mean'], 4)} ± {fmt(r['study_std'], 4)}"
        display.append(shown)
    return full, pd.DataFrame(display), not answer_files


def title(awaiting: bool) -> str:
    return "Table 4 — user study (blinded, randomized)" + (" — awaiting answers" if awaiting else "")


def notes(better: str, awaiting: bool, kit: str | None = None) -> list[str]:
    """What Table 4 computed (``better``: the more accurate model; ``kit``: the kit's folder, under the
    run's results root; default: the default root's)."""
    kit = kit or os.path.dirname(Layout().user_study("key.csv"))
    notes = [
        f"Score in -2..2 per answer, positive when the rater judged {better} (the more accurate model) more "
        "reasonable.",
        "Mean and standard deviation (ddof = 1) over all answers; 95 % bootstrap interval resampling raters; "
        "Wilcoxon signed-rank test (two-sided) between the methods on per-rater mean scores.",
    ]
    if awaiting:
        notes.insert(0, f"Awaiting answers: no answers file is listed in table4.answers; the kit is in {kit}/.")
    return notes
