"""The sanity and deletion experiments: their shard reading, tables, claims and the shuffled-label twin,
on hand-built cases checked against scipy, torch and hand calculations."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from cameval.claims import FAILS, HOLDS, UNDECIDED, Context
from cameval.errors import ConfigError, DataError
from cameval.experiments.deletion.claims import claim_beats_random, claim_road_consistency, claim_table7_retested
from cameval.experiments.deletion.table import deletion_table, road_summary
from cameval.experiments.sanity.claims import claim_gradcam_data_randomization, claim_guided_fail_cascade
from cameval.experiments.sanity.table import sanity_table
from cameval.heatmaps import first_maps, input_maps, random_maps, with_guided_gradcam
from cameval.models.train import shuffled_labels
from cameval.store import write_shard

#: what made test_wiring's gradcam shard, as its readers expect it (compute_shard's own spec without a config)
GRADCAM_SPEC = {"method": "gradcam", "params": {}, "layer": "", "targets": "top1"}


def _shard(path, ids, targets, maps, layer="features.5"):
    write_shard(
        path,
        ids=ids,
        labels=np.zeros(len(ids)),
        targets=np.asarray(targets).reshape(len(ids), -1),
        scores=np.zeros((len(ids), 10)),
        maps=maps,
        attrs={"method": "gradcam", "layer": layer},
    )
    return str(path)


def test_shuffled_labels_permute_the_labels_among_the_images_under_the_seed():
    y = torch.arange(100) % 10
    a, b = shuffled_labels(y, 3), shuffled_labels(y, 3)
    assert torch.equal(a, b) and not torch.equal(a, y)
    assert torch.equal(torch.bincount(a, minlength=10), torch.bincount(y, minlength=10))
    assert not torch.equal(shuffled_labels(y, 4), a)


def test_first_maps_reads_the_first_images_across_shards_and_refuses_other_classes(tmp_path):
    rng = np.random.default_rng(0)
    m0, m1 = rng.random((2, 2, 4, 4)).astype(np.float32), rng.random((2, 2, 4, 4)).astype(np.float32)
    cam = [
        _shard(tmp_path / "a0.h5", ["x", "y"], [[1, 2], [3, 4]], m0),
        _shard(tmp_path / "a1.h5", ["z", "w"], [[5, 6], [7, 8]], m1),
    ]
    gbp = [_shard(tmp_path / "b0.h5", ["x", "y", "z", "w"], [1, 3, 5, 7], rng.random((4, 1, 3, 8, 8)), layer="")]
    got = first_maps({"gradcam": cam, "guided_backprop": gbp}, 3)
    assert got["ids"] == ["x", "y", "z"] and got["targets"].tolist() == [1, 3, 5]
    np.testing.assert_array_equal(got["maps"]["gradcam"], np.concatenate([m0[:, 0], m1[:1, 0]]))
    assert got["layers"] == {"gradcam": "features.5", "guided_backprop": None}
    other = [_shard(tmp_path / "c0.h5", ["x", "y", "z"], [1, 3, 9], rng.random((3, 1, 4, 4)))]
    with pytest.raises(DataError, match="explains other images or classes"):
        first_maps({"gradcam": cam, "other": other}, 3)
    with pytest.raises(DataError, match="hold 3 images, 4 were asked for"):
        first_maps({"other": other}, 4)


def test_input_maps_upsample_cams_as_torch_and_reduce_pixel_maps_by_hand():
    rng = np.random.default_rng(1)
    cams = rng.random((2, 4, 4)).astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.as_tensor(cams)[:, None], size=(8, 8), mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(input_maps(cams, (8, 8), "abs_max"), expected[:, 0].numpy(), rtol=1e-6)
    pix = np.array([[[[1.0, -3.0]], [[-2.0, 0.5]]]])  # [1, C=2, 1, 2]
    np.testing.assert_array_equal(input_maps(pix, (1, 2), "abs_max"), [[[2.0, 3.0]]])
    np.testing.assert_array_equal(input_maps(pix, (1, 2), "sum"), [[[-1.0, -2.5]]])


def test_random_maps_are_seeded_by_image_and_step():
    a = random_maps([3, 7], (5, 5), seed=0)
    assert a.shape == (2, 5, 5) and ((a >= 0) & (a < 1)).all()
    np.testing.assert_array_equal(a[1], random_maps([7], (5, 5), seed=0)[0])  # an image's map, whatever the batch
    assert not np.array_equal(a, random_maps([3, 7], (5, 5), seed=0, step=1))
    assert not np.array_equal(a, random_maps([3, 7], (5, 5), seed=1))


def test_guided_gradcam_is_formed_from_the_two_sets_as_table3_forms_it():
    gbp = torch.ones(1, 3, 4, 4)
    cam = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    got = with_guided_gradcam({"g": gbp, "c": cam}, {"g": "guided_backprop", "c": "gradcam"})
    up = torch.nn.functional.interpolate(cam[:, None], size=(4, 4), mode="bilinear", align_corners=False)
    torch.testing.assert_close(got["guided_gradcam"], gbp * up)
    assert "guided_gradcam" not in with_guided_gradcam({"c": cam}, {"c": "gradcam"})


def test_road_summary_is_the_area_between_the_lerf_and_morf_curves_by_hand():
    df = pd.DataFrame(
        [{"morf_p10": 1.0, "morf_p50": 0.0, "morf_p90": 0.0, "lerf_p10": 1.0, "lerf_p50": 1.0, "lerf_p90": 1.0}]
    )
    got = road_summary(df).iloc[0]
    # gap 0, 1, 1 at 0.1, 0.5, 0.9: (0 + 1) / 2 * 0.4 + (1 + 1) / 2 * 0.4
    assert got["road_gap"] == pytest.approx(0.6)
    assert got["road_morf"] == pytest.approx(1 / 3) and got["road_lerf"] == 1.0


def _deletion_rows(n=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for method, shift in (("gradcam", 0.0), ("integrated_gradients", -0.2), ("random", 0.3)):
        for i in range(n):
            rows.append(
                {
                    "id": f"im{i}",
                    "set": method,
                    "method": method,
                    "deletion_auc": 0.5 + shift + 0.05 * rng.standard_normal(),
                    "insertion_auc": 0.5 - shift + 0.05 * rng.standard_normal(),
                    "morf_p20": float(rng.random() < 0.5 + shift),
                    "morf_p60": float(rng.random() < 0.4 + shift),
                    "lerf_p20": float(rng.random() < 0.9),
                    "lerf_p60": float(rng.random() < 0.8 - shift),
                }
            )
    return pd.DataFrame(rows)


def test_deletion_table_pairs_each_method_with_gradcam_and_the_random_map_as_scipy_does():
    df = _deletion_rows()
    full, display = deletion_table({"m": df}, n_boot=200, seed=0)
    ig = full.set_index("set").loc["integrated_gradients"]
    a = df[df["set"] == "integrated_gradients"]["deletion_auc"].to_numpy()
    cam = df[df["set"] == "gradcam"]["deletion_auc"].to_numpy()
    rnd = df[df["set"] == "random"]["deletion_auc"].to_numpy()
    assert ig["deletion_auc"] == pytest.approx(a.mean())
    assert ig["deletion_auc_minus_gradcam"] == pytest.approx((a - cam).mean())
    assert ig["deletion_auc_minus_gradcam_p"] == pytest.approx(stats.wilcoxon(a - cam).pvalue)
    assert ig["deletion_auc_minus_random_p"] == pytest.approx(stats.wilcoxon(a - rnd).pvalue)
    assert (
        ig["deletion_auc_minus_gradcam_low"] < ig["deletion_auc_minus_gradcam"] < ig["deletion_auc_minus_gradcam_high"]
    )
    assert ig["morf_p20"] == pytest.approx(df[df["set"] == "integrated_gradients"]["morf_p20"].mean())
    assert pd.isna(full.set_index("set").loc["gradcam", "deletion_auc_minus_gradcam"])
    assert len(display) == 3 and display.notna().all().all()


def test_deletion_claims_on_a_hand_built_table():
    ctx = Context(archs={"m": "mnist_net"}, alpha=0.05)
    full, _ = deletion_table({"m": _deletion_rows(n=20)}, n_boot=200, seed=0)
    v = claim_table7_retested({"deletion": full}, ctx)
    # IG's deletion AUC is 0.2 below Grad-CAM's on every image: its part holds; no Gradient SHAP set here
    assert "deletion_auc" in v.numbers and v.verdict in (HOLDS, UNDECIDED)
    beats = claim_beats_random({"deletion": full}, ctx)
    assert beats.verdict == HOLDS and "worse than the random map: none" in beats.numbers
    # a method worse than the random map is named
    worse = _deletion_rows(n=20)
    worse.loc[worse["set"] == "gradcam", "deletion_auc"] += 0.6
    full2, _ = deletion_table({"m": worse}, n_boot=200, seed=0)
    v2 = claim_beats_random({"deletion": full2}, ctx)
    assert v2.verdict == FAILS and "m Grad-CAM (deletion_auc" in v2.numbers


def test_road_consistency_is_kendalls_tau_between_the_morf_and_lerf_orders():
    t = pd.DataFrame(
        {"model": ["m"] * 5, "road_morf": [0.1, 0.2, 0.3, 0.4, 0.5], "road_lerf": [0.9, 0.8, 0.7, 0.6, 0.5]}
    )
    v = claim_road_consistency({"deletion": t}, Context())
    tau, p = stats.kendalltau(t["road_morf"], t["road_lerf"])
    assert tau == pytest.approx(-1) and p < 0.05 and v.verdict == HOLDS and f"p = {p:.3g}" in v.numbers
    same = t.assign(road_lerf=t["road_morf"])
    assert claim_road_consistency({"deletion": same}, Context()).verdict == FAILS


def _sanity_rows(n=10):
    rng = np.random.default_rng(2)
    rows = []
    for method, level in (("gradcam", 0.1), ("guided_backprop", 0.9), ("guided_gradcam", 0.8)):
        for mode, step, layer, last in (
            ("cascading", 1, "fc", False),
            ("cascading", 2, "conv5", True),
            ("data", 0, "twin", False),
        ):
            for i in range(n):
                rows.append(
                    {
                        "id": f"im{i}",
                        "set": method,
                        "method": method,
                        "mode": mode,
                        "step": step,
                        "layer": layer,
                        "last_conv": last,
                        "measure": "spearman_abs",
                        "value": level + 0.05 * rng.standard_normal(),
                    }
                )
    return pd.DataFrame(rows)


def test_sanity_table_and_claims_on_a_hand_built_case():
    df = _sanity_rows()
    full, display = sanity_table(
        {"vgg": df}, {"vgg": {"train_acc": 0.95, "chance": 0.1, "n_train": 256}}, min_fit=0.9, bound=0.5, n_boot=200
    )
    row = full[(full["set"] == "guided_backprop") & (full["step"] == 2)].iloc[0]
    a = df[(df["set"] == "guided_backprop") & (df["step"] == 2)]["value"].to_numpy()
    b = df[(df["set"] == "gradcam") & (df["step"] == 2)]["value"].to_numpy()
    assert row["minus_gradcam"] == pytest.approx((a - b).mean())
    assert row["minus_gradcam_p"] == pytest.approx(stats.wilcoxon(a - b).pvalue)
    assert bool(row["last_conv"]) and len(display) == len(full) == 9
    ctx = Context(alpha=0.05)
    tables = {"sanity": pd.read_csv(pd.io.common.StringIO(full.to_csv(index=False)))}
    assert claim_guided_fail_cascade(tables, ctx).verdict == HOLDS
    v = claim_gradcam_data_randomization(tables, ctx)
    assert v.verdict == HOLDS and "training accuracy 0.950 on 256 shuffled labels" in v.numbers
    data = display[full["mode"] == "data"]["layer randomized"]
    assert data.str.contains("training accuracy 0.950 on 256 shuffled labels, fit").all() and len(data) == 3
    unfit, _ = sanity_table({"vgg": df}, {"vgg": {"train_acc": 0.2}}, min_fit=0.9, bound=0.5, n_boot=200)
    v = claim_gradcam_data_randomization({"sanity": unfit}, ctx)
    assert v.verdict.startswith("not evaluated (no twin fit its shuffled labels")


# --- the jobs' torch work, on a random small VGG and real digit canvases (tests/test_wiring.py's source) ---

from helpers import WIRING_N as N  # noqa: E402  # the `source` fixture's images (tests/conftest.py)
from helpers import wiring_shard as shard  # noqa: E402


def _up(maps, size):
    return torch.nn.functional.interpolate(
        torch.as_tensor(maps)[:, None], size=size, mode="bilinear", align_corners=False
    )[:, 0]


def test_sanity_maps_are_captums_gradcam_of_each_randomized_copy_and_the_twins(source, tmp_path):  # noqa: F811
    from captum.attr import LayerGradCam

    from cameval import metrics
    from cameval.experiments.sanity.compute import SanitySpec, sanity_maps
    from cameval.experiments.sanity.rows import read_maps, similarity_rows
    from cameval.store import Shard

    sets = {
        "gradcam": shard(source, "gc1", "gradcam", "top1"),
        "guided_backprop": shard(source, "gb1", "guided_backprop", "top1"),
    }
    # what made each set's shards, as a rule passes it (heatmap_spec): compute_shard's own without a config
    specs = {
        "gradcam": GRADCAM_SPEC,
        "guided_backprop": {"method": "guided_backprop", "params": {}, "layer": "", "targets": "top1"},
    }
    out = tmp_path / "sanity.h5"
    sanity_maps(
        source["weights"], source["images"], source["manifest"], {k: [v] for k, v in sets.items()}, specs, out,
        SanitySpec("test", 4, modes=("cascading",), layers=2, seed=0), twin=source["weights"], twin_name="same",
    )  # fmt: skip
    got = read_maps(out)
    assert got["columns"] == ["gradcam", "guided_backprop", "guided_gradcam", "random"]
    with Shard(sets["gradcam"]) as s:
        cam, targets = np.asarray(s.maps[:4])[:, 0], np.asarray(s.targets)[:4, 0]
    np.testing.assert_allclose(got["original"][0], _up(cam, (32, 32)).numpy(), rtol=1e-5, atol=1e-6)
    # the twin here is the model itself: its maps are the shard's
    np.testing.assert_allclose(got["data"][0], got["original"][0], rtol=1e-4, atol=1e-5)
    x = source["x"][:4]
    copies = list(metrics.randomized_models(source["model"], mode="cascading", seed=0))[:2]
    assert got["layers"]["cascading"] == [name for name, _ in copies]
    for k, (_, net) in enumerate(copies):
        net.eval()
        layer = dict(net.named_modules())[source["layer"]]
        ref = LayerGradCam(net, layer).attribute(x, target=torch.as_tensor(targets), relu_attributions=True)
        np.testing.assert_allclose(
            got["modes"]["cascading"][k, 0], _up(ref[:, 0].detach(), (32, 32)).numpy(), rtol=1e-4, atol=1e-6
        )
    rows = similarity_rows(out, ["spearman_abs"])
    r = rows[(rows["mode"] == "cascading") & (rows["step"] == 1) & (rows["set"] == "guided_backprop")]
    for i, value in enumerate(r["value"]):
        a, b = np.abs(got["original"][1, i]).ravel(), np.abs(got["modes"]["cascading"][0, 1, i]).ravel()
        assert value == pytest.approx(stats.spearmanr(a, b).statistic)
    data = rows[(rows["mode"] == "data") & (rows["set"] == "gradcam")]
    assert data["layer"].eq("same").all() and np.allclose(data["value"].dropna(), 1.0)


def test_deletion_rows_are_the_librarys_curves_of_the_shards_maps(source, tmp_path):  # noqa: F811
    from cameval import metrics
    from cameval.experiments.deletion.compute import DeletionJob, deletion_rows
    from cameval.store import Shard

    sets = {"gradcam": shard(source, "gc1", "gradcam", "top1")}
    df = deletion_rows(
        source["weights"], source["images"], source["manifest"], {"gradcam": [sets["gradcam"]]},
        {"gradcam": GRADCAM_SPEC}, tmp_path / "rows.csv", tmp_path / "curves.h5",
        DeletionJob("test", N, step=64, percentages=(25, 75), seed=0),
    )  # fmt: skip
    with Shard(sets["gradcam"]) as s:
        cam, targets = np.asarray(s.maps[:N])[:, 0], torch.as_tensor(np.asarray(s.targets)[:N, 0])
    model = source["model"].eval()
    maps = _up(cam, (32, 32))
    expected = metrics.curve_auc(metrics.deletion_curves(model, source["x"], maps, targets, step=64))
    got = df[df["set"] == "gradcam"]
    np.testing.assert_allclose(got["deletion_auc"], expected, rtol=1e-5)
    labels = torch.as_tensor(source["test"]["label"].to_numpy(copy=True)[:N])
    pixels = torch.as_tensor(source["pixels"], dtype=torch.float32).permute(0, 3, 1, 2) / 255
    morf = metrics.road(
        model, pixels, maps, labels, list(source["mean"]), list(source["std"]), percentages=(25, 75), seed=0
    )
    np.testing.assert_array_equal(got[["morf_p25", "morf_p75"]].to_numpy().T, morf)
    assert set(df["set"]) == {"gradcam", "random"} and len(df) == 2 * N


def twin_run(folder, out: dict, **train):
    """The run of a ``small_vgg`` of 10 classes on the set ``folder/i.h5`` + ``m.csv``, as a model's config
    entry with ``train`` gives it (:meth:`cameval.models.train.TrainRun.from_config`)."""
    from cameval.models.train import TrainRun

    return TrainRun.from_config(
        {"arch": "small_vgg", "num_classes": 10, "train": train},
        images=str(folder / "i.h5"),
        manifest=str(folder / "m.csv"),
        weights=out["safetensors"],
        metrics=out["json"],
        curve=out["csv"],
    )


def test_a_shuffled_label_twin_reports_its_accuracy_on_the_labels_it_was_trained_on(tmp_path):
    from cameval.data.digits import DigitsLocSpec, make_digits_loc
    from cameval.models import load_model
    from cameval.models.train import split_tensors, train

    torch.set_num_threads(1)
    make_digits_loc(
        tmp_path / "i.h5",
        tmp_path / "m.csv",
        DigitsLocSpec(size=32, counts={"train": 40, "val": 8, "test": 8}, clutter=1, seed=0),
    )
    out = {k: str(tmp_path / f"twin.{k}") for k in ("safetensors", "json", "csv")}
    result = train(twin_run(tmp_path, out, epochs=2, lr=0.01, batch_size=8, seed=5, shuffle_labels=True))
    x, y = split_tensors(str(tmp_path / "i.h5"), str(tmp_path / "m.csv"), "train")
    shuffled = shuffled_labels(y, 5)
    with torch.no_grad():
        predicted = load_model(out["safetensors"])(x).argmax(1)
    assert result["shuffle_labels"] is True and result["n_val"] == len(y)  # selected on the shuffled labels
    assert result["train_acc"] == pytest.approx((predicted == shuffled).float().mean().item())
    assert result["chance"] == pytest.approx(torch.bincount(y).max().item() / len(y))


def test_sanity_and_deletion_refuse_a_shard_made_by_another_spec(source, tmp_path):  # noqa: F811
    """The shards they read are checked against what the config says made them (cameval.store.Expect):
    a shard of another method under a set's name stops the job naming the file."""
    from cameval.errors import DataError
    from cameval.experiments.deletion.compute import DeletionJob, deletion_rows
    from cameval.experiments.sanity.compute import SanitySpec, sanity_maps

    foreign = {"gradcam": [shard(source, "gb1", "guided_backprop", "top1")]}
    with pytest.raises(DataError, match=r"gb1\.h5: made by another spec \(method: 'guided_backprop'"):
        deletion_rows(
            source["weights"], source["images"], source["manifest"], foreign, {"gradcam": GRADCAM_SPEC},
            tmp_path / "rows.csv", tmp_path / "curves.h5", DeletionJob("test", N),
        )  # fmt: skip
    with pytest.raises(DataError, match=r"gb1\.h5: made by another spec"):
        sanity_maps(
            source["weights"], source["images"], source["manifest"], foreign, {"gradcam": GRADCAM_SPEC},
            tmp_path / "sanity.h5", SanitySpec("test", N, layers=1),
        )  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_a_twin_on_a_subset_memorizes_its_shuffled_labels(tmp_path):
    """train.subset: the twin of the data randomization test fits the labels shuffled among a seeded
    subset of the train split (Adebayo et al. train it until it does); the subset is the contract's
    seeded draw, and its accuracy is the saved model's on exactly those images and labels."""
    from cameval.data.digits import DigitsLocSpec, make_digits_loc
    from cameval.models import load_model
    from cameval.models.train import split_tensors, train

    torch.set_num_threads(1)
    make_digits_loc(
        tmp_path / "i.h5",
        tmp_path / "m.csv",
        DigitsLocSpec(size=32, counts={"train": 60, "val": 8, "test": 8}, clutter=1, seed=0),
    )
    out = {k: str(tmp_path / f"twin.{k}") for k in ("safetensors", "json", "csv")}
    result = train(twin_run(tmp_path, out, epochs=20, lr=0.005, batch_size=8, seed=5, shuffle_labels=True, subset=32))
    x, y = split_tensors(str(tmp_path / "i.h5"), str(tmp_path / "m.csv"), "train")
    idx = torch.randperm(60, generator=torch.Generator().manual_seed(5))[:32].sort().values
    x, shuffled = x[idx], shuffled_labels(y[idx], 5)  # permuted among the subset's images only
    with torch.no_grad():
        predicted = load_model(out["safetensors"])(x).argmax(1)
    accuracy = (predicted == shuffled).float().mean().item()
    assert result["n_train"] == result["n_val"] == 32
    assert result["train_acc"] == pytest.approx(accuracy) and accuracy >= 0.9
    assert result["chance"] == pytest.approx(torch.bincount(shuffled).max().item() / 32)
    for bad in (0, 61):
        with pytest.raises(ConfigError, match=f"subset: {bad} images of a train split of 60"):
            train(twin_run(tmp_path, out, epochs=1, lr=0.01, batch_size=8, subset=bad))


def test_a_subset_above_the_train_split_stops_the_parse_naming_the_key():
    from cameval.config import check_config

    config = {
        "datasets": {"d": {"kind": "digits", "counts": {"train": 50, "val": 5, "test": 5}}},
        "models": {"twin": {"arch": "small_vgg", "dataset": "d", "train": {"subset": 51}}},
        "heatmaps": {},
    }
    with pytest.raises(ConfigError, match=r"models\.twin\.train\.subset: 51 is above the 50 images of datasets\.d"):
        check_config(config)
    config["models"]["twin"]["train"]["subset"] = 50
    check_config(config)
