"""Methods of pytorch-grad-cam and captum by name: our maps are the library's, called directly.

The expected maps come from the libraries themselves, called as their READMEs show, on
torchvision's VGG-16 and ResNet-18 with seeded random weights; ours go through
``explain(model, x, target, method="pytorch_grad_cam:<Class>" | "captum:<Class>")``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import pytorch_grad_cam
import torch
import torch.nn.functional as F
import torchvision
from captum import attr as captum_attr
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from cameval import methods
from cameval.errors import ConfigError
from cameval.explain import check_params, explain, explain_targets, get_layer
from cameval.explain.libraries import captum_methods, pytorch_grad_cam_methods

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # captum: "Input Tensor 0 did not already require ..."
    pytest.mark.usefixtures("one_thread"),  # tests/conftest.py: small tensors
]

CAMS = ["ScoreCAM", "LayerCAM", "XGradCAM", "HiResCAM", "EigenCAM"]
PIXELS = ["Saliency", "DeepLift"]
#: Score-CAM runs the model once per channel of its layer: a layer of 128 channels keeps it quick
SCORE_CAM_LAYER = {"vgg16": "features.8", "resnet18": "layer2"}
#: the layers' grids on 64 x 64 inputs
GRID = {("vgg16", "features.29"): (4, 4), ("vgg16", "features.8"): (32, 32), ("resnet18", "layer4"): (2, 2)}
GRID[("resnet18", "layer2")] = (8, 8)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {
        "vgg16": (torchvision.models.vgg16(num_classes=10).eval(), "features.29"),
        "resnet18": (torchvision.models.resnet18(num_classes=10).eval(), "layer4"),
    }


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def top1(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


def library_cam(cls, model, layer, x, target, batch_size=None):
    """pytorch-grad-cam as its README calls it."""
    with getattr(pytorch_grad_cam, cls)(model=model, target_layers=[get_layer(model, layer)]) as cam:
        if batch_size:
            cam.batch_size = batch_size
        return torch.from_numpy(cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in target]))


def library_scaling(maps, size=(64, 64)):
    """What pytorch-grad-cam does to its per-layer map before returning it: ``scale_cam_image`` to
    the input's size (compute_cam_per_layer), then once more over the one layer (aggregate_multi_layers)."""
    return torch.from_numpy(scale_cam_image(scale_cam_image(maps.numpy(), size)))


@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
@pytest.mark.parametrize("cls", CAMS)
def test_pytorch_grad_cam_maps_are_the_librarys_before_its_scaling(models, x, name, cls):
    model, layer = models[name]
    params = {}
    if cls == "ScoreCAM":
        layer, params = SCORE_CAM_LAYER[name], {"batch_size": 64}
    xs = x[:1] if cls == "ScoreCAM" else x
    target = top1(model, xs)
    ours = explain(model, xs, target, method=f"pytorch_grad_cam:{cls}", layer=layer, **params)
    expected = library_cam(cls, model, layer, xs, target, params.get("batch_size"))
    assert ours.shape == (len(xs), *GRID[(name, layer)])  # the layer's grid, as our CAMs
    assert expected.amax(dim=(1, 2)).min() > 0, "an all-zero reference map would prove nothing"
    assert ours.amin() >= 0  # the library's ReLU
    torch.testing.assert_close(library_scaling(ours), expected, rtol=0, atol=1e-6)
    # upsampled as ours are
    big = explain(model, xs, target, method=f"pytorch_grad_cam:{cls}", layer=layer, size=64, **params)
    torch.testing.assert_close(big, F.interpolate(ours[:, None], size=64, mode="bilinear", align_corners=False)[:, 0])


@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
def test_pytorch_grad_cam_grad_cam_before_its_scaling_is_our_grad_cam(models, x, name):
    model, layer = models[name]
    target = top1(model, x)
    theirs = explain(model, x, target, method="pytorch_grad_cam:GradCAM", layer=layer)
    ours = explain(model, x, target, method="gradcam", layer=layer)
    assert ours.amax() > 0
    # the unnormalized strength is kept: the two images' peaks differ as Grad-CAM's do
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-6 * float(ours.amax()))


def test_full_grad_and_augmentation_smoothing_give_the_maps_the_library_returns(models, x):
    model, layer = models["resnet18"]
    target = top1(model, x[:1])
    ours = explain(model, x[:1], target, method="pytorch_grad_cam:FullGrad", layer=layer)
    torch.testing.assert_close(ours, library_cam("FullGrad", model, layer, x[:1], target), rtol=0, atol=1e-6)
    smooth = explain(model, x[:1], target, method="pytorch_grad_cam:LayerCAM", layer=layer, aug_smooth=True)
    with pytorch_grad_cam.LayerCAM(model=model, target_layers=[get_layer(model, layer)]) as cam:
        wanted = [ClassifierOutputTarget(int(t)) for t in target]
        expected = torch.from_numpy(cam(input_tensor=x[:1], targets=wanted, aug_smooth=True))
    assert smooth.shape == (1, 64, 64)
    torch.testing.assert_close(smooth, expected, rtol=0, atol=1e-6)


