"""Per-image experiment rows read from shards, and the tables built from them, on hand-built cases."""

import numpy as np
import pandas as pd
import pytest

from cameval.data.manifest import write_manifest
from cameval.errors import DataError
from cameval.experiments.fgsm import fgsm_table
from cameval.experiments.localization import localization_rows, table1
from cameval.experiments.occlusion.compute import rankcorr_rows
from cameval.experiments.occlusion.table import table3
from cameval.experiments.pointing import pointing_rows, table2
from cameval.metrics import rank_correlation
from cameval.store import write_shard

S = 8  # input size; maps are stored at the input's size, so upsampling is the identity


def _manifest(tmp_path, rows):
    df = pd.DataFrame(
        [
            {"id": i, "split": "test", "index": n, "label": lab, "source": "hand", "boxes": boxes}
            for n, (i, lab, boxes) in enumerate(rows)
        ]
    )
    path = tmp_path / "manifest.csv"
    write_manifest(df, path)
    return path


def _shard(path, ids, labels, targets, maps, spec, method="gradcam"):
    write_shard(
        path,
        ids=ids,
        labels=labels,
        targets=targets,
        scores=np.zeros((len(ids), 10)),
        maps=maps,
        attrs={"method": method, "input_size": [S, S], "targets_spec": spec},
    )
    return str(path)


def _peak(y, x, value=1.0, base=0.0):
    m = np.full((S, S), base, np.float32)
    m[y, x] = value
    return m


@pytest.fixture
def pointing_case(tmp_path):
    man = _manifest(tmp_path, [("a", 3, [[3, 0, 0, 3, 3]]), ("b", 7, [[7, 4, 4, 7, 7]])])
    # a: the label's map peaks at (1, 1), inside its box; the four absent classes peak low (0.2)
    maps_a = [_peak(1, 1), *[_peak(6, 6, 0.2)] * 4, _peak(1, 1)]
    # b: the absent class 1 peaks highest (kept: a miss); the label 7 points at (0, 0), 5.66 px
    # from its box (a miss at 0 px, a hit at 15 px); three absent classes peak low (rejected: hits)
    maps_b = [_peak(5, 5, 1.0), _peak(0, 0, 0.8), *[_peak(2, 2, 0.1)] * 3, _peak(0, 0, 0.8)]
    shard = _shard(
        tmp_path / "s.h5",
        ["a", "b"],
        [3, 7],
        [[3, 1, 2, 4, 5, 3], [1, 7, 2, 4, 5, 7]],
        np.stack([maps_a, maps_b]),
        "top5+label",
    )
    return shard, man


def test_pointing_rows_by_hand(pointing_case):
    shard, man = pointing_case
    df = pointing_rows([shard], man, tolerances=(0, 15), threshold=0.5, scale="image").set_index("id")
    assert df.loc["a", "hit_tol0"] and df.loc["a", "hit_tol15"]
    assert not df.loc["b", "hit_tol0"] and df.loc["b", "hit_tol15"]
    assert df.loc["a", "recall"] == 1.0
    assert df.loc["b", "recall"] == pytest.approx(3 / 5)


def test_pointing_recall_on_the_raw_scale_rejects_by_the_unnormalized_peak(pointing_case):
    shard, man = pointing_case
    # raw peaks 1.0 / 0.8 / 0.2 / 0.1 against a threshold of 0.9: b's label map (0.8) is now
    # rejected although present — still a miss; a's label map (1.0) is kept and points right
    df = pointing_rows([shard], man, threshold=0.9, scale="raw").set_index("id")
    assert df.loc["a", "recall"] == 1.0 and df.loc["b", "recall"] == pytest.approx(3 / 5)
    # threshold 0.05: everything is kept, absent classes become misses
    df = pointing_rows([shard], man, threshold=0.05, scale="raw").set_index("id")
    assert df.loc["a", "recall"] == pytest.approx(1 / 5) and df.loc["b", "recall"] == 0.0


def test_pointing_rows_refuse_shards_without_the_label_map(tmp_path):
    man = _manifest(tmp_path, [("a", 3, [[3, 0, 0, 3, 3]])])
    shard = _shard(tmp_path / "s.h5", ["a"], [3], [[3, 1, 2, 4, 5]], np.zeros((1, 5, S, S)), "top5")
    with pytest.raises(DataError, match="top5\\+label"):
        pointing_rows([shard], man)


def _block(x0, y0, x1, y1):
    m = np.zeros((S, S), np.float32)
    m[y0 : y1 + 1, x0 : x1 + 1] = 1.0
    return m


def test_localization_rows_by_hand(tmp_path):
    man = _manifest(tmp_path, [("a", 3, [[3, 2, 2, 5, 5]]), ("b", 4, [[4, 0, 0, 3, 3]])])
    # a: top-1 is right and its map covers the box exactly; b: top-1 wrong, the label is 2nd and
    # its map covers the box; every other map sits elsewhere
    wrong = _block(6, 6, 7, 7)
    maps = np.stack(
        [[_block(2, 2, 5, 5), wrong, wrong, wrong, wrong], [wrong, _block(0, 0, 3, 3), wrong, wrong, wrong]]
    )
    shard = _shard(tmp_path / "s.h5", ["a", "b"], [3, 4], [[3, 0, 1, 2, 5], [9, 4, 0, 1, 2]], maps, "top5")
    df = localization_rows([shard], man).set_index("id")
    assert df.loc["a", ["cls_top1", "cls_top5", "loc_top1", "loc_top5"]].tolist() == [True, True, True, True]
    assert df.loc["b", ["cls_top1", "cls_top5", "loc_top1", "loc_top5"]].tolist() == [False, True, False, True]
    assert df.loc["a", "iou_top1"] == pytest.approx(1.0)


