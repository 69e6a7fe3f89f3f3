"""Model registry: builds, safetensors round trip, safe checkpoint loading, clear errors."""

import pytest
import torch

from cameval.errors import ConfigError, DataError
from cameval.explain import default_layer, explain, get_layer
from cameval.models import (
    build_model,
    import_weights,
    load_model,
    load_weights,
    model_digest,
    model_metadata,
    read_state_dict,
    save_model,
    train_classifier,
)
from cameval.models.registry import arch_default_layer
from cameval.models.small import SmallResNet


@pytest.mark.parametrize("arch", ["small_vgg", "small_alexnet", "small_googlenet", "small_densenet"])
def test_small_networks_give_an_8x8_gradcam_grid_on_64px(arch):
    model = build_model(arch, num_classes=10)
    maps = explain(model, torch.randn(2, 3, 64, 64), 3)
    assert maps.shape == (2, 8, 8)


def test_torchvision_default_layers():
    assert default_layer(build_model("vgg16")) == "features.29"
    assert default_layer(build_model("vgg16_bn")) == "features.42"
    assert default_layer(build_model("alexnet")) == "features.11"
    assert default_layer(build_model("googlenet")) == "inception5b"


# the last spatial feature map of the trunk, found from the architecture; transformers have none
ZOO_LAYERS = {
    "resnet18": "layer4",
    "resnext50_32x4d": "layer4",
    "wide_resnet50_2": "layer4",
    "convnext_tiny": "features.7",
    "efficientnet_b0": "features.8",
    "mobilenet_v2": "features.18",
    "mobilenet_v3_small": "features.12",
    "densenet121": "features",
    "squeezenet1_1": "features.12",
    "shufflenet_v2_x0_5": "conv5",
    "mnasnet0_5": "layers",
    "inception_v3": "Mixed_7c",
    "regnet_y_400mf": "trunk_output",
    "vgg19_bn": "features.51",
}


@pytest.mark.parametrize("arch, layer", ZOO_LAYERS.items())
def test_any_torchvision_architecture_by_name_gets_its_trunks_last_feature_map(arch, layer):
    assert arch_default_layer(arch, {"num_classes": 10}) == layer


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small", "convnext_tiny", "efficientnet_b0"])
def test_the_default_layer_is_a_spatial_map_gradcam_explains(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=5)
    a = {}
    handle = get_layer(model, default_layer(model)).register_forward_hook(lambda m, i, o: a.setdefault("a", o))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 64))
    handle.remove()
    assert logits.shape == (1, 5)
    assert a["a"].ndim == 4 and a["a"].shape[-1] >= 2  # [N, C, h, w], channels first, h and w > 1 at 64 px
    assert explain(model, torch.randn(1, 3, 64, 64), 2).shape == (1,) + tuple(a["a"].shape[-2:])


@pytest.mark.parametrize("arch", ["vit_b_16", "swin_t", "maxvit_t"])
def test_a_transformer_has_no_default_layer_and_asks_for_one(arch):
    with pytest.raises(ConfigError, match=r"no convolutional feature map.*\(layer: a dotted module name\)"):
        arch_default_layer(arch)


def test_own_builder_by_module_and_function_with_keyword_arguments(tmp_path):
    model = build_model("cameval.models.small:small_resnet", num_classes=7, width=8)
    assert isinstance(model, SmallResNet) and model.fc.out_features == 7 and model.conv1.out_channels == 8
    assert default_layer(model) == "layer3"  # the last layerN, found from the structure
    assert explain(model, torch.randn(2, 3, 64, 64), 1).shape == (2, 8, 8)
    save_model(
        model, tmp_path / "r.safetensors", "cameval.models.small:small_resnet", build={"num_classes": 7, "width": 8}
    )
    again = load_model(tmp_path / "r.safetensors")
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(again(x), model(x))
    with pytest.raises(ConfigError, match="cannot import module 'nopackage.nets'"):
        build_model("nopackage.nets:net")
    with pytest.raises(ConfigError, match="module 'cameval.models.small' has no 'nonet'"):
        build_model("cameval.models.small:nonet")


def test_torchvision_architecture_takes_a_state_dict(tmp_path):
    model = build_model("mobilenet_v3_small", num_classes=4)
    torch.save(model.state_dict(), tmp_path / "m.pth")
    import_weights("mobilenet_v3_small", str(tmp_path / "m.pth"), tmp_path / "m.safetensors", num_classes=4)
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(load_model(tmp_path / "m.safetensors")(x), model(x))


