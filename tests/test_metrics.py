"""Metrics against values worked out by hand (or by a reference library on inputs made here).

Maps are indexed [y, x]; boxes are inclusive (x0, y0, x1, y1).
"""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from cameval import metrics


def blob(box, shape=(20, 20), value=1.0):
    """A map that is ``value`` inside inclusive ``box`` and 0 elsewhere."""
    m = np.zeros(shape)
    x0, y0, x1, y1 = box
    m[y0 : y1 + 1, x0 : x1 + 1] = value
    return m


# ---------------------------------------------------------------- heatmap_box


def test_heatmap_box_picks_the_larger_component_not_the_one_with_the_peak():
    # threshold 0.15 * 9 = 1.35. Component A: the single pixel (x=1, y=1) = 9 (the peak).
    # Component B: value 2 on x 4..6, y 3..4 -> 3 x 2 = 6 pixels, larger -> box (4, 3, 6, 4).
    m = np.zeros((6, 8))
    m[1, 1] = 9.0
    m[3:5, 4:7] = 2.0
    assert metrics.heatmap_box(m, threshold=0.15) == (4, 3, 6, 4)


def test_heatmap_box_joins_diagonal_pixels_8_connectivity():
    # Diagonal (1,1), (2,2), (3,3): one 8-connected component of 3 pixels (three of 1 pixel
    # under 4-connectivity). The horizontal pair (6,0), (7,0) has 2 pixels. 8-connectivity:
    # the diagonal wins -> (1, 1, 3, 3); 4-connectivity would give (6, 0, 7, 0).
    m = np.zeros((5, 8))
    for i in (1, 2, 3):
        m[i, i] = 1.0
    m[0, 6] = m[0, 7] = 1.0
    assert metrics.heatmap_box(m) == (1, 1, 3, 3)


def test_heatmap_box_threshold_is_relative_to_the_max_and_inclusive():
    # max 10, threshold 0.5 -> keep >= 5: (x=2,y=2)=10, (x=2,y=3)=5 (equal, kept), (x=3,y=2)=4.9
    # (dropped) -> box (2, 2, 2, 3).
    m = np.zeros((6, 6))
    m[2, 2], m[3, 2], m[2, 3] = 10.0, 5.0, 4.9
    assert metrics.heatmap_box(m, threshold=0.5) == (2, 2, 2, 3)
    # at 0.45 (keep >= 4.5) (x=3, y=2) joins: (2, 2, 3, 3)
    assert metrics.heatmap_box(m, threshold=0.45) == (2, 2, 3, 3)


def test_heatmap_box_tie_goes_to_the_component_holding_the_argmax():
    # Two components of 2 pixels each: (0,0)-(1,0) valued 1 and (5,4)-(5,5) valued 1 and 3.
    # The peak 3 is at (x=5, y=5) -> its component wins: (5, 4, 5, 5).
    m = np.zeros((6, 6))
    m[0, 0] = m[0, 1] = 1.0
    m[4, 5], m[5, 5] = 1.0, 3.0
    assert metrics.heatmap_box(m, threshold=0.15) == (5, 4, 5, 5)


def test_heatmap_box_of_a_map_without_positive_max_is_none_and_never_correct():
    assert metrics.heatmap_box(np.zeros((4, 4))) is None
    assert metrics.heatmap_box(-np.ones((4, 4))) is None
    assert metrics.loc_correct(None, [(0, 0, 3, 3)]) is False
    assert metrics.iou(None, (0, 0, 3, 3)) == 0.0


def test_heatmap_box_accepts_torch_tensors_and_returns_python_ints():
    box = metrics.heatmap_box(torch.tensor(blob((3, 4, 7, 5), (10, 10))))
    assert box == (3, 4, 7, 5)
    assert all(type(v) is int for v in box)


# ---------------------------------------------------------------- iou, eq. 3, loc_correct


