"""Table 5 / Appendix E: ChestX-ray14 adapter, CheXNet checkpoints, class order, IoBB, AUROC, digits-multi."""

import pathlib

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from cameval import metrics
from cameval.batches import eval_rows
from cameval.data.chestxray import (
    CHEXNET_CLASSES,
    ChestXraySpec,
    build_chestxray,
    count_eval_rows,
    load_xray,
    read_bbox_list,
    resize_box,
)
from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.data.multilabel import digits_multi_eval_rows, explode_findings, multi_hot
from cameval.errors import ConfigError, DataError
from cameval.explain import explain
from cameval.heatmaps import ShardJob, compute_shard
from cameval.models import build_model, import_weights, load_model, read_state_dict, save_model
from cameval.models.convert import main as convert_main
from cameval.models.densenet import class_map, map_labels, resolve_layer
from cameval.store import Shard
from conftest import chexnet_checkpoint

# the NIH label file's order (alphabetical), which is not CheXNet's output order
NIH_ALPHABETICAL = sorted(CHEXNET_CLASSES)


# --- checkpoints -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tv_densenet121():
    """torchvision's densenet121 with 14 outputs, random weights and BatchNorm statistics (so a
    mis-mapped norm would show)."""
    torch.manual_seed(0)
    model = torchvision.models.densenet121(num_classes=14).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def test_chexnet_checkpoint_loads_back_to_identical_outputs(tmp_path, tv_densenet121):
    original = tv_densenet121
    chexnet_checkpoint(original, tmp_path / "A.pth.tar")
    import_weights("densenet121", str(tmp_path / "A.pth.tar"), tmp_path / "A.safetensors", num_classes=14)
    again = load_model(tmp_path / "A.safetensors")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(x), original(x), rtol=0, atol=0)


