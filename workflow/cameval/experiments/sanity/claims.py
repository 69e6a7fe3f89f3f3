"""The claims the sanity experiment decides (Adebayo et al., NeurIPS 2018), read off ``sanity.csv``.

The study ran no randomization test: its published results decide none of them.
"""

from __future__ import annotations

import pandas as pd

from cameval.claims import FAILS, HOLDS, PAIRED_CRITERION, UNDECIDED, Claim, Context, Verdict, combine, pair
from cameval.formatting import row_interval
from cameval.methods import label

GAP = "the study ran no randomization test; its published per-image results hold no randomized model's maps"


def _true(values: pd.Series) -> pd.Series:
    """A CSV's boolean column as booleans (blank cells false)."""
    return values.astype(str).str.lower() == "true"


def claim_guided_fail_cascade(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["sanity"]
    criterion = (
        "cascading randomization, at the step where the last convolution (the cascade's first, in the reverse of "
        "named_modules() order: in a ResNet block the shortcut's 1×1 convolution) and everything above it are "
        "re-initialized: "
        "Spearman ρ of |map| with the unchanged model's map, Guided Backprop's and Guided Grad-CAM's minus Grad-CAM's, "
        "on every model; " + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
    )
    need = {"mode", "measure", "last_conv", "method", "minus_gradcam"}
    if not need <= set(t.columns):
        return Verdict(f"not evaluated (the sanity table lacks {sorted(need - set(t.columns))})", "", criterion)
    at = t[(t["mode"] == "cascading") & (t["measure"] == "spearman_abs") & _true(t["last_conv"])]
    parts, numbers = [], []
    for model in dict.fromkeys(t["model"]):
        rows = at[at["model"] == model].set_index("method")
        if "gradcam" not in rows.index:
            numbers.append(f"{model}: no step reached the last convolution (sanity.layers) or no Grad-CAM set")
            parts.append(UNDECIDED)
            continue
        cam = rows.loc["gradcam"]
        for method in ("guided_backprop", "guided_gradcam"):
            if method not in rows.index:
                continue
            r = rows.loc[method]
            v, text = pair(r, "minus_gradcam", ctx.alpha)
            parts.append(v)
            numbers.append(
                f"{model} at {r['layer']} (n = {int(r['n'])}): {label(method)} {row_interval(r, 'similarity', 3)} vs "
                f"Grad-CAM {row_interval(cam, 'similarity', 3)}; {text}"
            )
    if not numbers:
        return Verdict("not evaluated (the sanity table has no cascading Spearman |map| rows)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def _twin_fit_text(r: pd.Series) -> str:
    """``training accuracy A on N shuffled labels`` of a data-mode row (N where the table has it)."""
    n = r.get("twin_n_train")
    on = f" on {int(n)} shuffled labels" if n is not None and not pd.isna(n) else ""
    return f"training accuracy {float(r['twin_train_acc']):.3f}{on}"


def claim_gradcam_data_randomization(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["sanity"]
    rows = (
        t[(t["mode"] == "data") & (t["measure"] == "spearman_abs") & (t["method"] == "gradcam")]
        if "mode" in t
        else t[:0]
    )
    bound = float(rows["bound"].iloc[0]) if len(rows) and "bound" in rows else float("nan")
    criterion = (
        "Spearman ρ of |map| between Grad-CAM's maps of each model and of its twin trained on shuffled labels: "
        "the 95 % "
        f"interval below the bound sanity.data_bound = {bound:g} (holds) or above it (does not hold), on every model "
        "whose twin fit its shuffled labels (training accuracy ≥ sanity.min_fit); a twin that did not fit is no test"
    )
    if rows.empty:
        return Verdict("not evaluated (no shuffled-label twin in this configuration: sanity.shuffled)", "", criterion)
    fit = rows[_true(rows["twin_fit"])]
    unfit = rows[~_true(rows["twin_fit"])]
    skipped = [f"{r['model']}'s twin {r['twin']} ({_twin_fit_text(r)})" for _, r in unfit.iterrows()]
    if fit.empty:
        return Verdict("not evaluated (no twin fit its shuffled labels: " + "; ".join(skipped) + ")", "", criterion)
    parts, numbers = [], []
    for _, r in fit.iterrows():
        low, high = float(r["similarity_low"]), float(r["similarity_high"])
        parts.append(HOLDS if high < bound else FAILS if low > bound else UNDECIDED)
        numbers.append(
            f"{r['model']} vs twin {r['twin']} ({_twin_fit_text(r)}, "
            f"n = {int(r['n'])}): "
            f"{row_interval(r, 'similarity', 3)}"
        )
    if skipped:
        numbers.append("left out, no test: " + "; ".join(skipped))
    return Verdict(combine(parts), "; ".join(numbers), criterion)


CLAIMS = (
    Claim(
        "guided-fail-model-randomization",
        "Guided Backprop and Guided Grad-CAM fail the cascading model randomization test and Grad-CAM passes it: "
        "once the top layers are randomized their maps stay more similar to the original than Grad-CAM's.",
        "Adebayo et al. 2018 (beyond the study)",
        ("sanity",),
        claim_guided_fail_cascade,
        study_gap=GAP,
    ),
    Claim(
        "gradcam-data-randomization",
        "Grad-CAM passes the data randomization test: its maps for a network trained on shuffled labels are "
        "dissimilar to those of the network trained on the true labels.",
        "Adebayo et al. 2018 (beyond the study)",
        ("sanity",),
        claim_gradcam_data_randomization,
        study_gap=GAP,
    ),
)