def test_pytorch_grad_cam_default_layer_is_the_models(models, x):
    model, layer = models["resnet18"]
    target = top1(model, x)
    ours = explain(model, x, target, method="pytorch_grad_cam:LayerCAM")  # layer4, found from the architecture
    torch.testing.assert_close(
        library_scaling(ours), library_cam("LayerCAM", model, layer, x, target), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
@pytest.mark.parametrize("cls", PIXELS)
def test_captum_maps_are_the_librarys(models, x, name, cls):
    model, _ = models[name]
    target = top1(model, x)
    if cls == "DeepLift" and name == "resnet18":
        # captum refuses a ReLU module used twice (torchvision's BasicBlock does): so do we, with its error
        with pytest.raises(RuntimeError, match="used more than once"):
            captum_attr.DeepLift(copy.deepcopy(model)).attribute(x.clone(), target=target)
        with pytest.raises(RuntimeError, match="used more than once"):
            explain(model, x, target, method="captum:DeepLift")
        return
    ours = explain(model, x, target, method=f"captum:{cls}")
    expected = getattr(captum_attr, cls)(model).attribute(x.clone(), target=target)
    assert ours.shape == x.shape
    assert expected.abs().max() > 0
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)


def test_captum_params_go_to_the_constructor_and_the_call(models, x):
    model, _ = models["vgg16"]
    target = top1(model, x)
    ours = explain(model, x, target, method="captum:DeepLift", multiply_by_inputs=False, baselines=0.5)
    expected = captum_attr.DeepLift(model, multiply_by_inputs=False).attribute(x.clone(), baselines=0.5, target=target)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    ours = explain(model, x, target, method="captum:Saliency", abs=False)
    torch.testing.assert_close(ours, captum_attr.Saliency(model).attribute(x.clone(), target=target, abs=False))


def test_several_targets_give_one_library_map_each(models, x):
    model, layer = models["resnet18"]
    with torch.no_grad():
        targets = model(x).topk(2, dim=1).indices
    maps, logits = explain_targets(model, x, targets, "pytorch_grad_cam:XGradCAM")
    assert maps.shape == (2, 2, 2, 2)  # layer4's grid on 64 x 64 inputs
    for k in range(2):
        torch.testing.assert_close(
            library_scaling(maps[:, k]), library_cam("XGradCAM", model, layer, x, targets[:, k]), rtol=0, atol=1e-6
        )
    torch.testing.assert_close(logits, model(x).detach())


# ----------------------------------------------------------------------------------------------
# the model is left exactly as it was


def snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "training": {n: m.training for n, m in model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "grad": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "attributes": {n: sorted(vars(m)) for n, m in model.named_modules()},
        "hooks": {
            n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for n, m in model.named_modules()
        },
    }


def assert_same(before: dict, after: dict) -> None:
    assert before["training"] == after["training"]
    assert before["requires_grad"] == after["requires_grad"]
    assert before["attributes"] == after["attributes"]
    assert before["hooks"] == after["hooks"]
    for k, v in before["state"].items():
        assert torch.equal(after["state"][k], v), k
    for k, g in before["grad"].items():
        assert (g is None) == (after["grad"][k] is None) and (g is None or torch.equal(g, after["grad"][k])), k


@pytest.mark.parametrize(
    "method",
    ["pytorch_grad_cam:LayerCAM", "pytorch_grad_cam:ScoreCAM", "captum:Saliency", "captum:DeepLift"],
)
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_library_methods_leave_the_model_as_it_was(method, mode):
    torch.manual_seed(2)
    model = torchvision.models.resnet18(num_classes=4)
    model.train(mode == "train")
    model.layer1[0].conv1.weight.requires_grad_(False)  # a frozen layer stays frozen
    model.fc.weight.grad = torch.ones_like(model.fc.weight)  # an accumulated gradient stays as it was
    model.layer3.register_forward_hook(lambda m, i, o: None)  # the user's own hook stays
    x = torch.randn(2, 3, 32, 32)
    before = snapshot(model)
    params = {"batch_size": 64} if method.endswith("ScoreCAM") else {}
    try:
        explain(model, x, 1, method, layer="layer3" if "grad_cam" in method else None, **params)
    except RuntimeError as err:  # DeepLift on ResNet: captum's refusal (see above)
        assert "used more than once" in str(err)
    assert_same(before, snapshot(model))


