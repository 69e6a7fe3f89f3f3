"""Library methods in every table of their kind (Tables 2, 3, 6, Figure 1): the numbers against the
libraries called directly (pytorch-grad-cam, captum) on a random small VGG and real digit canvases,
and scipy's Spearman ρ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_grad_cam
import torch
import torch.nn.functional as F
from captum import attr as captum_attr
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy import stats

from cameval import metrics
from cameval.data.manifest import gt_boxes_of
from cameval.hdf5 import open_h5
from helpers import WIRING_N as N
from helpers import wiring_shard as shard

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # captum: "Input Tensor 0 did not already require ..."

ROOT = Path(__file__).resolve().parents[1]
LAYERCAM = "pytorch_grad_cam:LayerCAM"


def layercam(source, x, target) -> np.ndarray:
    """pytorch-grad-cam's Layer-CAM, called as its README shows: ``[N, H, W]``."""
    model = source["model"]
    layer = dict(model.named_modules())[source["layer"]]
    with pytorch_grad_cam.LayerCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in target])


def library_scaling(maps, size) -> np.ndarray:
    """What pytorch-grad-cam does to its per-layer maps ``[N, h, w]`` before returning them:
    ``scale_cam_image`` to the input's size, then once more over the one layer."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    return scale_cam_image(scale_cam_image(np.asarray(maps, np.float32), (size[1], size[0])))


def logits(source) -> torch.Tensor:
    with torch.no_grad():
        return source["model"](source["x"])


# --- Table 2 ---------------------------------------------------------------------------------------


def test_table2_row_of_layercam_is_the_pointing_game_of_the_librarys_maps(source):
    from cameval.experiments.pointing import pointing_rows, table2

    path = shard(source, "layercam", LAYERCAM, "top5+label")
    rows = pointing_rows([path], source["manifest"], tolerances=(0, 2), threshold=0.5, scale="image")
    gc = pointing_rows(
        [shard(source, "gradcam", "gradcam", "top5+label")], source["manifest"], tolerances=(0, 2), threshold=0.5
    )
    full, display = table2(
        {("vgg", "gradcam"): gc, ("vgg", "layercam"): rows},
        tolerances=(0, 2),
        n_boot=50,
        methods={"gradcam": "gradcam", "layercam": LAYERCAM},
    )
    test = source["test"].set_index("id")
    labels = test["label"].to_numpy()
    label_maps = layercam(source, source["x"], labels)
    top5 = logits(source).topk(5, dim=1).indices.numpy()
    top_maps = [layercam(source, source["x"], top5[:, k]) for k in range(5)]
    hits = {t: [] for t in (0, 2)}
    recall = []
    for i, image_id in enumerate(test.index):
        for t in hits:
            hits[t].append(metrics.pointing_hit(label_maps[i], gt_boxes_of(test, image_id, labels[i]), tolerance=t))
        peaks = np.array([m[i].max() for m in top_maps])
        per = []
        for k in range(5):  # kept when the peak is >= 0.5 of the image's largest; a hit: present and in its box
            boxes = gt_boxes_of(test, image_id, top5[i, k])
            kept = peaks[k] / peaks.max() >= 0.5
            point = bool(boxes) and metrics.pointing_hit(top_maps[k][i], boxes)
            per.append((point and kept) or (not boxes and not kept))
        recall.append(np.mean(per))
    row = full[full["heatmap"] == "layercam"].iloc[0]
    assert row["method"] == LAYERCAM and row["n"] == N
    assert row["accuracy_tol0"] == pytest.approx(np.mean(hits[0]))
    assert row["accuracy_tol2"] == pytest.approx(np.mean(hits[2]))
    assert row["recall"] == pytest.approx(np.mean(recall))
    assert 0 < np.mean(hits[2]) or 0 < np.mean(recall), "all-zero outcomes would prove little"
    assert list(full.columns[-2:]) == ["heatmap", "method"]  # the old columns keep their places
    assert display["method"].tolist() == ["Grad-CAM", "Layer-CAM"]


def test_table2_refuses_a_set_without_the_label_map_at_parse_time():

    import yaml
    from snakemake.utils import validate

    from cameval.config import check_config
    from cameval.errors import ConfigError

    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["heatmaps"]["layercam"]["targets"] = "top5"
    validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    with pytest.raises(
        ConfigError, match=r"heatmaps.layercam.targets: 'top5' \(expected top5\+label: .*table2\.heatmaps"
    ):
        check_config(cfg)


# --- Table 3 ---------------------------------------------------------------------------------------


def resized(m: np.ndarray, size: int = 14) -> np.ndarray:
    """Plain bilinear resizing (align_corners=False, no antialiasing), by torch."""
    t = torch.as_tensor(np.asarray(m, np.float64))[None, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=False)[0, 0].numpy()


def test_table3_rows_of_layercam_and_saliency_are_spearman_of_the_librarys_maps_with_occlusion(source):
    from cameval.experiments.occlusion.compute import rankcorr_rows
    from cameval.experiments.occlusion.table import table3
    from cameval.store import Shard

    occ = shard(source, "occlusion", "occlusion", "top1", patch=7, stride=4, fill=0.5, batch_size=64)
    others = {
        "gradcam": [shard(source, "gradcam", "gradcam", "top5+label")],
        "guided_backprop": [shard(source, "guided_backprop", "guided_backprop", "top1")],
        "layercam": [shard(source, "layercam", LAYERCAM, "top5+label")],
        "saliency": [shard(source, "saliency", "captum:Saliency", "top1")],
    }
    rows = rankcorr_rows([occ], others, n_images=N, size=14, reduce="abs_max")
    top1 = logits(source).argmax(1)
    cams = layercam(source, source["x"], top1)
    sal = captum_attr.Saliency(source["model"]).attribute(source["x"].clone(), target=top1).detach().numpy()
    with Shard(occ) as o:
        occ_maps = [o.maps[i, 0] for i in range(N)]
        assert [int(t) for t in o.targets[:, 0]] == top1.tolist()
    with Shard(others["layercam"][0]) as s:  # the library's maps before its min-max scaling (its own
        raw = np.asarray(s.maps[:N, 0])  # scaling of them is what it returns), at the layer's grid
    np.testing.assert_allclose(library_scaling(raw, tuple(source["x"].shape[-2:])), cams, atol=1e-5)
    expected = {
        "layercam": [
            stats.spearmanr(resized(occ_maps[i]).ravel(), resized(raw[i]).ravel()).statistic for i in range(N)
        ],
        "saliency": [
            stats.spearmanr(resized(occ_maps[i]).ravel(), resized(np.abs(sal[i]).max(0)).ravel()).statistic
            for i in range(N)
        ],
    }
    for name, values in expected.items():
        assert not np.isnan(values).any()
        np.testing.assert_allclose(rows[name].to_numpy(), values, rtol=0, atol=1e-9)
    full, display = table3(
        {("vgg", "occlusion"): rows},
        {"occlusion": 7},
        n_boot=50,
        extra={"layercam": "Layer-CAM", "saliency": "Saliency"},
    )
    r = full.iloc[0]
    for name, values in expected.items():
        assert r[name] == pytest.approx(np.mean(values))
        assert r[f"{name}_std"] == pytest.approx(np.std(values, ddof=1))
        assert r[f"{name}_minus_gradcam"] == pytest.approx(np.mean(np.subtract(values, rows["gradcam"])))
    assert {"Layer-CAM", "Saliency", "Layer-CAM − Grad-CAM"} <= set(display.columns)


# --- Table 6 ---------------------------------------------------------------------------------------


def test_table6_layercam_at_the_attacked_pixel_is_the_librarys_map_there(source):
    import h5py

    from cameval.experiments.sensitivity.compute import extra_attack_maps
    from cameval.experiments.sensitivity.rows import ARRAYS, pixel_map, sensitivity_rows
    from cameval.experiments.sensitivity.table import table6

    n, (h, w) = N, source["pixels"].shape[1:3]
    labels = source["test"]["label"].to_numpy()
    pixel = np.array([[3 * i + 1, 31 - 4 * i] for i in range(n)])  # (row, col) chosen here
    colour = np.array([[255, 0, 255 - 40 * i] for i in range(n)], np.uint8)
    after = (labels + 1 + np.arange(n)) % 10  # the "new prediction" whose map is read after the attack
    arrays = {
        "labels": labels,
        "success": np.array([True, True, True, True, False, True]),
        "pixel": pixel,
        "colour": colour,
        "generations": np.ones(n, int),
        "evaluations": np.ones(n, int),
        "p_before": np.full(n, 0.9),
        "p_after": np.full(n, 0.1),
        "p_new": np.full(n, 0.8),
        "pred_before": labels,
        "pred_after": after,
        "random_pixel": np.array([[i, i] for i in range(n)]),
        "clean": source["pixels"],
        "cam_before": np.ones((n, 4, 4), np.float32),
        "cam_after": np.ones((n, 4, 4), np.float32),
        "ig_before": np.ones((n, 3, h, w), np.float32),
        "ig_after": np.ones((n, 3, h, w), np.float32),
    }
    assert set(arrays) == set(ARRAYS)
    path = source["root"] / "attacks.h5"
    with open_h5(path, "w") as f:
        f.create_dataset("ids", data=np.array(source["test"]["id"], dtype=object), dtype=h5py.string_dtype())
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    spec = {"method": LAYERCAM, "params": {}, "targets": "top5", "layer": None}
    extra = extra_attack_maps(source["weights"], source["images"], [path], {"layercam": spec}, expected=n)
    rows = sensitivity_rows([path], n, extra)
    # the attacked images, made here: the pixel set to its colour in pixel space, then normalized
    attacked = source["pixels"].astype(np.float32) / np.float32(255)
    for i, (r, c) in enumerate(pixel):
        attacked[i, r, c] = colour[i] / np.float32(255)
    xa = torch.as_tensor((attacked - source["mean"]) / source["std"]).permute(0, 3, 1, 2).contiguous()
    # the maps are the library's before its min-max scaling: its own scaling of them is what it returns
    before, later = layercam(source, source["x"], labels), layercam(source, xa, after)
    np.testing.assert_allclose(library_scaling(extra["layercam"]["before"], (h, w)), before, atol=1e-5)
    np.testing.assert_allclose(library_scaling(extra["layercam"]["after"], (h, w)), later, atol=1e-5)
    for i, (r, c) in enumerate(pixel):  # read as Grad-CAM is: upsampled bilinearly, divided by its max
        up_before = pixel_map(extra["layercam"]["before"][i], (h, w))
        up_after = pixel_map(extra["layercam"]["after"][i], (h, w))
        assert rows.at[i, "layercam_before"] == pytest.approx(up_before[r, c], abs=1e-6)
        assert rows.at[i, "layercam_after"] == pytest.approx(up_after[r, c], abs=1e-6)
        rr = arrays["random_pixel"][i]
        assert rows.at[i, "layercam_random_before"] == pytest.approx(up_before[rr[0], rr[1]], abs=1e-6)
    assert not np.allclose(rows["layercam_before"], rows["layercam_after"]), "identical columns would prove little"
    full, display = table6({"vgg": rows}, n_boot=50, extra={"layercam": "Layer-CAM"})
    r = full[full["method"] == "layercam"].iloc[0]
    ok = rows["success"].to_numpy()
    assert full["method"].tolist() == ["gradcam", "ig", "layercam"] and r["successful"] == ok.sum()
    assert r["before_mean"] == pytest.approx(rows["layercam_before"][ok].mean())
    assert r["after_max"] == pytest.approx(rows["layercam_after"][ok].max())
    assert display["method"].tolist()[-1] == "Layer-CAM"


# --- Figure 1 --------------------------------------------------------------------------------------


def test_figure1_shows_layercam_the_librarys_top1_map_beside_gradcam(source, monkeypatch, tmp_path):
    from cameval.experiments.gallery import compute as gallery

    files = {
        "gradcam": shard(source, "gradcam", "gradcam", "top5+label"),
        "gradcampp": shard(source, "gradcampp", "gradcampp", "top5"),
        "guided_backprop": shard(source, "guided_backprop", "guided_backprop", "top1"),
        "layercam": shard(source, "layercam", LAYERCAM, "top5+label"),
    }
    drawn = {}
    real = gallery.figure1
    monkeypatch.setattr(gallery, "figure1", lambda panels, path, extra=None: drawn.update(panels=panels, extra=extra))
    gallery.figure1_from_shards(
        {"vgg": files},
        source["images"],
        source["manifest"],
        tmp_path / "f.png",
        n_images=3,
        extra={"layercam": "Layer-CAM"},
    )
    top1 = logits(source).argmax(1)
    expected = layercam(source, source["x"][:3], top1[:3])
    assert drawn["extra"] == {"layercam": "Layer-CAM"} and len(drawn["panels"]) == 3
    size = tuple(source["x"].shape[-2:])
    for i, p in enumerate(drawn["panels"]):  # the library's map before its scaling, as the shard holds it
        assert p["target"] == int(top1[i])
        np.testing.assert_allclose(library_scaling(p["layercam"][None], size)[0], expected[i], rtol=0, atol=1e-5)
    real(drawn["panels"], tmp_path / "f.png", extra=drawn["extra"])
    from PIL import Image

    with Image.open(tmp_path / "f.png") as im:
        wide = im.size[0]
    real(drawn["panels"], tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as im:
        assert wide > im.size[0]  # one column more