def test_iou_counts_inclusive_pixels():
    # (0,0,9,9) and (5,5,14,14): 10x10 = 100 px each, overlap x,y 5..9 = 5x5 = 25, union 175.
    assert metrics.iou((0, 0, 9, 9), (5, 5, 14, 14)) == pytest.approx(25 / 175)
    assert metrics.iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    # one pixel vs the two-pixel box that holds it: 1 / 2
    assert metrics.iou((0, 0, 0, 0), (0, 0, 1, 0)) == pytest.approx(0.5)
    # adjacent, not overlapping (x 0..4 and 5..9)
    assert metrics.iou((0, 0, 4, 4), (5, 0, 9, 4)) == 0.0
    assert isinstance(metrics.iou((0, 0, 9, 9), (5, 5, 14, 14)), float)


def test_study_threshold_is_eq_3():
    assert metrics.study_threshold(10, 10) == pytest.approx(100 / 400)  # 0.25
    assert metrics.study_threshold(20, 20) == pytest.approx(400 / 900)  # 0.444...
    assert metrics.study_threshold(30, 20) == pytest.approx(0.5)  # 600 / 1200 = 0.5
    assert metrics.study_threshold(90, 90) == 0.5  # 8100 / 10000 = 0.81 -> capped at 0.5


def test_small_box_is_correct_under_the_study_rule_but_not_under_ilsvrc():
    # GT (0,0,9,9): 10x10 -> eq. 3 threshold 0.25. Prediction (0,0,5,5): 36 px inside the GT,
    # IoU = 36 / 100 = 0.36: >= 0.25 (study) but < 0.5 (ilsvrc).
    gt = [(0, 0, 9, 9)]
    assert metrics.loc_correct((0, 0, 5, 5), gt, rule="ilsvrc") is False
    assert metrics.loc_correct((0, 0, 5, 5), gt, rule="study") is True
    # a large GT (100x100, threshold 0.5): the rules agree; (0,0,59,99) has IoU 6000/10000 = 0.6
    big = [(0, 0, 99, 99)]
    assert metrics.loc_correct((0, 0, 59, 99), big, rule="ilsvrc") is True
    assert metrics.loc_correct((0, 0, 39, 99), big, rule="study") is False  # 0.4


def test_loc_correct_matches_any_gt_box_and_accepts_a_single_box():
    gts = [(50, 50, 59, 59), (0, 0, 9, 9)]
    assert metrics.loc_correct((0, 0, 9, 9), gts) is True
    assert metrics.loc_correct((0, 0, 9, 9), (0, 0, 9, 9)) is True
    assert metrics.loc_correct((0, 0, 9, 9), []) is False


def test_loc_correct_names_an_unknown_rule():
    with pytest.raises(ValueError, match="'voc'"):
        metrics.loc_correct((0, 0, 1, 1), [(0, 0, 1, 1)], rule="voc")


# ---------------------------------------------------------------- upsample_map


def test_upsample_map_is_bilinear_with_half_pixel_centres():
    # [[0, 1], [2, 3]] to 4x4, align_corners=False: source coordinate of output i is
    # (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1] -> weights 0, .25, .75, 1.
    # Columns interpolate 0..1, rows add 0..2: out[y, x] = c[x] + 2 c[y], c = (0, .25, .75, 1).
    c = np.array([0, 0.25, 0.75, 1.0])
    expected = c[None, :] + 2 * c[:, None]
    np.testing.assert_allclose(metrics.upsample_map([[0.0, 1.0], [2.0, 3.0]], (4, 4)), expected)
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(metrics.upsample_map(m, (2, 3)), m)


# ---------------------------------------------------------------- localization_errors


GT = [(2, 2, 9, 9)]  # the boxes of the true class 3


def test_localization_errors_top1_correct():
    out = metrics.localization_errors([3, 1, 2, 4, 5], 3, GT, [blob(GT[0])] + [np.zeros((20, 20))] * 4)
    assert out == {"cls_top1": True, "cls_top5": True, "loc_top1": True, "loc_top5": True, "iou_top1": 1.0}


