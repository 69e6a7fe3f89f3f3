"""Explainers against references nobody here wrote.

Every expected number comes from elsewhere: captum, pytorch-grad-cam, a hand calculation, or a
brute-force loop written out below. Models are torchvision architectures with seeded random
weights in eval mode and small inputs (batch 2), so the file runs in well under a minute on CPU.
"""

from __future__ import annotations

import copy
import inspect
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import (
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
)
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn
from torchvision.models.googlenet import BasicConv2d

from cameval.errors import ConfigError
from cameval.explain import METHODS, default_layer, explain, get_layer, guided_relus
from helpers import loud, pgc_unnormalized

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # captum: "Setting backward hooks on ReLU ..."
    pytest.mark.usefixtures("one_thread"),  # tests/conftest.py: small tensors
]


# ----------------------------------------------------------------------------------------------
# helpers


def assert_maps_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-4) -> None:
    """Close relative to the map's scale; the reference must not be degenerate (all equal)."""
    actual, expected = actual.detach(), expected.detach().to(actual.dtype)
    assert actual.shape == expected.shape
    assert expected.max() > expected.min(), "degenerate reference map: the comparison would prove nothing"
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * scale)


def top2(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The two highest-scoring classes per image, ``[N, 2]`` (positive CAMs are likely there)."""
    with torch.no_grad():
        return model(x).topk(2, dim=1).indices


def plain_input_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return g


def googlenet_with_relu_modules(model: nn.Module) -> nn.Module:
    """A copy of torchvision's GoogLeNet whose BasicConv2d blocks use an ``nn.ReLU`` module
    instead of ``F.relu``, so that hook-based guided backprop (captum) can see them."""
    twin = copy.deepcopy(model)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))

    n = 0
    for module in twin.modules():
        if isinstance(module, BasicConv2d):
            module.relu = nn.ReLU(inplace=True)
            module.forward = types.MethodType(forward, module)
            n += 1
    assert n == 57  # every conv of torchvision's GoogLeNet (aux heads off)
    return twin


def densenet_with_relu_module(model: nn.Module) -> nn.Module:
    """A copy of torchvision's DenseNet whose final ``F.relu`` (in ``DenseNet.forward``) is a module."""
    twin = copy.deepcopy(model)
    twin.final_relu = nn.ReLU(inplace=True)

    def forward(self, x):  # torchvision's DenseNet.forward with the ReLU as a module
        out = self.final_relu(self.features(x))
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))

    twin.forward = types.MethodType(forward, twin)
    return twin


# ----------------------------------------------------------------------------------------------
# models (seeded random weights, eval mode); scaled heads, see `loud`


@pytest.fixture(scope="module")
def vgg16():
    torch.manual_seed(0)
    model = torchvision.models.vgg16().eval()
    loud(model.classifier[6], 1000.0)
    return model


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(1)
    model = torchvision.models.alexnet().eval()
    loud(model.classifier[6], 3000.0)
    return model


@pytest.fixture(scope="module")
def googlenet():
    torch.manual_seed(2)
    model = torchvision.models.googlenet(init_weights=True, aux_logits=False)
    # torchvision's init (truncated normal, std 0.01) lets activations vanish to ~1e-11 by
    # inception5b with untrained batch norm; Kaiming keeps them O(1).
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    loud(model.fc, 1000.0)
    return model.eval()


@pytest.fixture(scope="module")
def densenet121():
    torch.manual_seed(3)
    return torchvision.models.densenet121().eval()


# model fixture, layer, input side (the layer grids are 4x4, 5x5 and 3x3)
CAM_MODELS = [("vgg16", "features.29", 64), ("alexnet", "features.11", 96), ("googlenet", "inception5b", 96)]


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(10)
    return {side: torch.randn(2, 3, side, side, generator=g) for side in (64, 96)}


# ----------------------------------------------------------------------------------------------
# Grad-CAM and Grad-CAM++


