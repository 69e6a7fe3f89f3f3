"""The claims the deletion experiment decides, read off ``deletion.csv``: the study's Table 7
conclusion re-tested with the field's tests, ROAD's consistency, and every method against the
random map. The study ran none of these tests: its published results decide none of them."""

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
    pair,
    reverse,
    role_model,
)
from cameval.formatting import row_interval
from cameval.methods import set_label

GAP = "the study ran no deletion, insertion or ROAD test; its published results hold no perturbation curve"


def claim_table7_retested(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["deletion"]
    criterion = (
        "on the MNIST-type model: Integrated Gradients' and Gradient SHAP's deletion AUC and ROAD MoRF accuracy (mean "
        "over the percentages) below Grad-CAM's (lower is better); "
        + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        + " — of Grad-CAM minus the method. Gradient SHAP stands for the study's DeepSHAP (the heatmap sets' method)"
    )
    model = role_model(t["model"], "mnist", ctx)
    if model is None:
        return Verdict("not evaluated (the deletion table lacks an MNIST-type model)", "", criterion)
    rows = t[t["model"] == model].drop_duplicates("method").set_index("method")
    parts, numbers = [], []
    for method in ("integrated_gradients", "gradient_shap"):
        if method not in rows.index or "gradcam" not in rows.index:
            continue
        r = rows.loc[method]
        for key in ("deletion_auc", "road_morf"):
            v, text = pair(r, f"{key}_minus_gradcam", ctx.alpha)  # method − Grad-CAM: below 0 is the claim
            parts.append(reverse(v))
            numbers.append(
                f"{model} {key} (n = {int(r['n'])}): {set_label(r['set'], method)} {row_interval(r, key, 3)} "
                f"vs Grad-CAM "
                f"{row_interval(rows.loc['gradcam'], key, 3)}; this − Grad-CAM {text}"
            )
    if not parts:
        return Verdict("not evaluated (the MNIST model lacks Grad-CAM, IG or Gradient SHAP sets)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_road_consistency(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    from scipy import stats  # noqa: PLC0415  # ~1 s to import: the claims job only, not the workflow's parse

    t = tables["deletion"]
    criterion = (
        "per model, Kendall τ between the methods' (random map included) mean MoRF accuracy and mean LeRF accuracy: "
        f"the orders reverse when τ < 0 with p < {ctx.alpha:g} (holds), agree when τ > 0 with p < {ctx.alpha:g} "
        "(does not hold), else undecided; on every model"
    )
    parts, numbers = [], []
    for model in dict.fromkeys(t["model"]):
        g = t[t["model"] == model]
        if len(g) < 3:
            continue
        tau, p = stats.kendalltau(g["road_morf"].astype(float), g["road_lerf"].astype(float))
        if math.isnan(tau) or math.isnan(p):
            parts.append(UNDECIDED)
        else:
            parts.append(HOLDS if tau < 0 and p < ctx.alpha else FAILS if tau > 0 and p < ctx.alpha else UNDECIDED)
        numbers.append(f"{model} ({len(g)} methods): τ = {tau:.3f}, p = {p:.3g}")
    if not parts:
        return Verdict("not evaluated (fewer than 3 methods per model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_beats_random(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["deletion"]
    criterion = (
        "per model and method: deletion AUC below and insertion AUC above the seeded random map's; "
        + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        + " — of the method's better direction; a method that does not is named"
    )
    parts, losers, undecided, n = [], [], [], 0
    for _, r in t[t["method"] != "random"].iterrows():
        for key, larger in (("deletion_auc", False), ("insertion_auc", True)):
            col = f"{key}_minus_random"
            if col not in r or pd.isna(r[col]):
                continue
            v, text = pair(r, col, ctx.alpha)
            v = v if larger else reverse(v)
            parts.append(v)
            n += 1
            name = f"{r['model']} {set_label(r['set'], r['method'])} ({key}: {text})"
            if v == FAILS:
                losers.append(name)
            elif v == UNDECIDED:
                undecided.append(name)
    if not parts:
        return Verdict("not evaluated (no paired differences from the random map)", "", criterion)
    numbers = f"{n} comparisons; worse than the random map: {'; '.join(losers) or 'none'}; not distinguished from it: "
    return Verdict(combine(parts), numbers + ("; ".join(undecided) or "none"), criterion)


CLAIMS = (
    Claim(
        "table7-deletion-road",
        "The study's Table 7 conclusion, re-tested with the field's tests: Integrated Gradients and SHAP are more "
        "faithful than Grad-CAM on the MNIST network, by deletion AUC and by ROAD (MoRF).",
        "Table 7, re-tested (Petsiuk et al. 2018, Rong et al. 2022)",
        ("deletion",),
        claim_table7_retested,
        study_gap=GAP,
    ),
    Claim(
        "road-consistency",
        "Under noisy linear imputation the methods' order by MoRF is the reverse of their order by LeRF.",
        "Rong et al. 2022 (beyond the study)",
        ("deletion",),
        claim_road_consistency,
        study_gap=GAP,
    ),
    Claim(
        "beats-random-map",
        "Every method beats the random map on deletion and insertion, on every model.",
        "Petsiuk et al. 2018 (beyond the study)",
        ("deletion",),
        claim_beats_random,
        study_gap=GAP,
    ),
)