def test_localization_errors_label_second_counts_for_top5_only():
    # top-1 is class 1 (wrong), class 3 comes second with a correct box. iou_top1 is the top-1
    # map's box against the GT whatever its class: here the same blob -> 1.0.
    maps = [blob(GT[0]), blob(GT[0])] + [np.zeros((20, 20))] * 3
    out = metrics.localization_errors([1, 3, 2, 4, 5], 3, GT, maps)
    assert out == {"cls_top1": False, "cls_top5": True, "loc_top1": False, "loc_top5": True, "iou_top1": 1.0}


def test_localization_errors_right_class_wrong_place():
    # top-1 is right, but its map sits on (12,12,18,18), disjoint from the GT: IoU 0.
    maps = [blob((12, 12, 18, 18))] + [blob(GT[0])] * 4  # the others are other classes
    out = metrics.localization_errors([3, 1, 2, 4, 5], 3, GT, maps)
    assert out == {"cls_top1": True, "cls_top5": True, "loc_top1": False, "loc_top5": False, "iou_top1": 0.0}


def test_localization_errors_label_outside_top5_is_wrong_everywhere():
    maps = [blob(GT[0])] * 6
    out = metrics.localization_errors([0, 1, 2, 4, 5, 3], 3, GT, maps)  # label 6th: not top-5
    assert (out["cls_top1"], out["cls_top5"], out["loc_top1"], out["loc_top5"]) == (False, False, False, False)


def test_localization_errors_rule_study_accepts_a_loose_box_on_a_small_object():
    # GT (2,2,9,9): 8x8 -> eq. 3: 64 / 324 = 0.1975. Map blob (2,2,13,13): 144 px, IoU 64/144 = 0.444.
    maps = [blob((2, 2, 13, 13))] * 5
    ilsvrc = metrics.localization_errors([3, 1, 2, 4, 5], 3, GT, maps, rule="ilsvrc")
    study = metrics.localization_errors([3, 1, 2, 4, 5], 3, GT, maps, rule="study")
    assert ilsvrc["loc_top1"] is False and study["loc_top1"] is True
    assert study["iou_top1"] == pytest.approx(64 / 144)


# ---------------------------------------------------------------- pointing game


def peak_at(x, y, shape=(60, 60)):
    m = np.zeros(shape)
    m[y, x] = 1.0
    return m


def test_pointing_hit_inside_the_box():
    box = [(10, 10, 19, 19)]
    assert metrics.pointing_hit(peak_at(15, 12), box) is True
    assert metrics.pointing_hit(peak_at(19, 19), box) is True  # corner pixel is inside
    assert metrics.pointing_hit(peak_at(20, 19), box) is False


def test_pointing_hit_with_15_px_tolerance():
    box = [(10, 10, 19, 19)]
    # (29, 15): 10 px right of the box's edge x = 19 -> hits with tolerance 15, not with 0
    assert metrics.pointing_hit(peak_at(29, 15), box, tolerance=15) is True
    assert metrics.pointing_hit(peak_at(29, 15), box, tolerance=0) is False
    # (39, 15): 20 px away -> miss
    assert metrics.pointing_hit(peak_at(39, 15), box, tolerance=15) is False
    # diagonal: (27, 27) is (8, 8) from the corner (19, 19): sqrt(128) = 11.3 -> hit;
    # (31, 31): (12, 12) -> 16.97 > 15 -> miss (Euclidean, not Chebyshev)
    assert metrics.pointing_hit(peak_at(27, 27), box, tolerance=15) is True
    assert metrics.pointing_hit(peak_at(31, 31), box, tolerance=15) is False


