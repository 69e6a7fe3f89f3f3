"""Tables 6 and 7 from hand-built attack shards and per-image rows (numbers worked out here)."""

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cameval.errors import DataError
from cameval.experiments.faithfulness.table import table7
from cameval.experiments.sensitivity.rows import ARRAYS, sensitivity_rows
from cameval.experiments.sensitivity.table import table6
from cameval.hdf5 import open_h5
from helpers import attack_shard_arrays


def write_attack_shard(path, n=2, h=4, w=4, c=3):
    data = attack_shard_arrays(n, h, w, c)
    assert set(data) == set(ARRAYS)
    with open_h5(path, "w") as f:
        f.create_dataset("ids", data=np.array(["a", "b"], dtype=object), dtype=h5py.string_dtype())
        for k, v in data.items():
            f.create_dataset(k, data=v)
    return data


def test_sensitivity_rows_read_the_maps_at_the_attacked_and_random_pixels(tmp_path):
    d = write_attack_shard(tmp_path / "shard-0.h5")
    rows = sensitivity_rows([tmp_path / "shard-0.h5"])
    assert rows["id"].tolist() == ["a", "b"] and rows["success"].tolist() == [True, False]
    cam = d["cam_before"][0].astype(float)  # already at the input's size: only divided by its max
    assert rows.at[0, "gradcam_before"] == pytest.approx(cam[0, 1] / cam.max())
    assert rows.at[0, "gradcam_random_before"] == pytest.approx(cam[2, 2] / cam.max())
    assert rows.at[0, "gradcam_pct_before"] == pytest.approx(100 * np.sum(cam <= cam[0, 1]) / 16)
    assert rows.at[0, "gradcam_pct_before"] == pytest.approx(stats.percentileofscore(cam.ravel(), cam[0, 1], "weak"))
    ig = np.abs(d["ig_after"][1].astype(float)).sum(0)  # |IG| summed over channels, divided by its max
    assert rows.at[1, "ig_after"] == pytest.approx(ig[3, 3] / ig.max())
    assert rows.at[1, "ig_random_after"] == pytest.approx(ig[0, 0] / ig.max())


def test_a_shard_without_p_new_is_refused_naming_the_file_and_the_array(tmp_path):
    """p_new (the new class's probability, Appendix F prints it) is an array every shard holds: a file
    without it stops the reader rather than leaving it out."""
    write_attack_shard(tmp_path / "shard-0.h5")
    with open_h5(tmp_path / "shard-0.h5", "a") as f:
        del f["p_new"]
    with pytest.raises(DataError, match=r"shard-0\.h5: missing datasets \['p_new'\]"):
        sensitivity_rows([tmp_path / "shard-0.h5"])


def test_an_image_misclassified_before_the_attack_is_flipped_but_no_success(tmp_path):
    d = write_attack_shard(tmp_path / "shard-0.h5")
    with open_h5(tmp_path / "shard-0.h5", "a") as f:  # image b: label 2, predicted 3 already, still 3 after
        f["pred_before"][1], f["pred_after"][1], f["success"][1] = 3, 3, True
    rows = sensitivity_rows([tmp_path / "shard-0.h5"])
    assert rows["flipped"].tolist() == [True, True]  # the attack's own outcome: not the label after
    assert rows["success"].tolist() == [True, False]  # a success needs a correct clean prediction
    assert d["labels"][1] == 2


def test_table6_statistics_over_the_successful_attacks_and_the_wilcoxon_test():
    before = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8])
    random = np.array([0.2, 0.3, 0.1, 0.4, 0.0, 0.35])
    df = pd.DataFrame(
        {
            "success": [True] * 6 + [False],
            "gradcam_before": [*before, 0.99],
            "gradcam_random_before": [*random, 0.0],
            "gradcam_after": [*(before / 2), 0.0],
            "gradcam_random_after": 0.1,
            "gradcam_pct_before": 50.0,
            "gradcam_pct_after": 40.0,
        }
    )
    for key in ("before", "random_before", "after", "random_after", "pct_before", "pct_after"):
        df[f"ig_{key}"] = df[f"gradcam_{key}"]
    full, display = table6({"vgg": df}, n_boot=200)
    row = full[full["method"] == "gradcam"].iloc[0]
    assert row["attacks"] == 7 and row["successful"] == 6 and row["success_rate"] == pytest.approx(6 / 7)
    assert row["before_mean"] == pytest.approx(before.mean()) and row["before_std"] == pytest.approx(before.std(ddof=1))
    assert (row["before_min"], row["before_max"]) == (0.1, 0.9)
    assert row["after_max"] == pytest.approx(0.45) and row["random_before_mean"] == pytest.approx(random.mean())
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(before, random).pvalue)
    assert len(display) == 2 and "Wilcoxon p (attacked vs random)" in display.columns


def test_table7_means_per_method_and_percentile():
    df = pd.DataFrame(
        {
            "method": ["gradcam"] * 4 + ["shap"] * 2,
            "percentile": [1, 1, 10, 10, 1, 1],
            "explainer": ["", "", "", "", "deep", "deep"],
            "drop": [0.2, 0.4, 0.1, 0.3, 0.5, 0.5],
            "correct_before": [True, True, True, False, True, True],
            "correct_after": [False, True, True, False, False, False],
            "contrastivity": [0.5, 0.7, 0.6, 0.8, 0.9, 1.0],
            "mask_share": [0.1, 0.3, 0.2, 0.2, 0.5, 0.5],
        }
    )
    full, display = table7({"mnist": df}, reference={"mnist": {"gradcam": {"fidelity_p1": 0.25}}}, n_boot=200)
    g1 = full[(full["method"] == "gradcam") & (full["percentile"] == 1)].iloc[0]
    assert g1["fidelity"] == pytest.approx(0.3) and g1["acc_after"] == pytest.approx(0.5)
    assert g1["contrastivity"] == pytest.approx(0.6) and g1["mask_share"] == pytest.approx(0.2)
    assert g1["study_fidelity"] == 0.25
    g10 = full[(full["method"] == "gradcam") & (full["percentile"] == 10)].iloc[0]
    assert g10["acc_before"] == pytest.approx(0.5) and g10["fidelity"] == pytest.approx(0.2)
    assert full.loc[full["method"] == "shap", "explainer"].tolist() == ["deep"]
    assert "SHAP (deep)" in display["method"].tolist()
    assert "eval_acc" not in full  # only where the model's accuracy on its evaluation split is given


def test_table7_states_each_models_accuracy_on_its_evaluation_split():
    from cameval.experiments.faithfulness.table import accuracy_note

    df = pd.DataFrame(
        {
            "method": ["gradcam"],
            "percentile": [1],
            "explainer": [""],
            "drop": [0.2],
            "correct_before": [True],
            "correct_after": [False],
            "contrastivity": [0.5],
            "mask_share": [0.1],
        }
    )
    acc = {"mnist_net": {"split": "test", "n": 4000, "correct": 3878, "acc": 0.9695}}
    full, _ = table7({"mnist_net": df}, n_boot=200, accuracy=acc)
    assert full["eval_acc"].tolist() == [0.9695] and full["eval_n"].tolist() == [4000]
    note = accuracy_note(acc, {"mnist_net": "mnist-real"}, {"mnist_net": {"accuracy": 96.85}})
    assert note == (
        "Top-1 accuracy on the whole evaluation split: mnist_net: 96.95 % (3878 of the 4000 test images "
        "of mnist-real); the study: 96.85 % on its test set."
    )
