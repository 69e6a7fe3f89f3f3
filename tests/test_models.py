"""Model registry: builds, safetensors round trip, safe checkpoint loading, clear errors."""

import pytest
import torch

from cameval.errors import ConfigError, DataError
from cameval.explain import default_layer, explain
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
    with pytest.raises(ConfigError, match="'resnet9' is not one of"):
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
    full = torch.nn.Module()
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