def test_pointing_hit_takes_the_first_maximum_in_row_major_order():
    m = np.zeros((10, 10))
    m[0, 5] = m[3, 1] = 1.0  # (x=5, y=0) comes first in row-major order
    assert metrics.pointing_hit(m, [(5, 0, 5, 0)]) is True
    assert metrics.pointing_hit(m, [(1, 3, 1, 3)]) is False
    assert metrics.pointing_hit(torch.tensor(m), [(0, 9, 0, 9), (4, 0, 6, 1)]) is True  # any box
    assert metrics.pointing_hit(m, []) is False


def test_recall_hit_cases():
    # present, point in box, kept (peak 0.8 >= 0.5): hit
    assert metrics.recall_hit(True, 0.8, present=True, threshold=0.5) is True
    # present, point in box, but rejected (peak 0.3): miss
    assert metrics.recall_hit(True, 0.3, present=True, threshold=0.5) is False
    # present, kept, point outside: miss
    assert metrics.recall_hit(False, 0.8, present=True, threshold=0.5) is False
    # absent and rejected: hit
    assert metrics.recall_hit(False, 0.3, present=False, threshold=0.5) is True
    # absent but kept: miss
    assert metrics.recall_hit(False, 0.8, present=False, threshold=0.5) is False
    # kept is peak >= threshold (equal counts as kept)
    assert metrics.recall_hit(True, 0.5, present=True, threshold=0.5) is True


# ---------------------------------------------------------------- rank correlation


