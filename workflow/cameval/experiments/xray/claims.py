"""The claims Table 5 decides: Grad-CAM++ ahead of Grad-CAM, and IG and Gradient SHAP ahead of both
CAMs, on chest X-rays (read off ``table5.csv``, and off the study's per-box in-box shares)."""

from __future__ import annotations

import pandas as pd

from cameval.claims import PAIRED_CRITERION, Claim, Context, Verdict, combine, greater, has_pair, pair, study_pair
from cameval.experiments.xray.table import cell

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