# ----------------------------------------------------------------------------------------------
# names, kinds, labels, and params checked at parse time


def test_every_exported_cam_and_attribution_method_is_named():
    assert {"ScoreCAM", "LayerCAM", "XGradCAM", "HiResCAM", "EigenCAM", "GradCAMPlusPlus"} <= set(
        pytorch_grad_cam_methods()
    )
    assert "GuidedBackpropReLUModel" not in pytorch_grad_cam_methods()  # not a CAM
    assert {"Saliency", "DeepLift", "IntegratedGradients", "LayerGradCam", "Occlusion"} <= set(captum_methods())
    assert not {"LayerConductance", "NeuronGradient", "NoiseTunnel", "Attribution"} & set(captum_methods())


def test_library_methods_declare_their_kind_and_label():
    assert methods.kind("pytorch_grad_cam:ScoreCAM") == "cam"
    assert methods.kind("captum:Saliency") == "pixel"
    assert methods.kind("captum:LayerGradCam") == "cam"
    assert [methods.label(f"pytorch_grad_cam:{c}") for c in CAMS] == [
        "Score-CAM",
        "Layer-CAM",
        "XGrad-CAM",
        "HiResCAM",
        "Eigen-CAM",
    ]
    assert methods.label("captum:Saliency") == "Saliency"
    assert methods.label("captum:DeepLift") == "DeepLIFT"
    assert methods.label("pytorch_grad_cam:GradCAM") == "Grad-CAM (pytorch-grad-cam)"  # not our Grad-CAM's
    assert methods.label("mypackage.cams:my_cam") == "my_cam"
    with pytest.raises(ConfigError, match="expected cam or pixel"):
        methods.kind("mypackage.cams:my_cam")
    assert methods.kind("mypackage.cams:my_cam", "pixel") == "pixel"


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("pytorch_grad_cam:ScoreCAM", {"batch_size": 0}, r"h\.params\.batch_size: expected an integer >= 1"),
        ("pytorch_grad_cam:ScoreCAM", {"batch_size": "8"}, r"h\.params\.batch_size: expected an integer"),
        ("pytorch_grad_cam:LayerCAM", {"eigen_smooth": "yes"}, r"h\.params\.eigen_smooth: expected true or false"),
        ("pytorch_grad_cam:LayerCAM", {"steps": 3}, r"h\.params: pytorch_grad_cam:LayerCAM takes no parameter 'steps'"),
        ("captum:DeepLift", {"eps": "small"}, r"h\.params\.eps: expected a number"),
        ("captum:Saliency", {"abs": 1}, r"h\.params\.abs: expected true or false"),
        ("captum:Saliency", {"n_steps": 3}, r"takes no parameter 'n_steps' \(expected some of"),
        ("captum:NoSuchMethod", {}, r"captum has no such method \(expected one of .*Saliency"),
        ("pytorch_grad_cam:GuidedBackpropReLUModel", {}, r"pytorch_grad_cam has no such method"),
    ],
)
def test_library_params_are_checked_against_their_signatures(method, params, message):
    with pytest.raises(ConfigError, match=message):
        check_params(method, params, key="h.params")


def test_good_library_params_pass():
    check_params("pytorch_grad_cam:ScoreCAM", {"batch_size": 32}, key="h.params")
    check_params("pytorch_grad_cam:LayerCAM", {"aug_smooth": False, "eigen_smooth": True}, key="h.params")
    check_params("captum:DeepLift", {"multiply_by_inputs": False, "eps": 1e-9}, key="h.params")
    check_params("captum:Saliency", {"abs": True}, key="h.params")


# ----------------------------------------------------------------------------------------------
# your own method


def spatial_mean(model, x, target, scale: float = 1.0):
    """A toy pixel method: ``scale`` × |x| summed over channels, ``[N, 1, H, W]`` (one value per pixel)."""
    return scale * x.abs().sum(dim=1, keepdim=True) + 0 * target[:, None, None, None]


def test_own_function_is_called_per_target_with_its_params(models, x):
    model, _ = models["resnet18"]
    ours = explain(model, x, [[1, 2], [3, 4]], method=f"{__name__}:spatial_mean", scale=2.0)
    assert ours.shape == (2, 2, 1, 64, 64)
    np.testing.assert_allclose(ours[:, 0].numpy(), spatial_mean(model, x, torch.tensor([1, 3]), 2.0).numpy())
    with pytest.raises(ConfigError, match=r"h\.params\.scale: expected a number"):
        check_params(f"{__name__}:spatial_mean", {"scale": "big"}, key="h.params")
    with pytest.raises(ConfigError, match="has no function 'nope'"):
        check_params(f"{__name__}:nope", {}, key="h.params")