def _resize_in_test(m, size):
    t = torch.as_tensor(m, dtype=torch.float64)[None, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()


def test_rank_correlation_matches_scipy_on_maps_resized_with_torch():
    rng = np.random.default_rng(0)
    a, b = rng.random((7, 9)), rng.random((45, 30))  # one upsized, one downsized
    expected = stats.spearmanr(_resize_in_test(a, 14).ravel(), _resize_in_test(b, 14).ravel()).statistic
    assert metrics.rank_correlation(a, b, size=14) == pytest.approx(expected, abs=1e-12)
    assert metrics.rank_correlation(torch.tensor(a), torch.tensor(b), size=14) == pytest.approx(expected, abs=1e-12)


def test_rank_correlation_by_hand():
    a = [[1.0, 2.0], [3.0, 4.0]]
    assert metrics.rank_correlation(a, [[10.0, 20.0], [30.0, 400.0]], size=None) == pytest.approx(1.0)
    assert metrics.rank_correlation(a, [[4.0, 3.0], [2.0, 1.0]], size=None) == pytest.approx(-1.0)
    # ranks (1,2,3,4) vs (2,1,3,4): d^2 = 1+1 = 2, rho = 1 - 6*2 / (4*15) = 0.8
    assert metrics.rank_correlation(a, [[2.0, 1.0], [3.0, 4.0]], size=None) == pytest.approx(0.8)


def test_rank_correlation_of_a_constant_map_is_nan():
    assert math.isnan(metrics.rank_correlation(np.ones((5, 5)), np.arange(25.0).reshape(5, 5)))


def test_reduce_channels_by_hand():
    m = np.array([[[1.0, -3.0]], [[-2.0, 2.0]]])  # [C=2, H=1, W=2]
    np.testing.assert_allclose(metrics.reduce_channels(m), [[2.0, 3.0]])  # abs_max default
    np.testing.assert_allclose(metrics.reduce_channels(m, "sum"), [[-1.0, -1.0]])
    np.testing.assert_allclose(metrics.reduce_channels(m, "abs_sum"), [[3.0, 5.0]])
    np.testing.assert_allclose(metrics.reduce_channels(m, "norm"), [[math.sqrt(5), math.sqrt(13)]])
    with pytest.raises(ValueError, match="'mean'"):
        metrics.reduce_channels(m, "mean")


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_ci_contains_the_mean_and_is_deterministic():
    v = np.random.default_rng(1).normal(3.0, 1.0, size=200)
    low, high = metrics.bootstrap_ci(v, n_boot=500, seed=7)
    assert low < v.mean() < high
    assert (low, high) == metrics.bootstrap_ci(v, n_boot=500, seed=7)
    assert (low, high) != metrics.bootstrap_ci(v, n_boot=500, seed=8)
    wide = metrics.bootstrap_ci(v, n_boot=500, seed=7, level=0.99)
    assert wide[0] <= low and high <= wide[1]


def test_bootstrap_ci_drops_nans_and_handles_empty_and_constant():
    v = np.random.default_rng(2).random(50)
    with_nan = np.concatenate([v, [np.nan, np.nan]])
    assert metrics.bootstrap_ci(with_nan, seed=3) == metrics.bootstrap_ci(v, seed=3)
    low, high = metrics.bootstrap_ci([], seed=0)
    assert math.isnan(low) and math.isnan(high)
    assert metrics.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_bootstrap_ci_same_for_a_vectorized_and_a_plain_statistic():
    v = np.random.default_rng(4).random(31)
    assert metrics.bootstrap_ci(v, np.median, n_boot=200) == pytest.approx(
        metrics.bootstrap_ci(v, lambda s: float(np.median(s)), n_boot=200)
    )


def test_mean_ci_by_hand():
    s = metrics.mean_ci([1.0, 2.0, 3.0, 4.0, np.nan], n_boot=200)
    assert s["n"] == 4 and s["mean"] == 2.5
    # sample std: deviations 1.5, .5, .5, 1.5 -> sum of squares 5, / 3 -> sqrt(5/3)
    assert s["std"] == pytest.approx(math.sqrt(5 / 3))
    assert 1.0 <= s["low"] <= 2.5 <= s["high"] <= 4.0
    assert metrics.mean_ci([])["n"] == 0


# ---------------------------------------------------------------- contrastivity, in-box ratio


def test_hamming_ratio_by_hand():
    a = [[1, 1, 0], [0, 0, 0]]
    b = [[0, 1, 1], [0, 0, 0]]
    # XOR: (0,0) and (0,2) -> 2; OR: 3 -> 2/3
    assert metrics.hamming_ratio(a, b) == pytest.approx(2 / 3)
    assert metrics.hamming_ratio(a, a) == 0.0
    assert metrics.hamming_ratio([[1, 0]], [[0, 1]]) == 1.0
    assert metrics.hamming_ratio(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0  # both empty


def test_inbox_ratio_by_hand():
    # max 10; threshold 0.85 -> keep >= 8.5: (x0,y0)=10, (x1,y0)=9, (x3,y3)=8.5; (x2,y2)=8 is out.
    m = np.zeros((4, 4))
    m[0, 0], m[0, 1], m[3, 3], m[2, 2] = 10.0, 9.0, 8.5, 8.0
    assert metrics.inbox_ratio(m, (0, 0, 1, 1)) == pytest.approx(2 / 3)
    assert metrics.inbox_ratio(m, (2, 2, 3, 3)) == pytest.approx(1 / 3)
    assert metrics.inbox_ratio(m, [(0, 0, 0, 0), (3, 3, 9, 9)]) == pytest.approx(2 / 3)  # any box, clipped
    assert metrics.inbox_ratio(np.zeros((4, 4)), (0, 0, 1, 1)) == 0.0


def test_errors_name_the_bad_input():
    with pytest.raises(ValueError, match=r"hmap: shape \(2, 3, 4\)"):
        metrics.heatmap_box(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="x0 <= x1"):
        metrics.iou((5, 0, 1, 1), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="same shape"):
        metrics.hamming_ratio(np.zeros((2, 2)), np.zeros((3, 3)))


# --- Quantus as an oracle: its PointingGame and AttributionLocalisation on the same maps ---------


def _random_cases(n=40, size=24, seed=0):
    rng = np.random.default_rng(seed)
    maps = rng.random((n, size, size))  # a unique maximum, almost surely
    boxes = []
    for _ in range(n):
        x0, y0 = rng.integers(0, size - 4, 2)
        w, h = rng.integers(2, size // 2, 2)
        boxes.append([(int(x0), int(y0), int(min(x0 + w, size - 1)), int(min(y0 + h, size - 1)))])
    for i in range(0, n, 2):  # every other map peaks at a random point, in or out of its box
        maps[i, rng.integers(boxes[i][0][1], size), rng.integers(boxes[i][0][0], size)] = 2.0
    return maps, boxes


def test_pointing_hit_equals_quantus_pointing_game():
    quantus = pytest.importorskip("quantus")
    maps, boxes = _random_cases()
    masks = np.stack([blob(b[0], m.shape) > 0 for m, b in zip(maps, boxes, strict=True)])  # one box each
    oracle = quantus.PointingGame(disable_warnings=True).evaluate_batch(a_batch=maps[:, None], s_batch=masks[:, None])
    ours = [metrics.pointing_hit(m, b) for m, b in zip(maps, boxes, strict=True)]
    assert 0 < sum(ours) < len(ours)  # both outcomes occur
    assert ours == [bool(h) for h in oracle]


def test_inbox_ratio_equals_quantus_attribution_localisation_of_the_binarized_map():
    quantus = pytest.importorskip("quantus")
    maps, boxes = _random_cases(seed=1)
    masks = np.stack([blob(b[0], m.shape) > 0 for m, b in zip(maps, boxes, strict=True)])  # one box each
    high = (maps >= 0.6 * maps.max(axis=(1, 2), keepdims=True)).astype(float)
    oracle = quantus.AttributionLocalisation(disable_warnings=True).evaluate_batch(
        x_batch=np.zeros((len(maps), 1, *maps.shape[1:])), a_batch=high[:, None], s_batch=masks[:, None]
    )
    ours = [metrics.inbox_ratio(m, b, threshold=0.6) for m, b in zip(maps, boxes, strict=True)]
    np.testing.assert_allclose(ours, oracle, atol=1e-6)
    assert len(set(np.round(ours, 6))) > 5  # not a constant


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap_and_the_normal_approximation():
    # different resampling streams, so agreement is statistical: with 20,000 resamples both
    # percentile intervals sit within a few thousandths of each other, and near mean ± 1.96 s/√n
    rng = np.random.default_rng(0)
    v = rng.binomial(1, 0.3, size=400).astype(float)  # per-image hits, as in Tables 1 and 2
    low, high = metrics.bootstrap_ci(v, n_boot=20_000, seed=1)
    ref = stats.bootstrap((v,), np.mean, n_resamples=20_000, method="percentile", random_state=2).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.006) and high == pytest.approx(ref.high, abs=0.006)
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v))
    assert low == pytest.approx(v.mean() - half, abs=0.01) and high == pytest.approx(v.mean() + half, abs=0.01)


