"""Table 4's claims: the methods do not differ significantly, and raters favour the more accurate model."""

from __future__ import annotations

import math

import pandas as pd

from cameval.claims import (
    FAILS,
    HOLDS,
    PAIRED_CRITERION,
    UNDECIDED,
    Claim,
    Context,
    Verdict,
    combine,
    paired_verdict,
    study_pair,
)


def claim_user_study_not_significant(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        f"Wilcoxon signed-rank test between the methods on per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(no significant difference: holds), p < α (does not hold)"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    p = float(t["p_value"].iloc[0])
    numbers = (
        "; ".join(
            f"{r['method']}: mean {r['mean']:.2f} ± {r['std']:.2f} ({int(r['raters'])} raters)" for _, r in t.iterrows()
        )
        + f"; p = {p:.3g}"
    )
    if math.isnan(p):
        return Verdict(UNDECIDED, numbers, criterion)
    return Verdict(HOLDS if p >= ctx.alpha else FAILS, numbers, criterion)


def study_user_study_not_significant(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = study["table4"]
    r = t[(t["kind"] == "paired")].iloc[0]
    p = float(r["p_value"])
    return Verdict(
        HOLDS if p >= ctx.alpha else FAILS,
        f"Guided Grad-CAM − Guided Backprop on per-rater mean scores: Δ {r['mean']:.4f} "
        f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}], p = {p:.3g} ({int(r['n'])} raters)",
        f"Wilcoxon signed-rank test on the study's 36 raters' per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(holds), p < α (does not hold)",
    )


def claim_user_study_favours_better(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        "with each method, raters' per-rater mean scores (positive: the more accurate model judged more "
        f"reasonable) tested against 0: Wilcoxon signed-rank p < {ctx.alpha:g} with the 95 % interval over "
        "raters above 0 (holds) or below 0 (does not hold), else undecided; every method"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    if "p_vs_zero" not in t:
        return Verdict("not evaluated (Table 4 lacks the test against 0)", "", criterion)
    parts, numbers = [], []
    for _, r in t.iterrows():
        parts.append(paired_verdict(r["rater_mean"], r["rater_ci_low"], r["rater_ci_high"], r["p_vs_zero"], ctx.alpha))
        numbers.append(
            f"{r['method']}: per-rater mean {r['rater_mean']:.2f} [{r['rater_ci_low']:.2f}, "
            f"{r['rater_ci_high']:.2f}], p = {r['p_vs_zero']:.3g} ({int(r['raters'])} raters)"
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def study_user_study_favours_better(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    parts, numbers = [], []
    for m in ("guided_gradcam", "guided_backprop"):
        v, text = study_pair(study["table4"], m, None, ctx.alpha)
        parts.append(v)
        numbers.append(text)
    return Verdict(
        combine(parts),
        "; ".join(numbers),
        "with each method, the study's raters' per-rater mean scores (positive: VGG-16 judged more "
        "reasonable) against 0, " + PAIRED_CRITERION.format(unit="raters", alpha=ctx.alpha),
    )


CLAIMS = (
    Claim(
        "user-study-not-significant",
        "In the user study the difference between Guided Backprop and Guided Grad-CAM is not significant.",
        "Table 4, App. D",
        ("table4",),
        claim_user_study_not_significant,
        on_study=study_user_study_not_significant,
    ),
    Claim(
        "user-study-favours-better",
        "With either method, raters judge the more accurate model (VGG-16) more reasonable.",
        "Table 4",
        ("table4",),
        claim_user_study_favours_better,
        on_study=study_user_study_favours_better,
    ),
)