def _ramp(reverse=False):
    r = np.tile(np.arange(1, S + 1, dtype=np.float32), (S, 1))
    return r[:, ::-1].copy() if reverse else r


def test_rankcorr_rows_by_hand(tmp_path):
    ids, labels, t = ["a", "b"], [1, 2], [[1], [2]]
    occ = _shard(tmp_path / "occ.h5", ids, labels, t, np.stack([[_ramp()], [_ramp()]]), "top1", "occlusion")
    # a: Grad-CAM rises with the occlusion drop, b: falls; guided backprop: the ramp in one
    # channel (|.| max over channels: the ramp) for both, so Guided Grad-CAM = ramp * Grad-CAM
    cam = _shard(tmp_path / "cam.h5", ids, labels, t, np.stack([[_ramp()], [_ramp(True)]]), "top1")
    gb = np.zeros((2, 1, 3, S, S), np.float32)
    gb[:, 0, 1] = _ramp()
    gbp = _shard(tmp_path / "gb.h5", ids, labels, t, gb, "top1", "guided_backprop")
    df = rankcorr_rows([occ], {"guided_backprop": [gbp], "gradcam": [cam]}, n_images=2).set_index("id")
    # (float32 resizing breaks a few of the ramp's exact ties at the clamped border: 1e-2)
    approx = lambda v: pytest.approx(v, abs=1e-2)  # noqa: E731
    assert df.loc["a", "gradcam"] == approx(1.0) and df.loc["b", "gradcam"] == approx(-1.0)
    assert df.loc["a", "guided_backprop"] == approx(1.0) and df.loc["b", "guided_backprop"] == approx(1.0)
    assert df.loc["a", "guided_gradcam"] == approx(1.0)  # ramp * ramp: monotone in the ramp
    # ramp * reversed ramp = x (S + 1 - x): symmetric about the centre, uncorrelated with the ramp
    assert abs(df.loc["b", "guided_gradcam"]) < 0.1
    assert df.loc["b", "guided_gradcam"] == pytest.approx(rank_correlation(_ramp(), _ramp() * _ramp(True)))
    with pytest.raises(DataError, match="3 were asked"):
        rankcorr_rows([occ], {"gradcam": [cam]}, n_images=3)


def test_rankcorr_rows_refuse_maps_of_another_class(tmp_path):
    occ = _shard(tmp_path / "occ.h5", ["a"], [1], [[1]], np.stack([[_ramp()]]), "top1", "occlusion")
    cam = _shard(tmp_path / "cam.h5", ["a"], [1], [[5]], np.stack([[_ramp()]]), "top1")
    with pytest.raises(DataError, match="explains class 5"):
        rankcorr_rows([occ], {"gradcam": [cam]}, n_images=1)


def test_table1_reports_errors_in_percent_with_an_interval_and_the_references():
    rows = pd.DataFrame(
        {
            "cls_top1": [True, True, False, True],
            "cls_top5": [True] * 4,
            "loc_top1": [True, False, False, False],
            "loc_top5": [True, True, False, False],
        }
    )
    ref = {"vgg": {"study": {"top1_loc": 55.82}, "original": {"top1_loc": 56.51}}}
    full, shown = table1({("vgg", "gradcam"): rows}, reference=ref, n_boot=200)
    r = full.iloc[0]
    assert (r["top1_cls"], r["top5_cls"], r["top1_loc"], r["top5_loc"]) == (25.0, 0.0, 75.0, 50.0)
    assert r["top1_loc_low"] <= 75.0 <= r["top1_loc_high"] and r["top1_loc_high"] <= 100.0
    assert (r["study_top1_loc"], r["original_top1_loc"]) == (55.82, 56.51)
    assert shown.iloc[0]["top-1 loc. err. (study)"] == "55.82"


def test_table2_and_table3_means_and_spread():
    rows = pd.DataFrame({"hit_tol0": [True, False, True, True], "hit_tol15": [True] * 4, "recall": [1, 0.6, 0.8, 0.6]})
    full, _ = table2({"vgg": rows}, tolerances=[0, 15], reference={"vgg": {"study": {"accuracy": 0.8642}}}, n_boot=200)
    r = full.iloc[0]
    assert (r["accuracy_tol0"], r["accuracy_tol15"], r["recall"]) == (0.75, 1.0, pytest.approx(0.75))
    assert r["study_accuracy"] == 0.8642
    rho = pd.DataFrame({"guided_backprop": [0.1, 0.3], "gradcam": [0.2, 0.2], "guided_gradcam": [0.0, 0.4]})
    full, shown = table3(
        {("vgg", "occlusion7"): rho}, patches={"occlusion7": 7}, reference={"study": {"gradcam": 0.0505}}, n_boot=200
    )
    r = full.iloc[0]
    assert r["guided_backprop"] == pytest.approx(0.2) and r["guided_backprop_std"] == pytest.approx(
        np.std([0.1, 0.3], ddof=1)
    )
    assert r["gradcam_std"] == 0.0 and r["patch"] == 7
    assert shown.iloc[-1]["Grad-CAM"] == "0.0505"


def test_fgsm_table_accuracy_before_and_after():
    rows = pd.DataFrame(
        {
            "correct_clean": [True, True, True, False],
            "correct_adv": [False, True, False, False],
            "rank_corr": [0.5, 0.9, 0.1, 0.3],
            "box_iou": [0.0, 1.0, 0.5, 0.5],
        }
    )
    full, _ = fgsm_table({"vgg": rows}, eps=0.03, n_boot=200)
    r = full.iloc[0]
    assert (r["acc_clean"], r["acc_adv"], r["rank_corr"], r["box_iou"]) == (0.75, 0.25, pytest.approx(0.45), 0.5)