class _WritesAFile:
    """Unpickling this calls Path.touch: proof that code ran."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_checkpoint_with_a_pickled_object_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": _WritesAFile(marker)}, tmp_path / "B.pt")
    with pytest.raises(DataError, match="python -m cameval.models convert --trust-pickle"):
        read_state_dict(tmp_path / "B.pt")
    assert not marker.exists()


def test_convert_cli_turns_a_pickled_whole_module_into_identical_safetensors(tmp_path):
    torch.manual_seed(1)
    model = build_model("small_densenet", num_classes=14)
    torch.save(model, tmp_path / "B.pt")  # the study's model "B": torch.load gives an nn.Module
    with pytest.raises(SystemExit) as refused:
        convert_main(["convert", str(tmp_path / "B.pt"), str(tmp_path / "B.safetensors")])
    assert refused.value.code == 2 and not (tmp_path / "B.safetensors").exists()
    assert convert_main(["convert", "--trust-pickle", str(tmp_path / "B.pt"), str(tmp_path / "B.safetensors")]) == 0
    import_weights("small_densenet", str(tmp_path / "B.safetensors"), tmp_path / "B2.safetensors", num_classes=14)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "B2.safetensors")(x), model(x), rtol=0, atol=0)


def test_cam_densenet_matches_torchvision_and_names_the_study_layers(tv_densenet121):
    ref = tv_densenet121
    ours = build_model("densenet121", num_classes=14)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
    layer = resolve_layer(ours, "last_dense_conv")
    assert layer == "features.denseblock4.denselayer16.conv2"
    assert dict(ours.named_modules())[layer].out_channels == 32
    assert resolve_layer(ours, "block_relu") == "features_relu"
    assert resolve_layer(build_model("small_densenet"), "last_dense_conv") == "features.denseblock2.denselayer6.conv2"
    # the embedded default's DenseNet is torchvision's at growth 12, blocks (6, 6) too
    torch.manual_seed(1)
    ref = torchvision.models.DenseNet(growth_rate=12, block_config=(6, 6), num_init_features=32, num_classes=10).eval()
    small = build_model("small_densenet", num_classes=10)
    small.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(small(x), ref(x), rtol=0, atol=0)


def test_gradcam_after_the_block_relu_matches_captum():
    from captum.attr import LayerGradCam

    torch.manual_seed(0)
    model = build_model("small_densenet", num_classes=10)
    x = torch.randn(3, 3, 48, 48)
    target = torch.tensor([2, 5, 7])
    ours = explain(model, x, target, "gradcam", layer="features_relu")
    ref = LayerGradCam(model, model.features_relu).attribute(x, target=target, relu_attributions=True)[:, 0]
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


# --- class order --------------------------------------------------------------------------------


def test_findings_are_matched_to_output_units_by_name():
    # the dataset in the label file's alphabetical order, the model in CheXNet's: by hand,
    # Atelectasis is 0 in both, Cardiomegaly 1 in both, Consolidation 2 -> unit 8, Edema 3 -> 9,
    # Effusion 4 -> 2, Hernia 7 -> 13, Pneumothorax 13 -> 7
    m = class_map(NIH_ALPHABETICAL, CHEXNET_CLASSES)
    assert m[[0, 1, 2, 3, 4, 7, 13]].tolist() == [0, 1, 8, 9, 2, 13, 7]
    assert sorted(m.tolist()) == list(range(14))
    assert class_map(NIH_ALPHABETICAL, None).tolist() == list(range(14))


def test_a_finding_absent_from_the_models_classes_is_a_clear_error():
    model_classes = [c for c in CHEXNET_CLASSES if c != "Hernia"]
    mapping = class_map(NIH_ALPHABETICAL, model_classes)
    assert map_labels(np.array([0, 4]), mapping, NIH_ALPHABETICAL, model_classes).tolist() == [0, 2]
    with pytest.raises(ConfigError, match=r"models\.A\.classes.*'Hernia'"):
        map_labels(
            np.array([0, NIH_ALPHABETICAL.index("Hernia")]), mapping, NIH_ALPHABETICAL, model_classes, "models.A"
        )


@pytest.fixture(scope="module")
def chest_set(tmp_path_factory, tiny_chestxray):
    out = tmp_path_factory.mktemp("chest_set")
    summary = build_chestxray(
        out / "images.h5",
        out / "manifest.csv",
        ChestXraySpec(tiny_chestxray["images"], tiny_chestxray["data_entry"], tiny_chestxray["bbox_list"], size=56),
        progress=False,
    )
    return out, summary


def test_a_permuted_model_order_is_mapped_in_the_heatmap_shard(tmp_path, chest_set):
    out, _ = chest_set
    torch.manual_seed(0)
    model = build_model("small_densenet", num_classes=14)
    save_model(model, tmp_path / "m.safetensors", "small_densenet", build={"num_classes": 14})
    reversed_order = list(CHEXNET_CLASSES)[::-1]  # the model's unit j is CheXNet class 13 - j
    compute_shard(
        str(tmp_path / "m.safetensors"),
        str(out / "images.h5"),
        str(out / "manifest.csv"),
        str(tmp_path / "s.h5"),
        ShardJob("gradcam", "label", "test", 0, 6, layer="block_relu"),
        model_classes=reversed_order,
        progress=False,
    )
    with Shard(tmp_path / "s.h5") as s, ImageSet(out / "images.h5") as imgs:
        # rows by image: Cardiomegaly, Infiltration, Mass, Nodule, Atelectasis (CheXNet's indices)
        assert s.labels.tolist() == [1, 3, 4, 5, 0]
        assert s.targets[:, 0].tolist() == [12, 10, 9, 8, 13]  # 13 - label
        rows = eval_rows(out / "manifest.csv", "test")
        x = imgs.tensor(rows["index"].to_numpy())
        direct = explain(
            load_model(tmp_path / "m.safetensors"),
            x,
            torch.tensor([12, 10, 9, 8, 13]),
            "gradcam",
            layer="features_relu",
        )
        np.testing.assert_allclose(s.maps[:, 0], direct.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="Cardiomegaly"):
        compute_shard(
            str(tmp_path / "m.safetensors"),
            str(out / "images.h5"),
            str(out / "manifest.csv"),
            str(tmp_path / "t.h5"),
            ShardJob("gradcam", "label", "test", 0, 5),
            model_classes=[c for c in CHEXNET_CLASSES if c != "Cardiomegaly"],
            progress=False,
        )


# --- the ChestX-ray14 adapter ---------------------------------------------------------------------


def test_box_parser_reads_the_real_header(tiny_chestxray):
    df = read_bbox_list(tiny_chestxray["bbox_list"])
    assert list(df.columns) == ["image", "finding", "x", "y", "w", "h"]
    assert len(df) == 6
    first = df.iloc[0]
    assert (first["image"], first["finding"]) == ("00000001_000.png", "Cardiomegaly")
    assert (first["x"], first["y"], first["w"], first["h"]) == (300.0, 500.0, 400.5, 300.25)
    assert df.iloc[1]["finding"] == "Infiltration"  # the box file's 'Infiltrate'


def test_box_parser_names_file_row_and_column_of_a_bad_value(tmp_path):
    path = tmp_path / "BBox_List_2017.csv"
    path.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\n00000001_000.png,Mass,1,2,-3,4,,,\n")
    with pytest.raises(DataError, match=r"BBox_List_2017\.csv: row 2 .*'w'.*positive"):
        read_bbox_list(path)
    path.write_text("Image Index,Finding Label,x,y,w,h\n00000001_000.png,Mass,1,2,3,4\n")
    with pytest.raises(DataError, match=r"no column\(s\) \['Bbox \[x', 'h\]'\]"):
        read_bbox_list(path)


@pytest.mark.parametrize(
    "box, size, expected",
    [
        ((0, 0, 1024, 1024, 1024, 1024), 224, (0.0, 0.0, 223.0, 223.0)),  # the whole image
        # s = 224/1024 = 0.21875: x0 = 100 s = 21.875, x1 = 400 s - 1 = 86.5; y0 = 43.75, y1 = 250 s - 1 = 53.6875
        ((100, 200, 300, 50, 1024, 1024), 224, (21.875, 43.75, 86.5, 53.6875)),
        # non-square 2048x1024 at 256: sx = 0.125, sy = 0.25 -> x0 = 12.5, x1 = 24.5 - 1, y0 = 25, y1 = 50 - 1
        ((100, 100, 96, 100, 2048, 1024), 256, (12.5, 25.0, 23.5, 49.0)),
        # past the border: clipped to 223
        ((1000, 1000, 100, 100, 1024, 1024), 224, (218.75, 218.75, 223.0, 223.0)),
    ],
)
def test_boxes_follow_the_resize_by_hand(box, size, expected):
    assert resize_box(*box, size=size) == pytest.approx(expected)


def test_chestxray_set_converts_rgba_and_16_bit_and_maps_boxes(chest_set, tiny_chestxray):
    out, summary = chest_set
    assert summary["images"] == 4 and summary["boxes"] == 6 and summary["eval_rows"] == 5
    assert count_eval_rows(tiny_chestxray["bbox_list"]) == 5
    man = read_manifest(out / "manifest.csv").set_index("id")
    idx = {c: i for i, c in enumerate(CHEXNET_CLASSES)}
    assert man.at["00000002_001", "labels"] == str(idx["Infiltration"])
    assert man.at["00000001_000", "labels"] == f"{idx['Cardiomegaly']}|{idx['Effusion']}"
    # the Infiltrate box (100, 200, 300, 50) at 56 px, s = 56/1024: x0 = 100 s = 5.46875, y0 = 200 s = 10.9375,
    # x1 = 400 s - 1 = 20.875, y1 = 250 s - 1 = 12.671875 (4 decimals in the manifest)
    assert man.at["00000002_001", "boxes"] == [(idx["Infiltration"], 5.4688, 10.9375, 20.875, 12.6719)]
    with ImageSet(out / "images.h5") as imgs:
        assert imgs.attrs["classes"] == list(CHEXNET_CLASSES)
        px = {i: imgs.uint8(int(man.at[i, "index"]))[0] for i in man.index}
    for image_id in ("00000002_001", "00000003_000"):  # RGBA and 16-bit: gray, the box bright, the rest dark
        p = px[image_id]
        assert (p[..., 0] == p[..., 1]).all() and (p[..., 1] == p[..., 2]).all()
        _, x0, y0, x1, y1 = man.at[image_id, "boxes"][0]
        inside = p[int(np.ceil(y0)) : int(y1) + 1, int(np.ceil(x0)) : int(x1) + 1, 0]  # pixels wholly in the box
        assert inside.size and inside.mean() > 180 and p[..., 0].mean() < 100
    rows = eval_rows(out / "manifest.csv", "test")
    assert list(zip(rows["id"], rows["label"], strict=True)) == [
        ("00000001_000", 1),
        ("00000002_001", 3),
        ("00000003_000", 4),
        ("00000003_000", 5),
        ("00000004_000", 0),
    ]


def test_sixteen_bit_png_maps_its_range_onto_8_bits(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 257 * 100, dtype=np.uint16)).save(tmp_path / "x.png")
    img, w, h = load_xray(tmp_path / "x.png", size=4)
    assert (w, h) == (8, 8) and img.shape == (4, 4, 3) and (img == 100).all()


def test_unknown_finding_and_missing_png_stop_the_build_naming_the_file(tmp_path, tiny_chestxray):
    with pytest.raises(DataError, match=r"BBox_List_2017\.csv: column 'Finding Label': \['Cardiomegaly'\]"):
        build_chestxray(
            tmp_path / "i.h5",
            tmp_path / "m.csv",
            ChestXraySpec(
                tiny_chestxray["images"],
                tiny_chestxray["data_entry"],
                tiny_chestxray["bbox_list"],
                classes=[c for c in CHEXNET_CLASSES if c != "Cardiomegaly"],
            ),
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no PNG for \['00000001_000.png'"):
        build_chestxray(
            tmp_path / "i.h5",
            tmp_path / "m.csv",
            ChestXraySpec(empty, tiny_chestxray["data_entry"], tiny_chestxray["bbox_list"]),
        )
    assert not (tmp_path / "i.h5").exists()


# --- metrics ------------------------------------------------------------------------------------


def test_iobb_by_hand():
    # pred 10x10 at the origin, gt 10x10 shifted by 5: overlap 5x5 = 25 -> IoBB 25/100, IoU 25/175
    assert metrics.iobb((0, 0, 9, 9), (5, 5, 14, 14)) == 0.25
    assert metrics.iou((0, 0, 9, 9), (5, 5, 14, 14)) == pytest.approx(25 / 175)
    assert metrics.iobb((2, 2, 3, 3), (0, 0, 9, 9)) == 1.0  # inside the ground truth: 1, however small
    assert metrics.iobb((0, 0, 9, 9), (2, 2, 3, 3)) == 0.04  # 4 / 100
    assert metrics.iobb(None, (0, 0, 1, 1)) == 0.0 and metrics.iobb((0, 0, 1, 1), (5, 5, 6, 6)) == 0.0


def test_auroc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(60, 4))
    s = np.round(rng.normal(size=(60, 4)) + y, 1)  # rounded: many ties
    for c in range(4):
        assert metrics.auroc(s[:, c], y[:, c]) == pytest.approx(roc_auc_score(y[:, c], s[:, c]), abs=1e-12)
    mean, per = metrics.mean_auroc(s, y)
    assert mean == pytest.approx(roc_auc_score(y, s, average="macro"), abs=1e-12)
    y[:, 2] = 1  # one class never negative: left out of the mean
    mean, per = metrics.mean_auroc(s, y)
    assert np.isnan(per[2]) and mean == pytest.approx(np.mean([per[0], per[1], per[3]]))


def test_multilabel_rows_and_targets_by_hand():
    rows = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "label": [-1, -1, -1],
            "labels": ["1|3", "", "0|2|9"],
            "boxes": [[(3, 0, 0, 1, 1), (1, 2, 2, 3, 3), (3, 5, 5, 6, 6)], [], [(9, 0, 0, 2, 2)]],
        }
    )
    out = explode_findings(rows)
    assert list(zip(out["id"], out["label"], strict=True)) == [
        ("a", 1),
        ("a", 3),
        ("c", 9),
    ]  # one row per boxed finding
    y = multi_hot(rows, 10)
    assert y.sum(1).tolist() == [2, 0, 3] and y[0, [1, 3]].tolist() == [1, 1] and y[2, [0, 2, 9]].tolist() == [1, 1, 1]
    # canvases hold 1, 2, 3, 1, 2, 3, 1 digits
    assert (
        digits_multi_eval_rows(7, 3) == 13 and digits_multi_eval_rows(6, 3) == 12 and digits_multi_eval_rows(5, 2) == 7
    )


def test_xray_rows_score_boxes_and_inbox_by_hand(tmp_path):
    from cameval.data.manifest import write_manifest
    from cameval.experiments.xray.rows import xray_rows
    from cameval.experiments.xray.table import table5
    from cameval.store import write_shard

    write_manifest(
        pd.DataFrame(
            {
                "id": ["img"],
                "split": ["test"],
                "index": [0],
                "label": [-1],
                "source": ["x"],
                "boxes": [[[2, 0, 0, 9, 9]]],
                "labels": ["2"],
            }
        ),
        tmp_path / "m.csv",
    )
    cam = np.zeros((20, 20), np.float32)
    cam[5:15, 5:15] = 1.0  # box (5, 5, 14, 14): IoU with (0, 0, 9, 9) = 25/175, IoBB = 25/100
    pix = np.zeros((3, 20, 20), np.float32)
    pix[:, 0:2, 0:4] = -1.0  # 8 strong pixels inside the box ...
    pix[1, 18:20, 18:20] = 2.6  # ... and 4 outside: Σ|.| = 3 inside, 2.6 outside (>= 0.85 * 3 = 2.55)
    for name, maps in (("cam", cam[None, None]), ("pix", pix[None, None])):
        write_shard(
            tmp_path / f"{name}.h5",
            ids=["img"],
            labels=[2],
            targets=[[2]],
            scores=[[0.0, 1.0, 3.0]],
            maps=maps,
            attrs={"input_size": [20, 20]},
        )
    df = xray_rows(
        {"cam": [str(tmp_path / "cam.h5")], "pix": [str(tmp_path / "pix.h5")]}, str(tmp_path / "m.csv"), ["a", "b", "c"]
    )
    r = df.iloc[0]
    assert (r["finding"], r["score"]) == ("c", 3.0)
    assert r["cam_iou"] == pytest.approx(25 / 175) and r["cam_iobb"] == 0.25
    assert not r["cam_loc_iou50"] and not r["cam_loc_study"]  # eq. 3 for a 10x10 box: 100/400 = 0.25 > 0.143
    assert r["cam_inbox"] == pytest.approx(25 / 100)
    assert r["pix_inbox"] == pytest.approx(8 / 12)
    full = table5(
        {"A": df},
        {"cam": {"method": "Grad-CAM", "layer": "x"}, "pix": {"method": "IG", "layer": "input"}},
        reference={"wang": {"iobb@0.25": {"c": 0.5}}},
        thresholds=(0.1, 0.25, 0.5),
        n_boot=100,
    )
    v = full[(full["finding"] == "all") & (full["set"] == "cam")].set_index("measure")["value"]
    assert v["iou@0.1"] == 1.0 and v["iou@0.25"] == 0.0 and v["iobb@0.25"] == 1.0 and v["iobb@0.5"] == 0.0
    w = full[(full["finding"] == "c") & (full["measure"] == "iobb@0.25")]["wang"]
    assert w.tolist() == [0.5]


# --- digits-multi -------------------------------------------------------------------------------


def test_digits_multi_canvases_hold_distinct_boxed_digits(tmp_path):
    from cameval.data.digits_multi import DigitsMultiSpec, make_digits_multi

    make_digits_multi(
        tmp_path / "i.h5", tmp_path / "m.csv", DigitsMultiSpec(size=40, counts={"train": 12, "val": 6, "test": 7})
    )
    man = read_manifest(tmp_path / "m.csv")
    test = man[man["split"] == "test"].reset_index(drop=True)
    for i, row in test.iterrows():
        classes = [b[0] for b in row["boxes"]]
        assert len(classes) == 1 + i % 3 == len(set(classes))
        assert row["labels"] == "|".join(str(c) for c in sorted(classes))
    assert len(eval_rows(tmp_path / "m.csv", "test")) == digits_multi_eval_rows(7, 3)
    with ImageSet(tmp_path / "i.h5") as imgs:
        img = imgs.uint8(np.arange(len(man))).astype(float)
    inside, outside = [], []
    for _, row in man.iterrows():
        mask = np.zeros((40, 40), bool)
        for _, x0, y0, x1, y1 in row["boxes"]:
            mask[y0 : y1 + 1, x0 : x1 + 1] = True
        inside.append(img[row["index"], ..., 0][mask].max())
        outside.append(img[row["index"], ..., 0][~mask].mean())
    assert min(inside) > 150 and max(outside) < 110  # bright ink in every box, a darker field around


def test_table5_pairs_every_set_with_the_others_on_the_same_rows_as_scipy():
    from scipy.stats import wilcoxon

    from cameval.experiments.xray.table import table5

    rng = np.random.default_rng(1)
    rows = pd.DataFrame(
        {"finding": ["a", "b"] * 15, "cam_inbox": rng.uniform(0, 1, 30), "ig_inbox": rng.uniform(0, 1, 30)}
    )
    sets = {"cam": {"method": "Grad-CAM", "layer": "conv"}, "ig": {"method": "Integrated Gradients", "layer": "input"}}
    full = table5({"A": rows}, sets, n_boot=200)
    ig = full[(full["finding"] == "all") & (full["set"] == "ig") & (full["measure"] == "inbox")].iloc[0]
    assert ig["minus__cam"] == pytest.approx((rows["ig_inbox"] - rows["cam_inbox"]).mean())
    assert ig["minus__cam_p"] == pytest.approx(wilcoxon(rows["ig_inbox"], rows["cam_inbox"]).pvalue)
    assert ig["minus__cam_low"] < ig["minus__cam"] < ig["minus__cam_high"]
    per_finding = full[full["finding"] != "all"]
    assert per_finding["minus__cam"].isna().all()  # paired over all findings only


def test_the_library_default_thresholds_are_the_schemas():
    """Table 5's thresholds are stated twice (the library's default for a caller without a config, the
    schema's for a run): the two may not drift."""
    import yaml

    from cameval.config import SCHEMA
    from cameval.experiments.xray.table import THRESHOLDS

    schema = yaml.safe_load(SCHEMA.read_text())
    assert list(THRESHOLDS) == schema["properties"]["table5"]["properties"]["thresholds"]["default"]
