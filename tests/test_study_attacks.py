"""Table 6 on the study's own one-pixel attacks: the strict reader, the replay and its table."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import torchvision
from pytorch_grad_cam import GradCAM
from scipy import stats

from cameval.data.imagenet import ImagenetSpec, build_imagenet
from cameval.data.study import read_one_pixel_attacks
from cameval.errors import DataError
from cameval.experiments.sensitivity.compute import study_attack_rows
from cameval.experiments.sensitivity.table import table6_study
from cameval.hdf5 import open_h5
from cameval.models import save_model
from helpers import loud, pgc_unnormalized

ROOT = Path(__file__).resolve().parents[1]
ONE_PIXEL = ROOT / "resources/study/one_pixel"


# --- the reader ----------------------------------------------------------------------------------


def test_reader_reads_the_studys_files_one_row_per_attack():
    vgg = read_one_pixel_attacks(ONE_PIXEL / "results_VGG16.csv", images=250)
    goo = read_one_pixel_attacks(ONE_PIXEL / "results_GoogLeNet.csv", images=250)
    assert len(vgg) == len(goo) == 76  # the study's caption: 76 successful attacks each
    # the files' first and last lines, read by eye: 0,"[101, 88, 223, 28, 44]" ... 244,"[89, 140, 85, 20, 56]"
    assert vgg.iloc[0][["index", "row", "col", "r", "g", "b", "line"]].tolist() == [0, 101, 88, 223, 28, 44, 2]
    assert goo.iloc[-1][["index", "row", "col", "r", "g", "b", "line"]].tolist() == [244, 89, 140, 85, 20, 56, 77]
    swapped = read_one_pixel_attacks(ONE_PIXEL / "results_VGG16.csv", xy="col-row")
    assert (swapped["row"] == vgg["col"]).all() and (swapped["col"] == vgg["row"]).all()


@pytest.mark.parametrize(
    "body, message",
    [
        ('3,"[1, 2, x, 4, 5]"', "line 3: value '[1, 2, x, 4, 5]' is not five integers"),
        ('3,"[1, 2, 3, 4]"', "line 3: value '[1, 2, 3, 4]' has 4 numbers (expected 5"),
        ('3,"[1, 2, 3, 4, 5, 6]"', "has 6 numbers"),
        ('3,"[1, 224, 3, 4, 5]"', "line 3: pixel (x, y) = (1, 224) outside the 224×224 input"),
        ('3,"[-1, 2, 3, 4, 5]"', "outside the 224×224 input"),
        ('3,"[1, 2, 3, 256, 5]"', "line 3: colour [3, 256, 5] outside 0..255"),
        ('0,"[1, 2, 3, 4, 5]"', "line 3: image 0 is listed twice (first on line 2)"),
        ('three,"[1, 2, 3, 4, 5]"', "line 3: index 'three' is not an integer"),
        ('300,"[1, 2, 3, 4, 5]"', "line 3: index 300 outside 0..249"),
        ("3,1 2 3 4 5", "line 3: value '1 2 3 4 5' is not a list"),
    ],
)
def test_reader_names_file_and_line_of_a_bad_attack(tmp_path, body, message):
    path = tmp_path / "results_VGG16.csv"
    path.write_text(f'index,value\n0,"[10, 20, 30, 40, 50]"\n{body}\n')
    with pytest.raises(DataError) as err:
        read_one_pixel_attacks(path, images=250)
    assert str(path) in str(err.value) and message in str(err.value)


def test_reader_refuses_another_header_and_an_empty_list(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('image,pixel\n0,"[1, 2, 3, 4, 5]"\n')
    with pytest.raises(DataError, match="line 1: header"):
        read_one_pixel_attacks(path)
    path.write_text("index,value\n")
    with pytest.raises(DataError, match="no attack listed"):
        read_one_pixel_attacks(path)


# --- the replay on the ILSVRC fixture, against pytorch-grad-cam ------------------------------------

SIDE = 64  # the fixture's images at 64×64 (resize 73, centre crop 64): VGG-16's features.29 is then 4×4


@pytest.fixture(scope="module")
def replay(tiny_imagenet, tmp_path_factory):
    root = tmp_path_factory.mktemp("study_attacks")
    build_imagenet(
        root / "images.h5",
        root / "manifest.csv",
        ImagenetSpec(tiny_imagenet["images"], tiny_imagenet["xml"], tiny_imagenet["synsets"], resize=73, crop=SIDE),
        progress=False,
    )
    torch.manual_seed(0)
    model = torchvision.models.vgg16(num_classes=5).eval()
    loud(model.classifier[6], 1000.0)
    save_model(model, root / "vgg16.safetensors", "vgg16", build={"num_classes": 5})
    attacks = root / "results_VGG16.csv"  # x = row, y = column (the study's convention)
    attacks.write_text('index,value\n0,"[5, 40, 255, 0, 0]"\n2,"[63, 0, 0, 255, 10]"\n3,"[31, 17, 128, 128, 0]"')
    table = read_one_pixel_attacks(attacks, size=SIDE, images=4)
    rows = study_attack_rows(
        str(root / "vgg16.safetensors"),
        str(root / "images.h5"),
        str(root / "manifest.csv"),
        table,
        split="val",
        layer="features.29",
        seed=3,
        source=str(attacks),
    )
    return {"root": root, "model": model, "rows": rows, "attacks": table}


def oracle_value(model, x: torch.Tensor, target: int, row: int, col: int) -> float:
    """pytorch-grad-cam's Grad-CAM at the layer grid, upsampled with torch (bilinear, half-pixel
    centres) to the input, divided by its max, at (row, col)."""
    cam = pgc_unnormalized(GradCAM, model, model.features[29], x, target)
    up = F.interpolate(cam[:, None].double(), size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return float(up[row, col] / up.max()) if up.max() > 0 else 0.0


def test_replay_matches_pytorch_grad_cam_at_the_attacked_pixel(replay):
    model, rows = replay["model"], replay["rows"]
    with open_h5(replay["root"] / "images.h5", "r") as f:
        clean = f["images"][()]  # uint8 [N, H, W, 3], the dataset's preprocessing
    labels = pd.read_csv(replay["root"] / "manifest.csv")["label"].to_numpy()
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    hand = [(0, 5, 40, (255, 0, 0)), (2, 63, 0, (0, 255, 10)), (3, 31, 17, (128, 128, 0))]  # the list above
    assert rows[["index", "row", "col"]].values.tolist() == [[i, r, c] for i, r, c, _ in hand]
    assert rows["gradcam_before"].between(0, 1).all() and (rows["gradcam_before"] > 0).any()  # not all-zero maps
    for k, (i, r, c, rgb) in enumerate(hand):
        px = torch.from_numpy(clean[i]).permute(2, 0, 1)[None].float() / 255
        pa = px.clone()
        pa[0, :, r, c] = torch.tensor(rgb, dtype=torch.float32) / 255
        x, xa = (px - mean) / std, (pa - mean) / std
        with torch.no_grad():
            before, after = int(model(x).argmax()), int(model(xa).argmax())
        got = rows.iloc[k]
        assert (got["pred_before"], got["pred_after"], got["label"]) == (before, after, labels[i])
        assert bool(got["success"]) == (after != before)
        assert got["gradcam_before"] == pytest.approx(oracle_value(model, x, before, r, c), abs=1e-4)
        assert got["gradcam_before_label"] == pytest.approx(oracle_value(model, x, int(labels[i]), r, c), abs=1e-4)
        assert got["gradcam_after"] == pytest.approx(oracle_value(model, xa, after, r, c), abs=1e-4)
        rr, rc = int(got["random_row"]), int(got["random_col"])
        assert got["gradcam_random_before"] == pytest.approx(oracle_value(model, x, before, rr, rc), abs=1e-4)


def test_replay_refuses_an_image_past_the_split(replay, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('index,value\n1,"[1, 2, 3, 4, 5]"\n4,"[1, 2, 3, 4, 5]"\n')
    root = replay["root"]
    with pytest.raises(DataError, match=r"line 3: image 4 is past the end of split 'val'"):
        study_attack_rows(
            str(root / "vgg16.safetensors"),
            str(root / "images.h5"),
            str(root / "manifest.csv"),
            read_one_pixel_attacks(path, size=SIDE),
            split="val",
            source=str(path),
        )


def test_table6_study_statistics_and_the_studys_printed_values():
    rng = np.random.default_rng(1)
    n = 8
    df = pd.DataFrame({"success": [True, True, False, True, True, True, True, False]})
    for key in ("before", "before_label", "after", "random_before", "random_before_label", "random_after"):
        df[f"gradcam_{key}"] = rng.uniform(0, 1, n)
    ref = {
        "vgg16": {
            "study": {
                "successful": 76,
                "before_mean": 0.0609,
                "before_std": 0.0553,
                "before_min": 0.0,
                "before_max": 0.2450,
                "after_mean": 0.0683,
                "after_std": 0.0716,
                "after_min": 0.0,
                "after_max": 0.2840,
            }
        }
    }
    full, display = table6_study({"vgg16": df}, ref)
    listed, ok = full.iloc[0], full.iloc[1]
    assert (listed["subset"], listed["n"], listed["successful_here"], ok["n"]) == ("listed", 8, 6, 6)
    v = df["gradcam_before"].to_numpy()
    assert listed["before_mean"] == pytest.approx(v.mean()) and listed["before_std"] == pytest.approx(v.std(ddof=1))
    s = df.loc[df["success"], "gradcam_after"].to_numpy()
    assert (ok["after_min"], ok["after_max"]) == (pytest.approx(s.min()), pytest.approx(s.max()))
    assert ok["wilcoxon_p"] == pytest.approx(
        stats.wilcoxon(df.loc[df["success"], "gradcam_before"], df.loc[df["success"], "gradcam_random_before"]).pvalue
    )
    assert listed["study_before_max"] == 0.2450 and listed["study_successful"] == 76
    assert display.iloc[0]["study: before"] == "0.0609 ± 0.0553 [0.0000, 0.2450]"
    assert display.iloc[0]["n"] == "8 of 8" and display.iloc[1]["n"] == "6 of 8"