@pytest.mark.parametrize("name,layer,side", CAM_MODELS)
def test_gradcam_matches_captum_layergradcam(request, inputs, name, layer, side):
    model, x = request.getfixturevalue(name), inputs[side]
    targets = top2(model, x)
    ours = explain(model, x, targets, "gradcam", layer=layer)
    assert ours.shape[:2] == (2, 2)
    ref = LayerGradCam(model, get_layer(model, layer))
    for k in range(2):
        expected = ref.attribute(x, targets[:, k], relu_attributions=True)[:, 0]
        assert_maps_close(ours[:, k], expected)


@pytest.mark.parametrize("method,cam_cls", [("gradcam", GradCAM), ("gradcampp", GradCAMPlusPlus)])
@pytest.mark.parametrize("name,layer,side", CAM_MODELS)
def test_cams_match_pytorch_grad_cam_before_its_normalization(request, inputs, name, layer, side, method, cam_cls):
    model, x = request.getfixturevalue(name), inputs[side]
    targets = top2(model, x)
    ours = explain(model, x, targets, method, layer=layer)
    for k in range(2):
        for i in range(2):
            expected = pgc_unnormalized(cam_cls, model, get_layer(model, layer), x[i : i + 1], int(targets[i, k]))
            assert_maps_close(ours[i : i + 1, k], expected, rtol=1e-4)


@pytest.mark.parametrize("method,cam_cls", [("gradcam", GradCAM), ("gradcampp", GradCAMPlusPlus)])
def test_cams_match_pytorch_grad_cam_after_the_same_normalization_and_resize(vgg16, inputs, method, cam_cls):
    x = inputs[64]
    target = int(top2(vgg16, x)[0, 0])
    ours = explain(vgg16, x[:1], target, method, size=64)[0]
    ours = (ours - ours.min()) / (ours.max() - ours.min())
    with cam_cls(vgg16, [get_layer(vgg16, "features.29")]) as cam:
        theirs = cam(x[:1], [ClassifierOutputTarget(target)])[0]
    vgg16.zero_grad(set_to_none=True)
    # pytorch-grad-cam resizes with OpenCV's bilinear (half-pixel centres, as align_corners=False)
    assert_maps_close(ours, torch.from_numpy(theirs), rtol=2e-3)


