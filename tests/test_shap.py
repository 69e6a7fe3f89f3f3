"""SHAP through the shap library: additivity, the fallback, the caller's model untouched; IG vs captum."""

import numpy as np
import pytest
import torch

from cameval.explain import explain, shap_all_classes
from cameval.models import build_model


def _softmax(model, x):
    with torch.no_grad():
        return torch.softmax(model(x), 1).numpy().astype(np.float64)


def test_deep_shap_is_additive_on_the_mnist_network():
    torch.manual_seed(0)
    model = build_model("mnist_net", num_classes=10)
    x, background = torch.randn(3, 1, 28, 28), torch.randn(8, 1, 28, 28)
    values, used = shap_all_classes(model, x, background)
    assert used == "deep" and values.shape == (3, 10, 1, 28, 28)
    # sum of the attributions = f(x) - E[f(background)], per image and class
    expected = _softmax(model, x) - _softmax(model, background).mean(0)
    np.testing.assert_allclose(values.reshape(3, 10, -1).sum(-1), expected, atol=1e-5)
    # explain(method="shap") picks the target's column
    maps = explain(model, x, torch.tensor([3, 1, 7]), method="shap", background=background)
    np.testing.assert_allclose(maps.numpy(), values[[0, 1, 2], [3, 1, 7]], atol=1e-7)


def test_in_place_relus_run_on_a_copy_and_the_model_is_left_untouched():
    torch.manual_seed(0)
    model = build_model("small_vgg", num_classes=10)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, background = torch.randn(2, 3, 16, 16), torch.randn(3, 3, 16, 16)
    values, used = shap_all_classes(model, x, background)
    assert used == "deep"  # out-of-place copy: DeepExplainer runs, exact
    expected = _softmax(model, x) - _softmax(model, background).mean(0)
    np.testing.assert_allclose(values.reshape(2, 10, -1).sum(-1), expected, atol=1e-5)
    assert all(m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU))
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


class FunctionalReLUNet(torch.nn.Module):
    """conv -> F.relu(inplace=True) in forward (as torchvision's GoogLeNet) -> pool -> linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.fc = torch.nn.Linear(24, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.nn.functional.relu(self.conv(x), inplace=True)), 1))


def test_functional_relus_fall_back_to_the_gradient_explainer_seeded():
    torch.manual_seed(0)
    model = FunctionalReLUNet().eval()
    with torch.no_grad():
        model.fc.weight.mul_(20)  # a softmax that moves, so additivity is measurable
    x, background = torch.randn(2, 3, 8, 8), torch.randn(6, 3, 8, 8)
    a, used = shap_all_classes(model, x, background, n_samples=200, seed=1)
    assert used == "gradient"  # DeepExplainer's sums miss: no hook sees the functional ReLU
    b, _ = shap_all_classes(model, x, background, explainer="gradient", n_samples=200, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    with pytest.raises(AssertionError, match="additivity"):
        shap_all_classes(model, x, background, explainer="deep")
    # expected gradients are additive in expectation: with 200 draws the sums track f(x) - E[f(b)]
    expected = _softmax(model, x) - _softmax(model, background).mean(0)
    sums = a.reshape(2, 10, -1).sum(-1)
    assert np.corrcoef(sums.ravel(), expected.ravel())[0, 1] > 0.9


def test_integrated_gradients_matches_captum_and_is_complete():
    from captum.attr import IntegratedGradients

    torch.manual_seed(0)
    model = build_model("mnist_net", num_classes=10)
    x, target = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    ours = explain(model, x, target, method="integrated_gradients", steps=50)
    oracle = IntegratedGradients(model).attribute(x, target=target, n_steps=50, method="riemann_trapezoid")
    # captum's trapezoid weights sum to (n - 1) / n (its 50 points span [0, 1] with weights 1/n)
    torch.testing.assert_close(ours, oracle * 50 / 49, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        gap = model(x).gather(1, target[:, None])[:, 0] - model(torch.zeros_like(x)).gather(1, target[:, None])[:, 0]
    np.testing.assert_allclose(ours.sum((1, 2, 3)).numpy(), gap.numpy(), rtol=0.05, atol=0.02)


@pytest.mark.parametrize(("n_samples", "batch_size"), [(16, 50), (7, 3), (1, 50)])
def test_expected_gradients_are_shaps_gradient_explainer_bit_for_bit(n_samples, batch_size):
    """Our one-forward-for-every-class expected gradients against shap.GradientExplainer itself: the
    same draws, batches and float64 sums, so the same numbers, on a network with BatchNorm, max
    pools and functional ReLUs (the small GoogLeNet, as Table 7 runs it) and with samples split
    across batches (7 samples, 3 a batch)."""
    import shap  # noqa: PLC0415

    from cameval.explain.shapley import _as_class_axis, _Softmax, expected_gradients  # noqa: PLC0415

    torch.manual_seed(0)
    net = _Softmax(build_model("small_googlenet", num_classes=10)).eval()
    x, background = torch.randn(2, 3, 32, 32), torch.randn(5, 3, 32, 32)
    state = np.random.get_state()
    oracle = shap.GradientExplainer(net, background, batch_size=batch_size).shap_values(x, nsamples=n_samples, rseed=3)
    np.random.set_state(state)
    ours = expected_gradients(net, x, background, n_samples, seed=3, batch_size=batch_size)
    assert ours.dtype == np.float64 and ours.shape == (2, 10, 3, 32, 32)
    np.testing.assert_array_equal(ours, _as_class_axis(oracle, 2, 10))
    assert np.abs(ours).max() > 0
    # np.random's global state is not ours to reseed
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])