def test_wilcoxon_test_is_scipys_on_paired_maps_values():
    from scipy.stats import wilcoxon

    from cameval.metrics import wilcoxon_test

    # per-image map values at an attacked and at a random pixel: bounded, with ties and zero differences
    rng = np.random.default_rng(11)
    random = np.round(rng.beta(2, 5, 30), 2)
    attacked = np.clip(np.round(random + rng.normal(0.1, 0.15, 30), 2), 0, 1)
    attacked[:4] = random[:4]
    for a, b in [(attacked, random), (attacked[:9], random[:9]), (rng.normal(0.3, 1, 80), rng.normal(0, 1, 80))]:
        ref = wilcoxon(a, b)
        assert wilcoxon_test(a, b) == (float(ref.statistic), float(ref.pvalue))
        assert wilcoxon_test(a - b) == (float(ref.statistic), float(ref.pvalue))  # against 0


def test_wilcoxon_test_is_scipys_bit_for_bit_where_scipy_flips_signs():
    """Up to 13 differences with a zero or a tie, scipy's p is an exact permutation test (2**n sign
    flips, one ``apply_along_axis`` call each); ours vectorizes that statistic. Both numbers must be
    scipy's exactly: on a hundred samples with ties and zeros at every size, the 14-difference
    case (scipy's normal approximation) and tie-free ones (scipy's exact distribution) included."""
    from scipy.stats import wilcoxon

    from cameval.metrics import stats, wilcoxon_test

    rng = np.random.default_rng(5)
    flipped = 0
    for n in range(1, 15):
        for _ in range(8 if n <= 10 else 2):  # scipy's own answer costs ~2**n statistic calls
            d = rng.choice([-3, -2, -1.5, -1, 0, 0.5, 1, 2, 2.5, 4], size=n) * rng.choice([1.0, 0.01])
            if rng.random() < 0.3:
                d = rng.normal(size=n)  # no tie, no zero
            if not np.count_nonzero(d):
                continue
            flipped += stats._sign_flip_case(d)
            ref = wilcoxon(d)
            assert wilcoxon_test(d) == (float(ref.statistic), float(ref.pvalue)), d
    assert flipped > 40  # the vectorized path was the one tested
    assert not stats._sign_flip_case(np.array([1.0, 1.0] * 7))  # 14: scipy's normal approximation
    assert not stats._sign_flip_case(np.array([1.0, 2.0, 3.0]))  # tie-free: scipy's exact distribution