class TwoChannelCam(nn.Module):
    """A = the input ([1, 2, 2, 2]) via a named identity layer; S^c = <W[c], A>, so dS^c/dA = W[c]."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.act = nn.Identity()
        self.register_buffer("weight", weight)

    def forward(self, x):
        return self.act(x).flatten(1) @ self.weight.flatten(1).T


def test_gradcam_and_gradcampp_match_a_hand_calculation():
    a = torch.tensor([[[1.0, 0.0], [2.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])  # ΣA: 4 and 2
    g = torch.tensor([[[1.0, 0.5], [0.0, -1.0]], [[2.0, -1.0], [0.5, 0.0]]])
    model = TwoChannelCam(torch.stack([torch.zeros_like(g), g]))  # class 1 has gradient g
    x = a[None]
    # Grad-CAM: alpha = mean g = (1 + .5 + 0 - 1)/4 = 1/8 and (2 - 1 + .5 + 0)/4 = 3/8
    #   map = relu(A1/8 + 3 A2/8) = [[1/8, 3/8], [5/8, 1/8]]
    torch.testing.assert_close(explain(model, x, 1, "gradcam", layer="act")[0], torch.tensor([[1, 3], [5, 1]]) / 8)
    # Grad-CAM++: a_ij = g²/(2g² + ΣA g³), w = Σ a_ij relu(g)
    #   channel 1 (ΣA=4): g=1 -> 1/(2+4)·1 = 1/6; g=.5 -> .25/(.5+.5)·.5 = 1/8; g=0, g=-1 -> 0: w1 = 7/24
    #   channel 2 (ΣA=2): g=2 -> 4/(8+16)·2 = 1/3; g=.5 -> .25/(.5+.25)·.5 = 1/6; g=-1, 0 -> 0: w2 = 1/2
    #   map = relu(7/24 A1 + 1/2 A2) = [[7, 12], [26, 7]] / 24
    torch.testing.assert_close(explain(model, x, 1, "gradcampp", layer="act")[0], torch.tensor([[7, 12], [26, 7]]) / 24)
    # class 0 has zero gradient everywhere: both maps are zero (0/0 weights are 0, not nan)
    for method in ("gradcam", "gradcampp"):
        assert torch.equal(explain(model, x, 0, method, layer="act"), torch.zeros(1, 2, 2))


class TinyConvNet(nn.Module):
    """conv-BN-ReLU(in place)-conv-F.relu-[features]-linear, for fast exact comparisons."""

    cameval_default_layer = "features"

    def __init__(self, channels: int = 3, classes: int = 5, side: int = 12):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(6, 4, 3, padding=1, stride=2)
        self.features = nn.Identity()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * (side // 2) ** 2, classes)
        with torch.no_grad():  # batch-norm statistics that are not the identity
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        x = self.relu(self.bn(self.conv1(x)))
        x = self.features(F.relu(self.conv2(x)))
        return self.fc(self.drop(x).flatten(1))


def tiny_net(seed: int = 0, **kwargs) -> TinyConvNet:
    torch.manual_seed(seed)
    return TinyConvNet(**kwargs).eval()


def tiny_input(seed: int = 0, n: int = 2, channels: int = 3, side: int = 12) -> torch.Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


def test_gradcampp_matches_the_closed_form_written_as_loops():
    model, x = tiny_net().double(), tiny_input().double()
    store = {}
    handle = model.features.register_forward_hook(lambda m, i, o: store.setdefault("a", o))
    try:
        y = model(x)
    finally:
        handle.remove()
    for c in range(5):
        (g,) = torch.autograd.grad(y[:, c].sum(), store["a"], retain_graph=True)
        A, G = store["a"].detach().numpy(), g.numpy()
        expected = np.zeros((2,) + A.shape[2:])
        for n in range(A.shape[0]):
            cam = np.zeros(A.shape[2:])
            for k in range(A.shape[1]):
                s = A[n, k].sum()
                w = 0.0
                for i in range(A.shape[2]):
                    for j in range(A.shape[3]):
                        gij = G[n, k, i, j]
                        if gij != 0:
                            w += gij**2 / (2 * gij**2 + s * gij**3) * max(gij, 0.0)
                cam += w * A[n, k]
            expected[n] = np.maximum(cam, 0)
        ours = explain(model, x, c, "gradcampp")
        torch.testing.assert_close(ours, torch.from_numpy(expected), rtol=1e-10, atol=1e-12)


def test_gradcam_on_densenet121_matches_captum(densenet121, inputs):
    x = inputs[96]
    targets = top2(densenet121, x)
    ours = explain(densenet121, x, targets, "gradcam")  # default layer: "features"
    ref = LayerGradCam(densenet121, get_layer(densenet121, "features"))
    for k in range(2):
        assert_maps_close(ours[:, k], ref.attribute(x, targets[:, k], relu_attributions=True)[:, 0])


# ----------------------------------------------------------------------------------------------
# Guided Backprop and Guided Grad-CAM


@pytest.mark.parametrize("name,side", [("vgg16", 64), ("alexnet", 96)])
def test_guided_backprop_matches_captum_on_relu_modules(request, inputs, name, side):
    model, x = request.getfixturevalue(name), inputs[side]
    targets = top2(model, x)
    ours = explain(model, x, targets, "guided_backprop")
    for k in range(2):
        assert_maps_close(ours[:, k], GuidedBackprop(model).attribute(x, target=targets[:, k]), rtol=1e-5)


def test_guided_backprop_gates_googlenets_functional_relus(googlenet, inputs):
    x = inputs[96]
    target = top2(googlenet, x)[:, 0]
    ours = explain(googlenet, x, target, "guided_backprop")
    with_modules = googlenet_with_relu_modules(googlenet)
    assert_maps_close(ours, GuidedBackprop(with_modules).attribute(x, target=target), rtol=1e-5)
    # captum on the original sees no nn.ReLU and returns the plain gradient, which is not ours
    captum_original = GuidedBackprop(googlenet).attribute(x, target=target)
    assert_maps_close(captum_original, plain_input_gradient(googlenet, x, target), rtol=1e-5)
    assert (captum_original - ours).abs().max() > 0.1 * ours.abs().max()


def test_guided_backprop_gates_densenets_functional_relu(densenet121, inputs):
    x = inputs[64]
    target = top2(densenet121, x)[:, 0]
    ours = explain(densenet121, x, target, "guided_backprop")
    twin = densenet_with_relu_module(densenet121)
    assert_maps_close(ours, GuidedBackprop(twin).attribute(x, target=target), rtol=1e-5)
    captum_original = GuidedBackprop(densenet121).attribute(x, target=target)
    assert (captum_original - ours).abs().max() > 0.01 * ours.abs().max()


RELU_SPELLINGS = {
    "F.relu": lambda x: F.relu(x),
    "F.relu(inplace=True)": lambda x: F.relu(x, inplace=True),
    "F.relu_": lambda x: F.relu_(x),
    "torch.relu": lambda x: torch.relu(x),
    "torch.relu_": lambda x: torch.relu_(x),
    "Tensor.relu": lambda x: x.relu(),
    "Tensor.relu_": lambda x: x.relu_(),
}


def _statement_relu_(x):  # in place, return value ignored
    x.relu_()
    return x


def _statement_f_relu_inplace(x):
    F.relu(x, inplace=True)
    return x


RELU_SPELLINGS["x.relu_() as a statement"] = _statement_relu_
RELU_SPELLINGS["F.relu(x, inplace=True) as a statement"] = _statement_f_relu_inplace


class SpelledReluNet(nn.Module):
    """conv-relu-conv-relu-linear where the ReLU is written as ``spelling`` or, if None, nn.ReLU."""

    def __init__(self, spelling: str | None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 8 * 8, 4)
        self.spelling = spelling
        if spelling is None:
            self.relu1, self.relu2 = nn.ReLU(inplace=True), nn.ReLU()

    def forward(self, x):
        if self.spelling is None:
            return self.fc(self.relu2(self.conv2(self.relu1(self.conv1(x)))).flatten(1))
        relu = RELU_SPELLINGS[self.spelling]
        return self.fc(relu(self.conv2(relu(self.conv1(x)))).flatten(1))


@pytest.mark.parametrize("spelling", list(RELU_SPELLINGS))
def test_guided_backprop_gates_every_relu_spelling(spelling):
    torch.manual_seed(5)
    functional = SpelledReluNet(spelling).eval()
    modules = SpelledReluNet(None).eval()
    modules.load_state_dict(functional.state_dict())
    x, target = tiny_input(6, side=8), torch.tensor([1, 3])
    # the forward pass is the model's own, patched or not
    plain = modules(x)
    torch.testing.assert_close(functional(x), plain)
    with guided_relus():
        torch.testing.assert_close(functional(x), plain)
    ours = explain(functional, x, target, "guided_backprop")
    assert_maps_close(ours, GuidedBackprop(modules).attribute(x, target=target), rtol=1e-5)
    captum_functional = GuidedBackprop(functional).attribute(x, target=target)
    assert (captum_functional - ours).abs().max() > 1e-3 * ours.abs().max()


@pytest.mark.parametrize("name,layer,side", [("vgg16", "features.29", 64), ("alexnet", "features.11", 96)])
def test_guided_gradcam_nearest_matches_captum(request, inputs, name, layer, side):
    # captum upsamples with nearest unless told otherwise
    assert inspect.signature(GuidedGradCam.attribute).parameters["interpolate_mode"].default == "nearest"
    model, x = request.getfixturevalue(name), inputs[side]
    target = top2(model, x)[:, 0]
    ours = explain(model, x, target, "guided_gradcam", layer=layer, interpolate="nearest")
    assert_maps_close(ours, GuidedGradCam(model, get_layer(model, layer)).attribute(x, target), rtol=1e-5)


def test_guided_gradcam_default_is_guided_backprop_times_bilinear_gradcam(vgg16, inputs):
    x = inputs[64]
    targets = top2(vgg16, x)
    ours = explain(vgg16, x, targets, "guided_gradcam")
    layer = get_layer(vgg16, "features.29")
    for k in range(2):
        cam = LayerGradCam(vgg16, layer).attribute(x, targets[:, k], relu_attributions=True)
        up = F.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False)
        expected = GuidedBackprop(vgg16).attribute(x, target=targets[:, k]) * up
        assert_maps_close(ours[:, k], expected, rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# the model is left exactly as it was

RELU_OWNERS = [
    (F, "relu"),
    (F, "relu_"),
    (torch, "relu"),
    (torch, "relu_"),
    (torch.Tensor, "relu"),
    (torch.Tensor, "relu_"),
]
_MISSING = object()
METHOD_PARAMS = {
    "occlusion": {"patch": 3, "stride": 3},
    "integrated_gradients": {"steps": 3},
    "gradient_shap": {"n_samples": 2},
    "shap": {"background": tiny_input(seed=5, n=3), "n_samples": 4},
}


def snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "training": {n: m.training for n, m in model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "functions": [vars(owner).get(name, _MISSING) for owner, name in RELU_OWNERS],
    }


def assert_untouched(model: nn.Module, before: dict, check_state: bool = True) -> None:
    after = snapshot(model)
    if check_state:
        assert before["state"].keys() == after["state"].keys()
        for k, v in before["state"].items():
            assert torch.equal(after["state"][k], v), k
    assert after["training"] == before["training"]
    assert after["requires_grad"] == before["requires_grad"]
    assert [n for n, p in model.named_parameters() if p.grad is not None] == []
    for n, m in model.named_modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            assert not getattr(m, hooks), f"{n}.{hooks} left behind"
    for (owner, name), was, now in zip(RELU_OWNERS, before["functions"], after["functions"], strict=True):
        assert now is was, f"{getattr(owner, '__name__', owner)}.{name} not restored"
    assert F.relu(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_leaves_the_model_as_it_was(method):
    model, x = tiny_net(), tiny_input()
    before = snapshot(model)
    explain(model, x, torch.tensor([[1, 2], [0, 4]]), method, **METHOD_PARAMS.get(method, {}))
    assert_untouched(model, before)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_train_mode(method):
    model, x = tiny_net().train(), tiny_input()
    before = snapshot(model)
    explain(model, x, 1, method, **METHOD_PARAMS.get(method, {}))
    assert_untouched(model, before, check_state=False)  # batch norm in train mode updates its statistics


def test_guided_gradcam_leaves_googlenet_as_it_was(googlenet, inputs):
    before = snapshot(googlenet)
    explain(googlenet, inputs[96], 3, "guided_gradcam")
    assert_untouched(googlenet, before)


@pytest.mark.parametrize("method", METHODS)
def test_a_bad_target_raises_and_leaves_the_model_as_it_was(method):
    model, x = tiny_net(), tiny_input()
    before = snapshot(model)
    with pytest.raises((IndexError, RuntimeError, ValueError)):
        explain(model, x, 5, method, **METHOD_PARAMS.get(method, {}))  # 5 classes: 0..4
    assert_untouched(model, before)


class Boom(RuntimeError):
    pass


class ExplodingNet(TinyConvNet):
    """Raises in forward after its ReLUs and its hooked layer have run."""

    def forward(self, x):
        super().forward(x)
        x.relu()
        raise Boom("forward failed")


@pytest.mark.parametrize("method", METHODS)
def test_a_forward_that_raises_leaves_the_model_as_it_was(method):
    torch.manual_seed(0)
    model, x = ExplodingNet().eval(), tiny_input()
    before = snapshot(model)
    with pytest.raises(Boom):
        explain(model, x, 1, method, **METHOD_PARAMS.get(method, {}))
    assert_untouched(model, before)


def test_guided_relus_restores_the_functions_when_the_block_raises():
    before = [vars(owner).get(name, _MISSING) for owner, name in RELU_OWNERS]
    with pytest.raises(Boom):
        with guided_relus():
            assert F.relu is not before[0]
            raise Boom()
    assert [vars(owner).get(name, _MISSING) for owner, name in RELU_OWNERS] == before
    assert "relu" not in vars(torch.Tensor)  # inherited from the C base class, as before


# ----------------------------------------------------------------------------------------------
# sizes, layers, targets, errors


@pytest.mark.parametrize("size", [64, (40, 56)])
def test_size_is_torch_bilinear_without_aligned_corners(vgg16, inputs, size):
    x = inputs[64]
    targets = top2(vgg16, x)
    out = (size, size) if isinstance(size, int) else size
    for method in ("gradcam", "gradcampp"):
        ours = explain(vgg16, x, targets, method, size=size)
        assert ours.shape == (2, 2, *out)
        grid = explain(vgg16, x, targets, method)  # the layer-grid maps, checked against references above
        expected = F.interpolate(grid.reshape(4, 1, 4, 4), size=out, mode="bilinear", align_corners=False)
        assert_maps_close(ours, expected.reshape(2, 2, *out), rtol=1e-6)
    cam = LayerGradCam(vgg16, get_layer(vgg16, "features.29")).attribute(x, targets[:, 0], relu_attributions=True)
    expected = LayerAttribution.interpolate(cam, out, interpolate_mode="bilinear")[:, 0]  # align_corners=False
    assert_maps_close(explain(vgg16, x, targets[:, 0], "gradcam", size=size), expected)


@pytest.mark.parametrize(
    "name,layer",
    [("vgg16", "features.29"), ("alexnet", "features.11"), ("googlenet", "inception5b"), ("densenet121", "features")],
)
def test_default_layer_is_the_studys(request, inputs, name, layer):
    model = request.getfixturevalue(name)
    assert default_layer(model) == layer
    x = inputs[64]
    torch.testing.assert_close(explain(model, x, 7), explain(model, x, 7, layer=layer))


def test_a_bad_layer_raises_config_error_naming_it():
    with pytest.raises(ConfigError, match="features.99"):
        explain(tiny_net(), tiny_input(), 1, "gradcam", layer="features.99")
    with pytest.raises(ConfigError, match="conv9"):
        explain(tiny_net(), tiny_input(), 1, "guided_gradcam", layer="conv9")


def test_a_bad_method_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="gradcam_plus"):
        explain(tiny_net(), tiny_input(), 1, "gradcam_plus")


@pytest.mark.parametrize("method", METHODS)
def test_target_forms_give_the_right_shapes_and_columns_are_single_target_maps(method):
    model, x = tiny_net(), tiny_input()
    params = METHOD_PARAMS.get(method, {})
    map_shape = {"gradcam": (6, 6), "gradcampp": (6, 6), "occlusion": (4, 4)}.get(method, (3, 12, 12))
    targets = torch.tensor([[1, 2, 4], [0, 4, 4]])
    singles = [explain(model, x, targets[:, k], method, **params) for k in range(3)]
    assert singles[0].shape == (2, *map_shape)
    for form in (targets, targets.tolist(), targets.numpy()):
        many = explain(model, x, form, method, **params)
        assert many.shape == (2, 3, *map_shape)
        for k in range(3):
            torch.testing.assert_close(many[:, k], singles[k], rtol=1e-5, atol=1e-6)
    for form in (3, [3, 3], torch.tensor([3, 3]), np.array([3, 3])):
        torch.testing.assert_close(explain(model, x, form, method, **params), explain(model, x, 3, method, **params))
    assert explain(model, x, 3, method, **params).shape == (2, *map_shape)


def test_a_target_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="N=2"):
        explain(tiny_net(), tiny_input(), [1, 2, 3], "gradcam")


# ----------------------------------------------------------------------------------------------
# occlusion


def brute_force_occlusion(model, x, target, patch, stride, fill):
    """One forward pass per centre, the square written out row by row (no shared code)."""
    n, c, h, w = x.shape
    fill = torch.as_tensor(fill, dtype=x.dtype).reshape(-1)
    fill = fill.expand(c) if fill.numel() == 1 else fill
    with torch.no_grad():
        base = model(x)
        rows, cols = list(range(0, h, stride)), list(range(0, w, stride))
        out = torch.zeros(n, len(rows), len(cols), dtype=x.dtype)
        for a in range(n):
            for p, i in enumerate(rows):
                for q, j in enumerate(cols):
                    xo = x[a : a + 1].clone()
                    for r in range(i - patch // 2, i - patch // 2 + patch):
                        for s in range(j - patch // 2, j - patch // 2 + patch):
                            if 0 <= r < h and 0 <= s < w:
                                xo[0, :, r, s] = fill
                    out[a, p, q] = base[a, target[a]] - model(xo)[0, target[a]]
    return out


@pytest.mark.parametrize("patch", [1, 3, 4, 5])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("fill", [0.0, 0.7, (0.5, -1.0, 2.0)], ids=["zero", "scalar", "per-channel"])
def test_occlusion_matches_a_brute_force_loop(patch, stride, fill):
    model, x = tiny_net().double(), tiny_input().double()
    target = torch.tensor([2, 0])
    ours = explain(model, x, target, "occlusion", patch=patch, stride=stride, fill=fill, batch_size=7)
    assert ours.shape == (2, -(-12 // stride), -(-12 // stride))
    torch.testing.assert_close(
        ours, brute_force_occlusion(model, x, target, patch, stride, fill), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("fill", [0.3, (0.5, -1.0, 2.0)], ids=["scalar", "per-channel"])
def test_one_pixel_occlusion_matches_captum(fill):
    model, x = tiny_net().double(), tiny_input().double()
    target = torch.tensor([2, 0])
    ours = explain(model, x, target, "occlusion", patch=1, fill=fill)
    baselines = torch.as_tensor(fill, dtype=x.dtype).reshape(1, -1, 1, 1).expand(1, 3, 12, 12).contiguous()
    theirs = Occlusion(model).attribute(
        x, sliding_window_shapes=(3, 1, 1), strides=1, baselines=baselines, target=target
    )
    for ch in range(3):  # a window spans all channels: every channel carries the score drop
        assert_maps_close(theirs[:, ch].double(), ours, rtol=1e-6)  # captum accumulates in float32


def test_occlusion_averaged_over_covering_windows_matches_captum():
    """captum's Occlusion gives each pixel the mean drop over the (unclipped) windows covering it;
    those windows are ours whose square lies inside the image, so the two agree after averaging."""
    model, x = tiny_net().double(), tiny_input().double()
    patch, target, (h, w), lo = 3, torch.tensor([2, 0]), (12, 12), 1
    ours = explain(model, x, target, "occlusion", patch=patch, fill=0.4)
    expected = torch.zeros(2, h, w, dtype=x.dtype)
    for r in range(h):
        for s in range(w):
            starts_r = range(max(0, r - patch + 1), min(r, h - patch) + 1)
            starts_s = range(max(0, s - patch + 1), min(s, w - patch) + 1)
            expected[:, r, s] = torch.stack([ours[:, a + lo, b + lo] for a in starts_r for b in starts_s]).mean(0)
    theirs = Occlusion(model).attribute(
        x, sliding_window_shapes=(3, patch, patch), strides=1, baselines=0.4, target=target
    )
    assert_maps_close(theirs[:, 0].double(), expected, rtol=1e-6)  # captum accumulates in float32


def test_occlusion_refuses_bad_parameters():
    with pytest.raises(ValueError, match="one per channel"):
        explain(tiny_net(), tiny_input(), 1, "occlusion", patch=3, fill=(0.0, 1.0))
    with pytest.raises(ValueError, match="patch"):
        explain(tiny_net(), tiny_input(), 1, "occlusion", patch=0)


# ----------------------------------------------------------------------------------------------
# Integrated Gradients and Gradient SHAP


@pytest.mark.parametrize("baseline", [0.0, -0.5, "image"])
def test_integrated_gradients_is_captum_trapezoid_with_unit_weight_sum(baseline):
    """captum's "riemann_trapezoid" samples linspace(0, 1, n) but weighs the points 1/n (ends 1/2n),
    so its weights sum to (n-1)/n; the trapezoid rule on that grid weighs them 1/(n-1). Ours is
    the trapezoid rule (IG sums to f(x) - f(b), see the completeness test), hence the factor."""
    model, x = tiny_net().double(), tiny_input().double()
    b = tiny_input(9).double() if baseline == "image" else baseline
    target, n = torch.tensor([2, 0]), 16
    ours = explain(model, x, target, "integrated_gradients", baseline=b, steps=n)
    theirs = IntegratedGradients(model).attribute(x, b, target=target, n_steps=n, method="riemann_trapezoid")
    assert_maps_close(ours, theirs * n / (n - 1), rtol=1e-10)


def test_integrated_gradients_is_the_trapezoid_rule_written_out():
    model, x = tiny_net().double(), tiny_input().double()
    b, target, n = -0.25, torch.tensor([1, 3]), 9
    alphas = np.linspace(0, 1, n)
    grads = np.stack([plain_input_gradient(model, b + a * (x - b), target).numpy() for a in alphas])
    expected = np.trapezoid(grads, alphas, axis=0) * (x - b).numpy()
    ours = explain(model, x, target, "integrated_gradients", baseline=b, steps=n)
    assert_maps_close(ours, torch.from_numpy(expected), rtol=1e-10)


def test_integrated_gradients_is_complete():
    model, x = tiny_net().double(), tiny_input().double()
    target = torch.tensor([2, 0])
    ig = explain(model, x, target, "integrated_gradients", steps=400)
    with torch.no_grad():
        gap = (model(x) - model(torch.zeros_like(x))).gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(ig.sum(dim=(1, 2, 3)), gap, rtol=1e-2, atol=1e-3 * gap.abs().max().item())


def test_gradient_shap_with_one_baseline_and_no_noise_approaches_integrated_gradients():
    model, x = tiny_net(), tiny_input()
    target = torch.tensor([2, 0])
    ig = explain(model, x, target, "integrated_gradients", steps=64)
    shap = explain(model, x, target, "gradient_shap", n_samples=1500, stdev=0.0, seed=1)
    assert ((shap - ig).norm() / ig.norm()).item() < 0.05


def test_gradient_shap_matches_captum_exactly_on_a_linear_model():
    """With a linear score every draw gives w·(x' - b); one baseline and no noise leave nothing random."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 5)).double().eval()
    x, b = tiny_input().double(), tiny_input(3, n=1).double()
    target = torch.tensor([2, 0])
    ours = explain(model, x, target, "gradient_shap", baselines=b, n_samples=5)
    theirs = GradientShap(model).attribute(x, b, n_samples=5, stdevs=0.0, target=target)
    assert_maps_close(ours, theirs, rtol=1e-10)


def test_gradient_shap_is_seeded():
    model, x = tiny_net(), tiny_input()
    baselines = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(8))
    kwargs = dict(baselines=baselines, n_samples=4, stdev=0.1)
    torch.manual_seed(123)  # the global generator plays no part
    a = explain(model, x, 1, "gradient_shap", seed=7, **kwargs)
    torch.manual_seed(321)
    b = explain(model, x, 1, "gradient_shap", seed=7, **kwargs)
    c = explain(model, x, 1, "gradient_shap", seed=8, **kwargs)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
