"""results/claims.md: verdicts computed on hand-built tables (holds / does not hold / undecided)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cameval import claims
from cameval.claims import FAILS, HOLDS, NOT_BUILT, UNDECIDED, Context
from cameval.report import markdown_to_html

CTX = Context(roles={"vgg16": "vgg", "googlenet": "googlenet", "alexnet": "alexnet"}, alpha=0.05,
              tolerance=5.0, fgsm_min_rho=0.5)


def _verdict(claim_id, tables, ctx=CTX):
    df = claims.evaluate_claims(tables, ctx).set_index("id")
    return df.loc[claim_id, "verdict"]


def _t1(rows):
    """rows: (model, method, top1 (mean, low, high), top5 (mean, low, high), original top1, original top5)."""
    out = []
    for model, method, t1, t5, o1, o5 in rows:
        out.append({"model": model, "method": method, "n": 100,
                    "top1_loc": t1[0], "top1_loc_low": t1[1], "top1_loc_high": t1[2],
                    "top5_loc": t5[0], "top5_loc_low": t5[1], "top5_loc_high": t5[2],
                    "original_top1_loc": o1, "original_top5_loc": o5})
    return pd.DataFrame(out)


@pytest.mark.parametrize("top1, expected", [
    ((57.0, 55.0, 59.0), HOLDS),        # [55, 59] inside 56.51 ± 5 = [51.51, 61.51]
    ((70.0, 68.0, 72.0), FAILS),        # entirely above 61.51
    ((60.0, 57.0, 63.0), UNDECIDED),    # straddles 61.51
])
def test_localization_close_to_original(top1, expected):
    t = _t1([("vgg", "gradcam", top1, (46.0, 44.0, 48.0), 56.51, 46.41),
             ("vgg", "gradcampp", (90.0, 89.0, 91.0), (80.0, 79.0, 81.0), None, None)])
    assert _verdict("loc-close-to-original", {"table1": t}) == expected


def test_localization_without_reference_is_not_evaluated():
    t = _t1([("vgg", "gradcam", (57.0, 55.0, 59.0), (46.0, 44.0, 48.0), np.nan, np.nan)])
    assert _verdict("loc-close-to-original", {"table1": t}).startswith("not evaluated (no original-paper values")


@pytest.mark.parametrize("pp_top1, expected", [
    ((60.0, 58.0, 62.0), HOLDS),        # Grad-CAM++ [58, 62] above Grad-CAM [48, 52]
    ((40.0, 38.0, 42.0), FAILS),        # below
    ((51.0, 49.0, 53.0), UNDECIDED),    # overlapping
])
def test_gradcampp_worse_on_imagenet(pp_top1, expected):
    t = _t1([("vgg", "gradcam", (50.0, 48.0, 52.0), (40.0, 39.0, 41.0), None, None),
             ("vgg", "gradcampp", pp_top1, (45.0, 44.0, 46.0), None, None)])
    # top-5 always holds (44 > 41); the verdict is decided by top-1
    assert _verdict("gradcampp-worse-imagenet", {"table1": t}) == expected


def test_any_failing_model_makes_a_claim_fail_and_undecided_beats_holds():
    assert claims.combine([HOLDS, UNDECIDED, FAILS]) == FAILS
    assert claims.combine([HOLDS, UNDECIDED]) == UNDECIDED
    assert claims.combine([HOLDS, HOLDS]) == HOLDS


def _t3(ggc, gbp):
    return pd.DataFrame([{"model": "vgg", "occlusion": "occ7", "patch": 7, "n": 24,
                          "guided_gradcam": ggc[0], "guided_gradcam_low": ggc[1], "guided_gradcam_high": ggc[2],
                          "guided_backprop": gbp[0], "guided_backprop_low": gbp[1], "guided_backprop_high": gbp[2],
                          "gradcam": 0.2, "gradcam_low": 0.1, "gradcam_high": 0.3}])


@pytest.mark.parametrize("ggc, gbp, expected", [
    ((0.30, 0.25, 0.35), (0.10, 0.05, 0.15), HOLDS),
    ((0.05, 0.01, 0.09), (0.20, 0.15, 0.25), FAILS),
    ((0.12, 0.05, 0.19), (0.10, 0.05, 0.15), UNDECIDED),
])
def test_guided_gradcam_beats_guided_backprop(ggc, gbp, expected):
    assert _verdict("guided-gradcam-occlusion", {"table3": _t3(ggc, gbp)}) == expected


@pytest.mark.parametrize("rho, expected", [((0.8, 0.7, 0.9), HOLDS), ((0.2, 0.1, 0.3), FAILS),
                                           ((0.5, 0.4, 0.6), UNDECIDED)])
def test_gradcam_robust_to_fgsm(rho, expected):
    t = pd.DataFrame([{"model": "vgg", "eps": 0.03, "n": 200, "acc_clean": 0.9, "acc_adv": 0.2,
                       "rank_corr": rho[0], "rank_corr_low": rho[1], "rank_corr_high": rho[2],
                       "box_iou": 0.6, "box_iou_low": 0.5, "box_iou_high": 0.7}])
    assert _verdict("gradcam-fgsm-robust", {"fgsm": t}) == expected


def _t2(acc_goo, acc_vgg, rec_vgg, rec_goo):
    rows = []
    for model, acc, rec in (("vgg", acc_vgg, rec_vgg), ("googlenet", acc_goo, rec_goo)):
        rows.append({"model": model, "n": 50, "accuracy_tol0": 0.1, "accuracy_tol0_low": 0.0, "accuracy_tol0_high": 0.2,
                     "accuracy_tol15": acc[0], "accuracy_tol15_low": acc[1], "accuracy_tol15_high": acc[2],
                     "recall": rec[0], "recall_low": rec[1], "recall_high": rec[2]})
    return pd.DataFrame(rows)


def test_pointing_claim_uses_the_largest_tolerance_and_both_parts():
    hi, lo, mid = (0.9, 0.88, 0.92), (0.8, 0.78, 0.82), (0.85, 0.8, 0.9)
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(hi, lo, hi, lo)}) == HOLDS
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(lo, hi, hi, lo)}) == FAILS
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(hi, lo, mid, mid)}) == UNDECIDED


def _t4(p, status="answered"):
    return pd.DataFrame([{"method": m, "raters": 36, "items": 13, "answers": 468, "mean": 0.1, "std": 1.0,
                          "ci_low": -0.1, "ci_high": 0.3, "p_value": p, "status": status}
                         for m in ("guided_backprop", "guided_gradcam")])


def test_user_study_claim_from_the_wilcoxon_p_value():
    assert _verdict("user-study-not-significant", {"table4": _t4(0.40)}) == HOLDS
    assert _verdict("user-study-not-significant", {"table4": _t4(0.001)}) == FAILS
    assert _verdict("user-study-not-significant", {"table4": _t4(np.nan)}) == UNDECIDED
    assert _verdict("user-study-not-significant", {"table4": _t4(np.nan, "awaiting answers")}).startswith(
        "not evaluated (awaiting answers")


def test_claims_of_tables_not_built_are_listed_as_not_evaluated():
    df = claims.evaluate_claims({"table3": _t3((0.30, 0.25, 0.35), (0.10, 0.05, 0.15))}, CTX).set_index("id")
    assert set(df.index) == {c.id for c in claims.CLAIMS}
    assert df.loc["guided-gradcam-occlusion", "verdict"] == HOLDS
    for cid in ("one-pixel-sensitivity", "contrastivity-deeper-net", "fidelity-mnist", "gradcampp-better-xrays",
                "loc-close-to-original", "user-study-not-significant"):
        assert df.loc[cid, "verdict"] == NOT_BUILT
    md = claims.claims_markdown(df.reset_index())
    assert md.count("**not evaluated (table not built in this configuration)**") >= 2 * 6
    page = markdown_to_html(md, "Claims")
    assert page.count("<tr>") == len(claims.CLAIMS) + 1 and "<b>holds</b>" in page


def test_model_roles_follow_the_architecture():
    roles = claims.model_roles({"a": {"arch": "small_vgg"}, "b": {"arch": "googlenet"}, "c": {"arch": "vgg16"}})
    assert roles == {"vgg16": "a", "googlenet": "b"}
