"""The claims Table 7 decides: Grad-CAM's contrastivity on the deeper network, its fidelity on the MNIST one."""

from __future__ import annotations

import pandas as pd

from cameval.claims import NO_RAW, Claim, Context, Verdict, combine, greater, has_pair, iv, pair, reverse, role_model
from cameval.experiments.faithfulness.table import METHODS
from cameval.formatting import row_interval


def _gradcam_extreme(
    t: pd.DataFrame, model: str, key: str, highest: bool, alpha: float = 0.05
) -> tuple[list[str], list[str]]:
    """Per percentile: Grad-CAM's ``key`` above (``highest``) or below every other method's — by the
    paired test on the same images where the table has ``gradcam_minus_{key}``, else intervals separated."""
    parts, numbers = [], []
    for p, g in t[t["model"] == model].groupby("percentile", sort=False):
        by = g.drop_duplicates("method").set_index("method")
        if "gradcam" not in by.index or len(by) < 2:
            continue
        gc = by.loc["gradcam"]
        # the study compared Grad-CAM with SHAP and IG: methods it did not test (a library's, your own)
        # stand in the table with their intervals, not in the study's claim
        others = [(m, r) for m, r in by.iterrows() if m != "gradcam" and m in METHODS]
        paired = has_pair(by, f"gradcam_minus_{key}")
        diffs = []
        for m, r in others:
            if paired:  # Grad-CAM − this method on the same images
                v, diff = pair(r, f"gradcam_minus_{key}", alpha)
                parts.append(v if highest else reverse(v))
                diffs.append(f"Grad-CAM − {METHODS.get(m, m)}: {diff}")
            else:
                parts.append(greater(iv(gc, key), iv(r, key)) if highest else greater(iv(r, key), iv(gc, key)))
        numbers.append(
            f"{model} at the {p:g} % percentile (n = {int(gc['n'])}): Grad-CAM {row_interval(gc, key, 3)} vs "
            + ", ".join(f"{METHODS.get(m, m)} {row_interval(r, key, 3)}" for m, r in others)
            + (f" (paired: {'; '.join(diffs)})" if diffs else "")
        )
    return parts, numbers


def _gradcam_extreme_verdict(
    t: pd.DataFrame, ctx: Context, role: tuple[str, str], key: str, highest: bool, criterion: str
) -> Verdict:
    """The verdict of a Table 7 claim that Grad-CAM's ``key`` is the highest (or lowest) on the model of
    ``role`` (its role name, and how a missing one is named)."""
    model = role_model(t["model"], role[0], ctx)
    if model is None:
        return Verdict(f"not evaluated (Table 7 lacks {role[1]} model)", "", criterion)
    parts, numbers = _gradcam_extreme(t, model, key, highest=highest, alpha=ctx.alpha)
    if not parts:
        return Verdict("not evaluated (Table 7 lacks Grad-CAM or another method on that model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_contrastivity_deeper_net(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = (
        "on the GoogLeNet-type model of Table 7, Grad-CAM's mean contrastivity (Hamming distance between the "
        "binarized maps of the true and another class / size of their union) above every other method's, "
        "at every percentile: paired on the same images (Wilcoxon p < α, interval of the difference on the "
        "claimed side of 0) where the table carries the difference, else 95 % intervals separated"
    )
    return _gradcam_extreme_verdict(t, ctx, ("googlenet", "a GoogLeNet-type"), "contrastivity", True, criterion)


def claim_fidelity_mnist(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = (
        "on the MNIST-type model of Table 7, Grad-CAM's mean fidelity (drop of the label's probability when "
        "its binarized map's pixels are set to the dataset's mean) below every other method's, at every percentile: "
        "paired on the same images (Wilcoxon p < α, interval of the difference below 0) where the table carries "
        "the difference, else 95 % intervals separated"
    )
    return _gradcam_extreme_verdict(t, ctx, ("mnist", "an MNIST-type"), "fidelity", False, criterion)


CLAIMS = (
    Claim(
        "contrastivity-deeper-net",
        "Grad-CAM has the highest contrastivity on the deeper network (GoogLeNet, CIFAR-10).",
        "Table 7",
        ("table7",),
        claim_contrastivity_deeper_net,
        study_gap=NO_RAW.format("Table 7"),
    ),
    Claim(
        "fidelity-mnist",
        "Grad-CAM has the lowest fidelity on the MNIST network.",
        "Table 7",
        ("table7",),
        claim_fidelity_mnist,
        study_gap=NO_RAW.format("Table 7"),
    ),
)