def test_safetensors_round_trip_rebuilds_the_architecture(tmp_path):
    torch.manual_seed(0)
    model = build_model("small_googlenet", num_classes=7)
    path = tmp_path / "m.safetensors"
    save_model(model, path, "small_googlenet", build={"num_classes": 7}, info={"test_acc": 0.5})
    again = load_model(path)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(again(x), model(x))
    assert model_metadata(path)["info"]["test_acc"] == 0.5
    assert len(model_digest(path)) == 64


def test_state_dict_checkpoint_loads_without_pickled_code(tmp_path):
    model = build_model("small_vgg", num_classes=10)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "ck.pth.tar")
    other = load_weights(build_model("small_vgg", num_classes=10), str(tmp_path / "ck.pth.tar"))
    for k, v in model.state_dict().items():
        torch.testing.assert_close(other.state_dict()[k], v)


def test_pickled_object_checkpoint_is_refused(tmp_path):
    torch.save({"model": build_model("small_vgg")}, tmp_path / "evil.pt")  # a whole pickled module
    with pytest.raises(DataError, match="weights_only=True"):
        read_state_dict(tmp_path / "evil.pt")


def test_mismatched_weights_name_the_missing_keys(tmp_path):
    save_model(build_model("small_vgg"), tmp_path / "vgg.safetensors", "small_vgg")
    with pytest.raises(DataError, match="does not fit SmallAlexNet"):
        load_weights(build_model("small_alexnet"), str(tmp_path / "vgg.safetensors"))


def test_missing_file_and_unknown_arch_are_named(tmp_path):
    with pytest.raises(DataError, match="no file .*missing.safetensors"):
        read_state_dict(tmp_path / "missing.safetensors")
    with pytest.raises(ConfigError, match="'resnet9' is not one of .*a torchvision architecture"):
        build_model("resnet9")
    with pytest.raises(ConfigError, match="not a torchvision weights enum"):
        import_weights("vgg16", "torchvision:NoSuch_Weights.X", tmp_path / "x.safetensors")


def test_offline_torchvision_weights_error_names_file_and_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(
        torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable"))
    )
    with pytest.raises(DataError, match=r"alexnet-owt-7be5be79.pth.*TORCH_HOME"):
        import_weights("alexnet", "torchvision:AlexNet_Weights.IMAGENET1K_V1", tmp_path / "a.safetensors")
    assert not (tmp_path / "a.safetensors").exists()


