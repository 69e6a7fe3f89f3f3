"""results/claims.md: verdicts computed on hand-built tables (holds / does not hold / undecided)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cameval import claims
from cameval.claims import FAILS, HOLDS, NOT_BUILT, UNDECIDED, Context
from cameval.experiments.registry import CLAIMS
from cameval.experiments.sensitivity.claims import min_pairs, sensitivity_respected
from cameval.report import markdown_to_html

CTX = Context(
    roles={"vgg16": "vgg", "googlenet": "googlenet", "alexnet": "alexnet"}, alpha=0.05, tolerance=5.0, fgsm_min_rho=0.5
)


def _verdict(claim_id, tables, ctx=CTX):
    df = claims.evaluate_claims(tables, ctx, CLAIMS).set_index("id")
    return df.loc[claim_id, "verdict"]


def _t1(rows):
    """rows: (model, method, top1 (mean, low, high), top5 (mean, low, high), original top1, original top5)."""
    out = []
    for model, method, t1, t5, o1, o5 in rows:
        out.append(
            {
                "model": model,
                "method": method,
                "n": 100,
                "top1_loc": t1[0],
                "top1_loc_low": t1[1],
                "top1_loc_high": t1[2],
                "top5_loc": t5[0],
                "top5_loc_low": t5[1],
                "top5_loc_high": t5[2],
                "original_top1_loc": o1,
                "original_top5_loc": o5,
            }
        )
    return pd.DataFrame(out)


@pytest.mark.parametrize(
    "top1, expected",
    [
        ((57.0, 55.0, 59.0), HOLDS),  # [55, 59] inside 56.51 ± 5 = [51.51, 61.51]
        ((70.0, 68.0, 72.0), FAILS),  # entirely above 61.51
        ((60.0, 57.0, 63.0), UNDECIDED),  # straddles 61.51
    ],
)
def test_localization_close_to_original(top1, expected):
    t = _t1(
        [
            ("vgg", "gradcam", top1, (46.0, 44.0, 48.0), 56.51, 46.41),
            ("vgg", "gradcampp", (90.0, 89.0, 91.0), (80.0, 79.0, 81.0), None, None),
        ]
    )
    assert _verdict("loc-close-to-original", {"table1": t}) == expected


def test_localization_without_reference_is_not_evaluated():
    t = _t1([("vgg", "gradcam", (57.0, 55.0, 59.0), (46.0, 44.0, 48.0), np.nan, np.nan)])
    assert _verdict("loc-close-to-original", {"table1": t}).startswith("not evaluated (no original-paper values")


@pytest.mark.parametrize(
    "pp_top1, expected",
    [
        ((60.0, 58.0, 62.0), HOLDS),  # Grad-CAM++ [58, 62] above Grad-CAM [48, 52]
        ((40.0, 38.0, 42.0), FAILS),  # below
        ((51.0, 49.0, 53.0), UNDECIDED),  # overlapping
    ],
)
def test_gradcampp_worse_on_imagenet(pp_top1, expected):
    t = _t1(
        [
            ("vgg", "gradcam", (50.0, 48.0, 52.0), (40.0, 39.0, 41.0), None, None),
            ("vgg", "gradcampp", pp_top1, (45.0, 44.0, 46.0), None, None),
        ]
    )
    # top-5 always holds (44 > 41); the verdict is decided by top-1
    assert _verdict("gradcampp-worse-imagenet", {"table1": t}) == expected


def test_any_failing_model_makes_a_claim_fail_and_undecided_beats_holds():
    assert claims.combine([HOLDS, UNDECIDED, FAILS]) == FAILS
    assert claims.combine([HOLDS, UNDECIDED]) == UNDECIDED
    assert claims.combine([HOLDS, HOLDS]) == HOLDS


def _t3(ggc, gbp, diff=(0.2, 0.15, 0.25, 0.001)):
    """One Table 3 row: marginal (mean, low, high) of two methods, and the paired difference
    Guided Grad-CAM − Guided Backprop as (mean, low, high, Wilcoxon p)."""
    return pd.DataFrame(
        [
            {
                "model": "vgg",
                "occlusion": "occ7",
                "patch": 7,
                "n": 24,
                "guided_gradcam": ggc[0],
                "guided_gradcam_low": ggc[1],
                "guided_gradcam_high": ggc[2],
                "guided_backprop": gbp[0],
                "guided_backprop_low": gbp[1],
                "guided_backprop_high": gbp[2],
                "gradcam": 0.2,
                "gradcam_low": 0.1,
                "gradcam_high": 0.3,
                **{
                    f"guided_gradcam_minus_guided_backprop{k}": v
                    for k, v in zip(("", "_low", "_high", "_p"), diff, strict=True)
                },
                **{
                    f"gradcam_minus_guided_backprop{k}": v
                    for k, v in zip(("", "_low", "_high", "_p"), diff, strict=True)
                },
                **{
                    f"guided_gradcam_minus_gradcam{k}": v
                    for k, v in zip(("", "_low", "_high", "_p"), diff, strict=True)
                },
            }
        ]
    )


@pytest.mark.parametrize(
    "diff, expected",
    [
        ((0.20, 0.15, 0.25, 0.001), HOLDS),  # significant, interval above 0
        ((-0.20, -0.25, -0.15, 0.001), FAILS),  # significant, interval below 0
        ((0.02, -0.01, 0.05, 0.30), UNDECIDED),  # not significant
        ((0.02, -0.01, 0.05, 0.04), UNDECIDED),  # p < alpha but the interval straddles 0
    ],
)
def test_guided_gradcam_beats_guided_backprop_by_the_paired_test(diff, expected):
    # the marginal intervals overlap in every case: the old criterion (separated intervals) said "undecided"
    t = _t3((0.23, 0.15, 0.30), (0.20, 0.12, 0.28), diff)
    assert _verdict("guided-gradcam-occlusion", {"table3": t}) == expected


def test_a_claim_of_significance_fails_without_a_significant_difference():
    t = _t3((0.23, 0.15, 0.30), (0.20, 0.12, 0.28), (0.02, -0.01, 0.05, 0.30))
    assert _verdict("gradcam-occlusion-gbp", {"table3": t}) == FAILS
    assert _verdict("guided-gradcam-occlusion", {"table3": t}) == UNDECIDED


def _study(
    t3=(0.04, 0.006, 0.07, 0.02),
    t4_pair_p=0.11,
    t4_vs0=((0.27, 0.17, 0.36, 4e-5), (0.43, 0.22, 0.66, 1e-3)),
    t5=(0.12, 0.10, 0.14, 1e-20),
):
    """Hand-made tables in the layout of results/tables/study/ (cameval.experiments.study.COLUMNS)."""

    def row(model, kind, a, b, unit, m):
        return {
            "model": model,
            "kind": kind,
            "a": a,
            "b": b,
            "unit": unit,
            "n": 10,
            "mean": m[0],
            "std": 1.0,
            "ci_low": m[1],
            "ci_high": m[2],
            "statistic": 1.0,
            "p_value": m[3],
        }

    table3 = pd.DataFrame(
        [
            row("vgg16", "paired", a, b, "images", t3)
            for a, b in (
                ("gradcam", "guided_backprop"),
                ("guided_gradcam", "guided_backprop"),
                ("guided_gradcam", "gradcam"),
            )
        ]
    )
    table4 = pd.DataFrame(
        [
            row("x", "paired", "guided_gradcam", "guided_backprop", "raters", (-0.16, -0.37, 0.03, t4_pair_p)),
            row("x", "against 0", "guided_gradcam", "", "raters", t4_vs0[0]),
            row("x", "against 0", "guided_backprop", "", "raters", t4_vs0[1]),
        ]
    )
    table5 = pd.DataFrame(
        [
            row(model, "paired", a, b, "boxes", t5)
            for model in ("A", "B")
            for a, b in (
                ("gradcampp", "gradcam"),
                ("integrated_gradients", "gradcampp"),
                ("gradient_shap", "gradcampp"),
                ("integrated_gradients", "gradcam"),
                ("gradient_shap", "gradcam"),
            )
        ]
    )
    return {"table3": table3, "table4": table4, "table5": table5}


def _study_verdicts(study):
    return claims.evaluate_claims({}, CTX, CLAIMS, study=study).set_index("id")["study_verdict"]


def test_study_verdicts_from_the_paired_rows():
    v = _study_verdicts(_study())
    assert v["gradcam-occlusion-gbp"] == HOLDS and v["guided-gradcam-occlusion"] == HOLDS
    assert v["user-study-not-significant"] == HOLDS  # p = 0.11 >= 0.05
    assert v["user-study-favours-better"] == HOLDS  # both methods above 0
    assert v["gradcampp-better-xrays"] == HOLDS and v["attributions-beat-cams-xrays"] == HOLDS
    v = _study_verdicts(_study(t3=(0.002, -0.004, 0.008, 0.86), t4_pair_p=0.01, t5=(0.01, -0.01, 0.03, 0.4)))
    assert v["gradcam-occlusion-gbp"] == FAILS  # "significantly": no significant difference
    assert v["guided-gradcam-occlusion-gradcam"] == UNDECIDED
    assert v["user-study-not-significant"] == FAILS
    assert v["attributions-beat-cams-xrays"] == UNDECIDED
    v = _study_verdicts(_study(t4_vs0=((0.27, 0.17, 0.36, 4e-5), (-0.4, -0.6, -0.2, 1e-3))))
    assert v["user-study-favours-better"] == FAILS  # one method significantly below 0


def test_claims_the_study_cannot_decide_say_why_and_without_the_stage_say_so():
    v = _study_verdicts(_study())
    assert v["one-pixel-sensitivity"] == (
        "not decided by the study's published results (the study published its "
        "attacked pixels but not the Grad-CAM values at them)"
    )
    assert v["fidelity-mnist"].startswith(
        "not decided by the study's published results (the study published no per-image"
    )
    assert (
        claims.evaluate_claims({}, CTX, CLAIMS)["study_verdict"].isin([claims.STUDY_NOT_BUILT])
        | claims.evaluate_claims({}, CTX, CLAIMS)["study_verdict"].str.startswith("not decided")
    ).all()


@pytest.mark.parametrize(
    "rho, expected", [((0.8, 0.7, 0.9), HOLDS), ((0.2, 0.1, 0.3), FAILS), ((0.5, 0.4, 0.6), UNDECIDED)]
)
def test_gradcam_robust_to_fgsm(rho, expected):
    t = pd.DataFrame(
        [
            {
                "model": "vgg",
                "eps": 0.03,
                "n": 200,
                "acc_clean": 0.9,
                "acc_adv": 0.2,
                "rank_corr": rho[0],
                "rank_corr_low": rho[1],
                "rank_corr_high": rho[2],
                "box_iou": 0.6,
                "box_iou_low": 0.5,
                "box_iou_high": 0.7,
            }
        ]
    )
    assert _verdict("gradcam-fgsm-robust", {"fgsm": t}) == expected


def _t2(acc_goo, acc_vgg, rec_vgg, rec_goo):
    rows = []
    for model, acc, rec in (("vgg", acc_vgg, rec_vgg), ("googlenet", acc_goo, rec_goo)):
        rows.append(
            {
                "model": model,
                "n": 50,
                "accuracy_tol0": 0.1,
                "accuracy_tol0_low": 0.0,
                "accuracy_tol0_high": 0.2,
                "accuracy_tol15": acc[0],
                "accuracy_tol15_low": acc[1],
                "accuracy_tol15_high": acc[2],
                "recall": rec[0],
                "recall_low": rec[1],
                "recall_high": rec[2],
            }
        )
    return pd.DataFrame(rows)


def test_pointing_claim_uses_the_largest_tolerance_and_both_parts():
    hi, lo, mid = (0.9, 0.88, 0.92), (0.8, 0.78, 0.82), (0.85, 0.8, 0.9)
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(hi, lo, hi, lo)}) == HOLDS
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(lo, hi, hi, lo)}) == FAILS
    assert _verdict("pointing-googlenet-vgg", {"table2": _t2(hi, lo, mid, mid)}) == UNDECIDED


def _t4(p, status="answered"):
    return pd.DataFrame(
        [
            {
                "method": m,
                "raters": 36,
                "items": 13,
                "answers": 468,
                "mean": 0.1,
                "std": 1.0,
                "ci_low": -0.1,
                "ci_high": 0.3,
                "p_value": p,
                "status": status,
            }
            for m in ("guided_backprop", "guided_gradcam")
        ]
    )


def test_user_study_claim_from_the_wilcoxon_p_value():
    assert _verdict("user-study-not-significant", {"table4": _t4(0.40)}) == HOLDS
    assert _verdict("user-study-not-significant", {"table4": _t4(0.001)}) == FAILS
    assert _verdict("user-study-not-significant", {"table4": _t4(np.nan)}) == UNDECIDED
    assert _verdict("user-study-not-significant", {"table4": _t4(np.nan, "awaiting answers")}).startswith(
        "not evaluated (awaiting answers"
    )


def test_claims_of_tables_not_built_are_listed_as_not_evaluated():
    df = claims.evaluate_claims(
        {"table3": _t3((0.30, 0.25, 0.35), (0.10, 0.05, 0.15))}, CTX, CLAIMS, study=_study()
    ).set_index("id")
    assert set(df.index) == {c.id for c in CLAIMS}
    assert df.loc["guided-gradcam-occlusion", "verdict"] == HOLDS
    for cid in (
        "one-pixel-sensitivity",
        "contrastivity-deeper-net",
        "fidelity-mnist",
        "gradcampp-better-xrays",
        "loc-close-to-original",
        "user-study-not-significant",
    ):
        assert df.loc[cid, "verdict"] == NOT_BUILT
    md = claims.claims_markdown(df.reset_index())
    assert md.count("**not evaluated (table not built in this configuration)**") >= 2 * 6
    assert (
        "| Guided Grad-CAM correlates with occlusion better than Guided Backprop. | Table 3 | **holds** | **holds** |"
        in md
    )
    page = markdown_to_html(md, "Claims")
    assert page.count("<tr>") == len(CLAIMS) + 1 and "<b>holds</b>" in page


def test_model_roles_follow_the_architecture():
    roles = claims.model_roles({"a": {"arch": "small_vgg"}, "b": {"arch": "googlenet"}, "c": {"arch": "vgg16"}})
    assert roles == {"vgg16": "a", "googlenet": "b"}


# --- Table 5: Grad-CAM++ vs Grad-CAM on X-rays (Table 5's long form) ------------------------------


def _t5(acc):
    """acc: {(model, layer): {method label: (value, low, high)}} for loc_study; in-box rows beside,
    and per-finding rows that contradict the overall ones (the claim reads finding == "all")."""
    rows = []
    for (model, layer), by in acc.items():
        for method, (v, lo, hi) in by.items():
            base = {
                "model": model,
                "auroc": None,
                "set": f"xr_{method}_{layer}",
                "method": method,
                "layer": layer,
                "study": None,
                "wang": None,
            }
            rows.append({**base, "finding": "all", "n": 40, "measure": "loc_study", "value": v, "low": lo, "high": hi})
            rows.append({**base, "finding": "all", "n": 40, "measure": "inbox", "value": 0.5, "low": 0.4, "high": 0.6})
            rows.append(
                {
                    **base,
                    "finding": "Mass",
                    "n": 5,
                    "measure": "loc_study",
                    "value": 1 - v,
                    "low": 1 - hi,
                    "high": 1 - lo,
                }
            )
    for model in {m for m, _ in acc}:  # pixel methods: in-box only, no accuracy
        rows.append(
            {
                "model": model,
                "auroc": None,
                "set": "xr_ig",
                "method": "Integrated Gradients",
                "layer": "input pixels",
                "study": None,
                "wang": None,
                "finding": "all",
                "n": 40,
                "measure": "inbox",
                "value": 0.9,
                "low": 0.85,
                "high": 0.95,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "pp_b, expected",
    [
        ((0.60, 0.50, 0.70), HOLDS),  # B's Grad-CAM++ [0.50, 0.70] above its Grad-CAM [0.30, 0.40], as A's
        ((0.20, 0.15, 0.25), FAILS),  # below on B: one model failing makes the claim fail
        ((0.42, 0.35, 0.49), UNDECIDED),  # [0.35, 0.49] overlaps [0.30, 0.40]
    ],
)
def test_gradcampp_better_on_xrays(pp_b, expected):
    t = _t5(
        {
            ("A", "last dense conv"): {"Grad-CAM": (0.35, 0.30, 0.40), "Grad-CAM++": (0.60, 0.52, 0.68)},
            ("B", "last dense conv"): {"Grad-CAM": (0.35, 0.30, 0.40), "Grad-CAM++": pp_b},
            ("B", "block + ReLU"): {"Grad-CAM": (0.10, 0.05, 0.15), "Grad-CAM++": (0.30, 0.20, 0.40)},
        }
    )
    df = claims.evaluate_claims({"table5": t}, CTX, CLAIMS).set_index("id")
    assert df.loc["gradcampp-better-xrays", "verdict"] == expected
    assert (
        "B (block + ReLU, n = 40): accuracy Grad-CAM++ 0.300 [0.200, 0.400] vs Grad-CAM 0.100 [0.050, 0.150]"
        in df.loc["gradcampp-better-xrays", "numbers"]
    )


def test_xray_claim_without_both_cams_is_not_evaluated():
    t = _t5({("A", "last dense conv"): {"Grad-CAM": (0.35, 0.30, 0.40)}})
    assert _verdict("gradcampp-better-xrays", {"table5": t}).startswith("not evaluated (Table 5 lacks")


# --- Table 6: one-pixel attacks and Sensitivity ---------------------------------------------------


def _t6_row(model, before, rand_before, after, rand_after, p, successful=20, method="gradcam"):
    return {
        "model": model,
        "method": method,
        "attacks": 25,
        "successful": successful,
        "success_rate": successful / 25,
        "before_mean": before[0],
        "before_low": before[1],
        "before_high": before[2],
        "random_before_mean": rand_before,
        "after_mean": after,
        "random_after_mean": rand_after,
        "wilcoxon_p": p,
    }


RESPECTS = dict(before=(0.60, 0.50, 0.70), rand_before=0.30, after=0.55, rand_after=0.30, p=0.001)
VIOLATES = dict(before=(0.10, 0.05, 0.15), rand_before=0.30, after=0.10, rand_after=0.30, p=0.002)
UNCLEAR = dict(before=(0.32, 0.20, 0.44), rand_before=0.30, after=0.30, rand_after=0.30, p=0.60)


def _t6(goo, vgg):
    rows = [_t6_row("vgg", **VIOLATES, method="ig")]  # IG's row never decides
    rows += [_t6_row(m, **spec) for m, spec in (("googlenet", goo), ("vgg", vgg)) if spec is not None]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "goo, vgg, expected",
    [
        (RESPECTS, VIOLATES, HOLDS),
        (RESPECTS, RESPECTS, FAILS),  # VGG-16's Grad-CAM respects Sensitivity too
        (VIOLATES, VIOLATES, FAILS),
        (UNCLEAR, VIOLATES, UNDECIDED),  # GoogLeNet's attacked pixel indistinguishable from chance (p = 0.6)
        (RESPECTS, UNCLEAR, UNDECIDED),
    ],
)
def test_one_pixel_sensitivity(goo, vgg, expected):
    assert _verdict("one-pixel-sensitivity", {"table6": _t6(goo, vgg)}) == expected


def test_sensitivity_criterion_edges():
    row = lambda **kw: pd.Series(_t6_row("m", **kw))  # noqa: E731
    # significant before but the new class's map puts the pixel at chance after: mixed -> undecided
    assert sensitivity_respected(row(**{**RESPECTS, "after": 0.30}), 0.05) == UNDECIDED
    # a map that is zero at every attacked and random pixel (no differences, no p-value): zero attribution
    assert (
        sensitivity_respected(row(before=(0.0, 0.0, 0.0), rand_before=0.0, after=0.0, rand_after=0.0, p=np.nan), 0.05)
        == FAILS
    )
    # 5 successful attacks cannot reach p < 0.05 with the exact test (2 / 2**5 = 0.0625): undecided
    assert min_pairs(0.05) == 6 and min_pairs(0.01) == 8
    assert sensitivity_respected(row(**RESPECTS, successful=5), 0.05) == UNDECIDED
    assert sensitivity_respected(row(**RESPECTS, successful=6), 0.05) == HOLDS
    # the 95 % interval of the attacked pixel's mean at or below chance decides without a significant test
    assert (
        sensitivity_respected(row(before=(0.2, 0.1, 0.3), rand_before=0.3, after=0.2, rand_after=0.3, p=0.2), 0.05)
        == FAILS
    )


def test_one_pixel_claim_with_one_model_missing():
    # VGG-16 alone: its failing part decides the claim; otherwise it cannot be evaluated
    assert _verdict("one-pixel-sensitivity", {"table6": _t6(None, RESPECTS)}) == FAILS
    assert (
        _verdict("one-pixel-sensitivity", {"table6": _t6(None, VIOLATES)})
        == "not evaluated (Table 6 lacks a GoogLeNet-type model)"
    )


def test_one_pixel_claim_on_a_table_built_by_table6():
    """Through cameval.experiments.sensitivity.table.table6 (its real columns): GoogLeNet's map is above the
    random pixel on all 10 attacks, VGG-16's is 0 at the attacked pixel and positive at the random one; the
    exact two-sided Wilcoxon p-value of 10 same-sign pairs is 2 / 2**10 (scipy)."""
    from cameval.experiments.sensitivity.table import table6

    n, rng = 12, np.random.default_rng(0)
    success = np.array([True] * 10 + [False] * 2)

    def rows(attacked, random):
        d = {"id": [f"i{k}" for k in range(n)], "success": success}
        for m in ("gradcam", "ig"):
            d |= {
                f"{m}_before": attacked,
                f"{m}_after": attacked,
                f"{m}_random_before": random,
                f"{m}_random_after": random,
                f"{m}_pct_before": np.full(n, 50.0),
                f"{m}_pct_after": np.full(n, 50.0),
            }
        return pd.DataFrame(d)

    low = 0.1 + 0.3 * rng.random(n)
    full, _ = table6(
        {"googlenet": rows(low + 0.2 + 0.01 * np.arange(n), low), "vgg": rows(np.zeros(n), low)}, n_boot=200, seed=0
    )
    g = full[full["method"] == "gradcam"].set_index("model")
    assert g.loc["googlenet", "wilcoxon_p"] == pytest.approx(2 / 2**10)
    assert g.loc["vgg", "wilcoxon_p"] == pytest.approx(2 / 2**10)
    ctx = Context(archs={"googlenet": "small_googlenet", "vgg": "small_vgg"})
    v = claims.evaluate_claims({"table6": full}, ctx, CLAIMS).set_index("id").loc["one-pixel-sensitivity"]
    assert v["verdict"] == HOLDS
    assert "vgg: 10 of 12 attacks successful; attacked pixel before 0.000 [0.000, 0.000]" in v["numbers"]


# --- Table 7: contrastivity on the deeper net, fidelity on the MNIST net ---------------------------

CTX7 = Context(archs={"mnist": "mnist_net", "googlenet": "googlenet", "googlenet_cifar10": "googlenet"})


def _t7(values, model, key):
    """values: {(method, percentile): (mean, low, high)} of `key` on `model`; the other model's rows
    (and the other measure) fixed."""
    other = {"fidelity": "contrastivity", "contrastivity": "fidelity"}[key]
    rows = []
    for (method, p), (v, lo, hi) in values.items():
        rows.append(
            {
                "model": model,
                "method": method,
                "percentile": p,
                "n": 100,
                key: v,
                f"{key}_low": lo,
                f"{key}_high": hi,
                other: 0.5,
                f"{other}_low": 0.4,
                f"{other}_high": 0.6,
            }
        )
    rows.append(
        {
            "model": "other",
            "method": "gradcam",
            "percentile": 1,
            "n": 100,
            "fidelity": 0.9,
            "fidelity_low": 0.8,
            "fidelity_high": 1.0,
            "contrastivity": 0.0,
            "contrastivity_low": 0.0,
            "contrastivity_high": 0.0,
        }
    )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "gc10, expected",
    [
        ((0.70, 0.65, 0.75), HOLDS),  # above SHAP [0.40, 0.50] and IG [0.50, 0.60] at both percentiles
        ((0.30, 0.25, 0.35), FAILS),  # below SHAP at the 10 % percentile
        ((0.58, 0.52, 0.64), UNDECIDED),  # overlaps IG's [0.50, 0.60]
    ],
)
def test_contrastivity_on_the_deeper_net(gc10, expected):
    vals = {
        ("gradcam", 1): (0.80, 0.75, 0.85),
        ("shap", 1): (0.30, 0.25, 0.35),
        ("integrated_gradients", 1): (0.40, 0.35, 0.45),
        ("gradcam", 10): gc10,
        ("shap", 10): (0.45, 0.40, 0.50),
        ("integrated_gradients", 10): (0.55, 0.50, 0.60),
    }
    t = _t7(vals, "googlenet_cifar10", "contrastivity")
    # the table's GoogLeNet is googlenet_cifar10, though the config also has an ImageNet googlenet
    assert claims.role_model(t["model"], "googlenet", CTX7) == "googlenet_cifar10"
    assert _verdict("contrastivity-deeper-net", {"table7": t}, CTX7) == expected


@pytest.mark.parametrize(
    "gc1, expected",
    [
        ((0.05, 0.02, 0.08), HOLDS),  # below SHAP [0.20, 0.30] and IG [0.30, 0.40]
        ((0.50, 0.45, 0.55), FAILS),  # above both
        ((0.22, 0.15, 0.29), UNDECIDED),  # overlaps SHAP
    ],
)
def test_fidelity_lowest_on_the_mnist_net(gc1, expected):
    vals = {("gradcam", 1): gc1, ("shap", 1): (0.25, 0.20, 0.30), ("integrated_gradients", 1): (0.35, 0.30, 0.40)}
    t = _t7(vals, "mnist", "fidelity")
    assert _verdict("fidelity-mnist", {"table7": t}, CTX7) == expected
    v = claims.evaluate_claims({"table7": t}, CTX7, CLAIMS).set_index("id").loc["fidelity-mnist", "numbers"]
    assert v.startswith("mnist at the 1 % percentile (n = 100): Grad-CAM ")


def test_a_method_the_study_did_not_test_stands_outside_its_table7_claims():
    """captum's Saliency in Table 7 (issue 18's library methods) has rows of its own; the study's claim
    compares Grad-CAM with SHAP and IG only, so a Saliency even lower than Grad-CAM changes nothing."""
    vals = {
        ("gradcam", 1): (0.05, 0.02, 0.08),
        ("shap", 1): (0.25, 0.20, 0.30),
        ("integrated_gradients", 1): (0.35, 0.30, 0.40),
        ("captum:Saliency", 1): (0.01, 0.00, 0.02),
    }
    t = _t7(vals, "mnist", "fidelity")
    assert _verdict("fidelity-mnist", {"table7": t}, CTX7) == HOLDS
    numbers = claims.evaluate_claims({"table7": t}, CTX7, CLAIMS).set_index("id").loc["fidelity-mnist", "numbers"]
    assert "Saliency" not in numbers and "SHAP" in numbers


def test_table7_claims_need_their_models():
    t = _t7({("gradcam", 1): (0.1, 0.0, 0.2), ("shap", 1): (0.5, 0.4, 0.6)}, "mnist", "fidelity")
    assert (
        _verdict("contrastivity-deeper-net", {"table7": t}, CTX7)
        == "not evaluated (Table 7 lacks a GoogLeNet-type model)"
    )
    t = _t7({("gradcam", 1): (0.1, 0.0, 0.2)}, "mnist", "fidelity")
    assert _verdict("fidelity-mnist", {"table7": t}, CTX7).startswith(
        "not evaluated (Table 7 lacks Grad-CAM or another"
    )


def test_table7_claims_on_a_table_built_by_table7():
    """Through faithfulness.table.table7 (its real columns), per-image rows by hand: on the MNIST net
    Grad-CAM's
    drop is 0.1 on every image, SHAP's 0.5 and IG's 0.6 (constant values: each interval is the point); on
    GoogLeNet Grad-CAM's contrastivity 0.9 against 0.2 and 0.3."""
    from cameval.experiments.faithfulness.table import table7

    def rows(drops, contrasts, n=8):
        return pd.DataFrame(
            [
                {
                    "id": f"i{k}",
                    "method": m,
                    "percentile": 10,
                    "explainer": "deep" if m == "shap" else "",
                    "drop": drops[m],
                    "correct_before": True,
                    "correct_after": drops[m] < 0.3,
                    "contrastivity": contrasts[m],
                    "mask_share": 0.1,
                }
                for m in ("gradcam", "shap", "integrated_gradients")
                for k in range(n)
            ]
        )

    full, _ = table7(
        {
            "mnist": rows(
                {"gradcam": 0.1, "shap": 0.5, "integrated_gradients": 0.6},
                {"gradcam": 0.4, "shap": 0.4, "integrated_gradients": 0.4},
            ),
            "googlenet": rows(
                {"gradcam": 0.3, "shap": 0.3, "integrated_gradients": 0.3},
                {"gradcam": 0.9, "shap": 0.2, "integrated_gradients": 0.3},
            ),
        },
        n_boot=100,
    )
    ctx = Context(archs={"mnist": "mnist_net", "googlenet": "small_googlenet"})
    df = claims.evaluate_claims({"table7": full}, ctx, CLAIMS).set_index("id")
    assert df.loc["fidelity-mnist", "verdict"] == HOLDS
    assert df.loc["contrastivity-deeper-net", "verdict"] == HOLDS
    assert df.loc["fidelity-mnist", "numbers"] == (
        "mnist at the 10 % percentile (n = 8): Grad-CAM 0.100 [0.100, 0.100] "
        "vs SHAP 0.500 [0.500, 0.500], Integrated Gradients 0.600 [0.600, 0.600] "
        # paired on the 8 images: exact two-sided Wilcoxon, 8 equal
        # differences of one sign: p = 2 / 2^8 = 0.0078125
        "(paired: Grad-CAM − SHAP: Δ -0.400 [-0.400, -0.400], p = 0.00781; "
        "Grad-CAM − Integrated Gradients: Δ -0.500 [-0.500, -0.500], p = 0.00781)"
    )
