"""The claims Table 3 decides, on this run and on the study's own per-image ρ."""

from __future__ import annotations

import pandas as pd

from cameval.claims import FAILS, PAIRED_CRITERION, UNDECIDED, Claim, Context, Verdict, combine, pair, study_pair
from cameval.experiments.occlusion.table import TABLE3_METHODS
from cameval.formatting import row_interval
from cameval.tables import paired_key


def _table3_pair(a: str, b: str, significance: bool = False):
    """This run's verdict of "``a`` correlates with occlusion better than ``b``" on Table 3's paired
    columns, for every model and patch size. With ``significance`` (the study says
    "significantly") no significant difference counts against the claim."""

    def evaluate(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        t = tables["table3"]
        key = paired_key(a, b)
        criterion = (
            f"mean Spearman ρ with occlusion of {TABLE3_METHODS[a]} minus {TABLE3_METHODS[b]}'s, for every "
            "model and patch size, " + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        )
        if key not in t:
            return Verdict(f"not evaluated (Table 3 lacks the paired column {key})", "", criterion)
        parts, numbers = [], []
        for _, r in t.iterrows():
            v, text = pair(r, key, ctx.alpha)
            parts.append(FAILS if significance and v == UNDECIDED else v)
            numbers.append(
                f"{r['model']} {int(r['patch'])}×{int(r['patch'])} (n = {int(r['n'])}): "
                f"{TABLE3_METHODS[a]} {row_interval(r, a, 3)} vs {TABLE3_METHODS[b]} {row_interval(r, b, 3)}; {text}"
            )
        if significance:
            criterion += "; no significant difference does not hold (the claim is of a significant one)"
        return Verdict(combine(parts), "; ".join(numbers), criterion)

    return evaluate


def _study_table3_pair(a: str, b: str, significance: bool = False):
    """The same claim on the study's per-image ρ (120 ILSVRC images, VGG-16, 45×45 occlusion)."""

    def evaluate(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        v, text = study_pair(study["table3"], a, b, ctx.alpha)
        criterion = "the study's 120 images, " + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        if significance:
            v = FAILS if v == UNDECIDED else v
            criterion += "; no significant difference does not hold"
        return Verdict(v, text, criterion)

    return evaluate


claim_guided_gradcam_beats_guided_backprop = _table3_pair("guided_gradcam", "guided_backprop")


CLAIMS = (
    Claim(
        "gradcam-occlusion-gbp",
        "Grad-CAM correlates with occlusion significantly better than Guided Backprop.",
        "Table 3 (the study's repository)",
        ("table3",),
        _table3_pair("gradcam", "guided_backprop", significance=True),
        on_study=_study_table3_pair("gradcam", "guided_backprop", significance=True),
    ),
    Claim(
        "guided-gradcam-occlusion",
        "Guided Grad-CAM correlates with occlusion better than Guided Backprop.",
        "Table 3",
        ("table3",),
        claim_guided_gradcam_beats_guided_backprop,
        on_study=_study_table3_pair("guided_gradcam", "guided_backprop"),
    ),
    Claim(
        "guided-gradcam-occlusion-gradcam",
        "Guided Grad-CAM correlates with occlusion better than Grad-CAM.",
        "Table 3",
        ("table3",),
        _table3_pair("guided_gradcam", "gradcam"),
        on_study=_study_table3_pair("guided_gradcam", "gradcam"),
    ),
)