def test_torchvision_checkpoint_in_cache_is_converted(tmp_path, monkeypatch):
    """A googlenet checkpoint laid out as torchvision's (aux heads included) becomes a cameval file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    source = torch.hub.load_state_dict_from_url  # noqa: F841 (documented: torchvision reads the cache)
    import torchvision

    ref = torchvision.models.googlenet(aux_logits=True, init_weights=True, transform_input=True).eval()
    ckpt = tmp_path / "torch" / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), ckpt)
    out = tmp_path / "g.safetensors"
    import_weights("googlenet", "torchvision:GoogLeNet_Weights.IMAGENET1K_V1", out)
    model = load_model(out)
    assert model.transform_input and model.aux1 is None
    x = torch.randn(1, 3, 96, 96)
    ref.aux_logits = False
    torch.testing.assert_close(model(x), ref(x))


def test_training_keeps_the_best_validation_epoch():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 16, 16)
    y = (x[:, 0].mean(dim=(1, 2)) > 0).long()
    model, curve = train_classifier(
        build_model("small_googlenet", num_classes=2), (x, y), (x, y), epochs=3, lr=3e-3, batch_size=16, progress=False
    )
    assert [r["epoch"] for r in curve] == [1, 2, 3]
    from cameval.models import evaluate

    assert evaluate(model, x, y)["acc"] == pytest.approx(max(r["val_acc"] for r in curve))


def test_a_train_run_is_built_from_a_models_config_entry_and_names_what_is_wrong():
    from cameval.models.train import FitOptions, TrainRun

    files = dict(images="i.h5", manifest="m.csv", weights="w.safetensors", metrics="w.json", curve="w.csv")
    spec = {"arch": "small_vgg", "num_classes": 10, "dataset": "d", "layer": None, "build": {"width": 8}}
    spec["train"] = {"epochs": 2, "lr": 0.01, "batch_size": 8, "threads": 3, "subset": 32}
    run = TrainRun.from_config(spec, **files, seed=7, name="twin")
    assert run.fit == FitOptions(epochs=2, lr=0.01, batch_size=8, weight_decay=1e-4, seed=7)  # the config's seed
    assert (run.subset, run.shuffle_labels, run.build, run.weights) == (32, False, {"width": 8}, "w.safetensors")
    spec["train"]["seed"] = 3
    assert TrainRun.from_config(spec, **files, seed=7).fit.seed == 3  # the model's own seed first
    with pytest.raises(ConfigError, match=r"models\.twin: train keys \['momentum'\] unknown, keys \['lr'\] missing"):
        TrainRun.from_config({**spec, "train": {"epochs": 1, "batch_size": 8, "momentum": 0.9}}, **files, name="twin")


def test_train_dispatches_on_the_manifest_multi_label_sets_on_bce_and_auroc(tmp_path):
    """One entry point: a manifest with a ``labels`` column trains sigmoid outputs on binary
    cross-entropy and reports the test mean AUROC; a shuffled-label twin of such a set is refused."""
    import json

    from cameval.data.digits_multi import DigitsMultiSpec, make_digits_multi
    from cameval.models.train import TrainRun, train

    torch.set_num_threads(1)
    make_digits_multi(
        tmp_path / "i.h5", tmp_path / "m.csv", DigitsMultiSpec(size=32, counts={"train": 12, "val": 6, "test": 6})
    )
    names = {"images": "i.h5", "manifest": "m.csv", "weights": "w.safetensors", "metrics": "w.json", "curve": "w.csv"}
    files = {k: str(tmp_path / n) for k, n in names.items()}
    spec = {"arch": "small_densenet", "num_classes": 10, "train": {"epochs": 1, "lr": 0.003, "batch_size": 8}}
    result = train(TrainRun.from_config(spec, **files))
    assert result["loss"] == "bce" and 0 <= result["test_auroc"] <= 1 and "test_acc" not in result
    assert json.loads((tmp_path / "w.json").read_text()) == result
    assert load_model(files["weights"])(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    spec["train"]["shuffle_labels"] = True
    with pytest.raises(DataError, match=r"m\.csv: shuffle_labels on a multi-label set"):
        train(TrainRun.from_config(spec, **files))


def test_small_googlenet_blocks_compute_torchvisions_inception():
    """The inception block and its functional-ReLU conv are written here (torchvision's import costs
    every job ~3 s); on torchvision's parameters they give torchvision's outputs."""
    from torchvision.models.googlenet import Inception as TvInception

    from cameval.models.small import Inception

    torch.manual_seed(0)
    theirs = TvInception(32, 16, 16, 24, 4, 8, 8)
    for m in theirs.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ours = Inception(32, 16, 16, 24, 4, 8, 8)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 32, 9, 9)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=0, atol=0)
    assert not any(isinstance(m, torch.nn.ReLU) for m in ours.modules())  # functional, as torchvision's


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode", "size"),
    [
        (2, 2, 0, False, 16),
        (2, 2, 0, False, 9),
        (2, 2, 0, True, 9),
        (3, 1, 1, True, 8),
        (3, 1, 1, False, 7),
        (3, 2, 1, True, 9),
    ],
)
def test_shift_max_pool_gives_pytorchs_values_bit_for_bit(kernel, stride, padding, ceil_mode, size):
    """The small GoogLeNet's pools against nn.MaxPool2d: post-ReLU values (ties at 0), NaN (a NaN
    either way, its sign bit aside) and -inf, odd sizes and geometries it hands back to PyTorch;
    with autograd, PyTorch's gradients."""
    from cameval.models.small import ShiftMaxPool2d

    torch.manual_seed(0)
    x = torch.relu(torch.randn(3, 5, size, size))
    x[0, 0, 1, 1], x[1, 2, 0, 3], x[2, 4] = float("nan"), float("-inf"), float("-inf")
    ours, ref = (
        ShiftMaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode),
        torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode),
    )
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape and a.is_contiguous()
    assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)) and torch.equal(a.isnan(), b.isnan())
    assert torch.equal(a.signbit() & ~a.isnan(), b.signbit() & ~b.isnan())  # a NaN's sign may differ
    g = torch.relu(torch.randn(2, 5, size, size)).requires_grad_()
    ga = torch.autograd.grad(ours(g).square().sum(), g)[0]
    gb = torch.autograd.grad(ref(g).square().sum(), g)[0]
    assert torch.equal(ga, gb)


def test_small_googlenet_logits_with_and_without_the_shift_pools_are_equal():
    from cameval.models.small import ShiftMaxPool2d, SmallGoogLeNet

    torch.manual_seed(0)
    model = SmallGoogLeNet(num_classes=10).eval()
    x = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        ours = model(x)
        pools = [n for n, m in model.named_modules() if isinstance(m, ShiftMaxPool2d)]
        assert len(pools) == 7
        for name in pools:
            parent, _, leaf = name.rpartition(".")
            old = model.get_submodule(name)
            plain = torch.nn.MaxPool2d(old.kernel_size, old.stride, old.padding, ceil_mode=old.ceil_mode)
            setattr(model.get_submodule(parent) if parent else model, leaf, plain)
        assert not any(isinstance(m, ShiftMaxPool2d) for m in model.modules())
        assert torch.equal(ours, model(x))