def test_wilcoxon_test_edge_cases_by_hand():
    from cameval.metrics import wilcoxon_test

    nan = (True, True)
    # no pair, or no difference at all: nothing to rank
    assert tuple(np.isnan(wilcoxon_test([], []))) == nan
    assert tuple(np.isnan(wilcoxon_test([0.2, 0.5, 0.5], [0.2, 0.5, 0.5]))) == nan
    # one non-zero difference (zeros dropped): W = 0 and the exact p is 1 (W = 0 and W = 1 equally likely)
    assert wilcoxon_test([0.2, 0.5, 0.9], [0.2, 0.5, 0.4]) == (0.0, 1.0)
    # two positive differences: W = min(R+, R-) = 0; exact two-sided p = 2 · P(W <= 0) = 2 / 4
    assert wilcoxon_test([1.0, 2.0]) == (0.0, 0.5)
    # ten positive differences: p = 2 / 2^10
    assert wilcoxon_test(np.arange(1.0, 11.0)) == (0.0, pytest.approx(2 / 2**10))
    # a NaN propagates, as in scipy
    assert tuple(np.isnan(wilcoxon_test([1.0, np.nan, 3.0]))) == nan


def test_paired_compare_by_hand_and_as_scipy():
    from scipy.stats import wilcoxon

    from cameval.metrics import paired_compare

    # six positive differences: exact two-sided Wilcoxon p = 2 / 2^6 = 0.03125; mean 3.5
    r = paired_compare([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1], n_boot=500)
    assert r["n"] == 6 and r["mean"] == 3.5 and r["p_value"] == pytest.approx(0.03125)
    assert 1.0 <= r["low"] < 3.5 < r["high"] <= 6.0
    # a NaN on either side drops the pair; against 0 when b is None
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.2, 1, 40), rng.normal(0, 1, 40)
    a[5], b[9] = np.nan, np.nan
    keep = ~(np.isnan(a) | np.isnan(b))
    r = paired_compare(a, b)
    assert r["n"] == 38 and r["p_value"] == pytest.approx(wilcoxon(a[keep], b[keep]).pvalue)
    assert paired_compare(b[keep], None)["p_value"] == pytest.approx(wilcoxon(b[keep]).pvalue)
    # no difference at all: nothing to test
    assert np.isnan(paired_compare([1, 2], [1, 2])["p_value"])


