"""The claim Table 6 decides: GoogLeNet's Grad-CAM respects Sensitivity on one-pixel attacks, VGG-16's does not."""

from __future__ import annotations

import pandas as pd

from cameval.claims import FAILS, HOLDS, UNDECIDED, Claim, Context, Verdict, combine, role_model


def min_pairs(alpha: float) -> int:
    """The fewest pairs at which a two-sided exact Wilcoxon signed-rank test can reach ``p < alpha``:
    the smallest ``n`` with ``2 · 2^-n < alpha`` (α = 0.05 → 6)."""
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def sensitivity_respected(row, alpha: float = 0.05) -> str:
    """Does one model's map respect Sensitivity on its one-pixel attacks (one row of Table 6)?

    Sensitivity (Sundararajan et al. 2017; the study's §6): a feature whose change alone changes the
    prediction must get attribution. Read against the chance level — the same map at a seeded random
    pixel of the same image — over the successful attacks, with ``b, a`` the mean map value (0–1) at
    the attacked pixel before (class: the label) and after (class: the new prediction), ``r_b, r_a``
    the random pixel's, ``[b_low, b_high]`` the 95 % interval of ``b`` and ``p`` the table's Wilcoxon
    signed-rank p-value (attacked vs random, before):

    - ``holds`` (respects):           ``p < α`` and ``b > r_b`` (significantly above chance), and ``a > r_a``;
    - ``does not hold`` (violates):   (``b_high ≤ r_b`` or (``p < α`` and ``b < r_b``)) and ``a ≤ r_a``:
      the attacked pixel gets no more than a random one, before and after;
    - ``undecided`` otherwise, and when fewer than :func:`min_pairs` attacks succeeded.
    """
    vals = [row.get(k) for k in ("before_mean", "random_before_mean", "after_mean", "random_after_mean", "before_high")]
    if int(row.get("successful", 0)) < min_pairs(alpha) or any(v is None or pd.isna(v) for v in vals):
        return UNDECIDED
    b, rb, a, ra, b_high = (float(v) for v in vals)
    p = row.get("wilcoxon_p")
    significant = p is not None and not pd.isna(p) and float(p) < alpha
    if significant and b > rb and a > ra:
        return HOLDS
    if (b_high <= rb or (significant and b < rb)) and a <= ra:
        return FAILS
    return UNDECIDED


SENSITIVITY_WORDS = {HOLDS: "respects Sensitivity", FAILS: "does not respect Sensitivity", UNDECIDED: "undecided"}


def claim_one_pixel_sensitivity(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """GoogLeNet's Grad-CAM respects Sensitivity (:func:`sensitivity_respected` holds) and VGG-16's
    does not (it fails); the two parts are combined with :func:`combine`. With one of the two
    models absent from Table 6 the claim fails when the present part fails, else is not evaluated."""
    t = tables["table6"]
    t = t[t["method"] == "gradcam"]
    k = min_pairs(ctx.alpha)
    criterion = (
        f"per model, Grad-CAM (0–1, map / max) over the successful attacks: b, a = mean value at the attacked "
        f"pixel before (label) and after (new class), r_b, r_a = the same at a seeded random pixel (chance "
        f"level), p = Wilcoxon signed-rank p-value of attacked vs random (before). Respects Sensitivity: "
        f"p < {ctx.alpha:g}, b > r_b and a > r_a; does not: (the 95 % interval of b at or below r_b, or "
        f"p < {ctx.alpha:g} with b < r_b) and a ≤ r_a; otherwise, or with fewer than {k} successful attacks "
        f"(the fewest at which the test can reach p < {ctx.alpha:g}), undecided. Holds when GoogLeNet respects "
        f"it and VGG-16 does not"
    )
    parts, numbers, missing = [], [], []
    for role, label, wanted in (("googlenet", "GoogLeNet", HOLDS), ("vgg16", "VGG-16", FAILS)):
        model = role_model(t["model"], role, ctx)
        if model is None:
            missing.append(label)
            continue
        r = t[t["model"] == model].iloc[0]
        v = sensitivity_respected(r, ctx.alpha)
        parts.append(UNDECIDED if v == UNDECIDED else HOLDS if v == wanted else FAILS)
        numbers.append(
            f"{model}: {int(r['successful'])} of {int(r['attacks'])} attacks successful; attacked pixel "
            f"before {r['before_mean']:.3f} [{r['before_low']:.3f}, {r['before_high']:.3f}] vs random "
            f"{r['random_before_mean']:.3f}, after {r['after_mean']:.3f} vs random "
            f"{r['random_after_mean']:.3f}; Wilcoxon p = {r['wilcoxon_p']:.3g} → {SENSITIVITY_WORDS[v]}"
        )
    if missing:
        if FAILS in parts:
            return Verdict(FAILS, "; ".join(numbers), criterion)
        return Verdict(
            f"not evaluated (Table 6 lacks a {' and a '.join(missing)}-type model)", "; ".join(numbers), criterion
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


CLAIMS = (
    Claim(
        "one-pixel-sensitivity",
        "On one-pixel attacks GoogLeNet's Grad-CAM respects Sensitivity and VGG-16's does not.",
        "Table 6",
        ("table6",),
        claim_one_pixel_sensitivity,
        study_gap="the study published its attacked pixels but not the Grad-CAM values at them",
    ),
)