def test_table3_paired_columns_are_scipys_on_the_same_images():
    from scipy.stats import wilcoxon

    from cameval.experiments.occlusion.table import table3

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "id": [f"i{k}" for k in range(20)],
            "guided_backprop": rng.uniform(-1, 1, 20),
            "gradcam": rng.uniform(-1, 1, 20),
            "guided_gradcam": rng.uniform(-1, 1, 20),
        }
    )
    full, display = table3({("vgg", "occ7"): df}, {"occ7": 7}, n_boot=200)
    r = full.iloc[0]
    assert r["gradcam_minus_guided_backprop"] == pytest.approx((df["gradcam"] - df["guided_backprop"]).mean())
    assert r["gradcam_minus_guided_backprop_p"] == pytest.approx(wilcoxon(df["gradcam"], df["guided_backprop"]).pvalue)
    assert r["guided_gradcam_minus_gradcam_p"] == pytest.approx(wilcoxon(df["guided_gradcam"], df["gradcam"]).pvalue)
    assert "Grad-CAM − Guided Backprop" in display.columns


def test_table1_pairs_gradcampp_with_gradcam_on_the_same_images_by_hand():
    from cameval.experiments.localization import table1

    ids = [f"i{k}" for k in range(10)]
    gc = pd.DataFrame(
        {"id": ids, "loc_top1": [True] * 10, "loc_top5": [True] * 10, "cls_top1": [True] * 10, "cls_top5": [True] * 10}
    )
    pp = gc.copy()
    pp.loc[:5, "loc_top1"] = False  # Grad-CAM++ misses 6 boxes Grad-CAM finds
    pp = pp.iloc[::-1].reset_index(drop=True)  # another row order: pairs are matched by id
    full, display = table1({("vgg", "gradcam"): gc, ("vgg", "gradcampp"): pp}, n_boot=200)
    r = full.set_index("method").loc["gradcampp"]
    # error difference per image: +100 points on 6 images, 0 on 4 -> mean +60; exact two-sided
    # Wilcoxon on six equal positive differences: p = 2 / 2^6 = 0.03125
    assert r["top1_loc_minus_gradcam"] == pytest.approx(60.0)
    assert r["top1_loc_minus_gradcam_p"] == pytest.approx(0.03125)
    assert r["top5_loc_minus_gradcam"] == 0.0 and np.isnan(r["top5_loc_minus_gradcam_p"])
    assert "top1_loc_minus_gradcam" not in full.set_index("method").loc["gradcam"].dropna()


def test_table2_pairs_each_model_with_the_first_on_the_same_images():
    from scipy.stats import wilcoxon

    from cameval.experiments.pointing import table2

    rng = np.random.default_rng(2)
    ids = [f"i{k}" for k in range(30)]
    vgg = pd.DataFrame({"id": ids, "hit_tol0": rng.random(30) < 0.5, "recall": rng.random(30)})
    goo = pd.DataFrame({"id": ids, "hit_tol0": rng.random(30) < 0.8, "recall": rng.random(30)})
    full, _ = table2({"vgg": vgg, "googlenet": goo}, tolerances=[0], n_boot=200)
    r = full.set_index("model").loc["googlenet"]
    assert r["recall_minus_vgg"] == pytest.approx((goo["recall"] - vgg["recall"]).mean())
    assert r["recall_minus_vgg_p"] == pytest.approx(wilcoxon(goo["recall"], vgg["recall"]).pvalue)
    d = goo["hit_tol0"].astype(float) - vgg["hit_tol0"].astype(float)
    assert r["accuracy_tol0_minus_vgg"] == pytest.approx(d.mean())
    assert r["accuracy_tol0_minus_vgg_p"] == pytest.approx(wilcoxon(d).pvalue)


def test_every_public_metric_is_a_function_even_after_its_submodule_is_imported():
    """cameval.metrics loads its submodules on first use; a submodule named like its function
    (fidelity) must not take the function's place once imported."""
    code = (
        "import importlib, inspect\n"
        "import cameval.metrics as m\n"
        "for sub in ('classification', 'fidelity', 'localization', 'pointing', 'rankcorr', 'stats'):\n"
        "    importlib.import_module('cameval.metrics.' + sub)\n"
        "bad = [n for n in m.__all__ if not inspect.isfunction(getattr(m, n))]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
