"""Deletion and insertion curves (RISE) against RISE's reference loop, Quantus' PixelFlipping and
hand-computed cases; their area (RISE's auc) on hand cases."""

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from cameval import metrics
from cameval.errors import ConfigError


def small_net(channels=3, classes=5, seed=0, dtype=torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(channels, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, classes),
    )
    return net.to(dtype).eval()


def rise_reference(model, img, explanation, mode, step):
    """RISE's ``CausalMetric.single_run`` (eclique/RISE, evaluation.py), transcribed for one image
    ``img`` [1, C, H, W] and the class the model predicts: substrate zeros (deletion) or the blur
    ``conv2d(x, gkern(11, 5), padding=5)`` with gkern's C x C kernel holding the 2-D Gaussian on
    its diagonal (insertion); pixels in the order ``np.flip(np.argsort(explanation))``; the model's
    softmax probability of the class before the first step and after each step."""
    _, c, h, w = img.shape
    hw = h * w
    with torch.no_grad():
        cls = int(model(img).argmax(1))
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1
    k = gaussian_filter(impulse, 5)
    kern = np.zeros((c, c, 11, 11))
    for i in range(c):
        kern[i, i] = k
    blurred = nn.functional.conv2d(img, torch.from_numpy(kern).to(img.dtype), padding=11 // 2)
    start, finish = (img.clone(), torch.zeros_like(img)) if mode == "del" else (blurred, img.clone())
    steps = (hw + step - 1) // step
    order = np.flip(np.argsort(explanation.reshape(-1, hw), axis=1), axis=-1)
    scores = np.empty(steps + 1)
    for i in range(steps + 1):
        with torch.no_grad():
            scores[i] = float(torch.softmax(model(start), 1)[0, cls])
        if i < steps:
            coords = order[0, step * i : step * (i + 1)].copy()
            s, f = start.view(c, hw), finish.view(c, hw)
            s[:, coords] = f[:, coords]
    return scores, cls


@pytest.mark.parametrize("step", [16, 7])
def test_deletion_and_insertion_equal_rises_reference_loop(step):
    model = small_net()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 16, 16, generator=g, dtype=torch.float64)
    maps = torch.rand(3, 16, 16, generator=g, dtype=torch.float64)  # no ties: RISE's order is then defined
    for mode, ours in (("del", metrics.deletion_curves), ("ins", metrics.insertion_curves)):
        refs = [rise_reference(model, x[i : i + 1], maps[i].numpy(), mode, step) for i in range(3)]
        target = [cls for _, cls in refs]
        curves = ours(model, x, maps, target, step=step, batch_size=10)  # batches cut across images
        assert curves.shape == (3, math.ceil(256 / step) + 1)
        np.testing.assert_allclose(curves, np.stack([s for s, _ in refs]), rtol=0, atol=1e-12)


def test_deletion_equals_quantus_pixel_flipping_with_the_clean_score_first():
    quantus = pytest.importorskip("quantus")
    model = small_net(dtype=torch.float32)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 12, 12, generator=g)
    maps = torch.rand(4, 12, 12, generator=g)
    y = np.array([0, 1, 2, 3])
    flips = quantus.PixelFlipping(
        features_in_step=3 * 12,
        perturb_baseline=0.0,
        normalise=False,
        abs=False,
        disable_warnings=True,
    )(
        model=model,
        x_batch=x.numpy(),
        y_batch=y,
        a_batch=maps.numpy()[:, None],
        channel_first=True,
        softmax=True,
        device="cpu",
    )
    with torch.no_grad():
        clean = torch.softmax(model(x), 1)[torch.arange(4), torch.as_tensor(y)].numpy()
    expected = np.column_stack([clean, np.asarray(flips)])
    ours = metrics.deletion_curves(model, x, maps, y, step=12)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


class SumNet(nn.Module):
    """Two logits: the sum of the image and 0, so p(class 0) = sigmoid(sum)."""

    def forward(self, x):
        s = x.sum(dim=(1, 2, 3))
        return torch.stack([s, torch.zeros_like(s)], 1)


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_deletion_takes_pixels_in_descending_map_order_row_major_among_equals():
    # a 1-channel 2x3 image; pixel values 1..6 row-major; map ties broken row-major
    x = torch.arange(1.0, 7.0, dtype=torch.float64).view(1, 1, 2, 3)
    hmap = torch.tensor([[[0.0, 5.0, 5.0], [1.0, 9.0, 0.0]]], dtype=torch.float64)
    # order: (1,1)=5 [value 5], (0,1)=2 [tie: row-major first], (0,2)=3, (1,0)=4, (0,0)=1, (1,2)=6
    removed = [0, 5, 2, 3, 4, 1, 6]
    sums = 21 - np.cumsum(removed)
    curve = metrics.deletion_curves(SumNet(), x, hmap, [0], step=1)[0]
    np.testing.assert_allclose(curve, [sigmoid(s) for s in sums], rtol=0, atol=1e-15)
    two = metrics.deletion_curves(SumNet(), x, hmap, [0], step=2)[0]  # default fill 0, 2 pixels a step
    np.testing.assert_allclose(two, [sigmoid(s) for s in sums[[0, 2, 4, 6]]], rtol=0, atol=1e-15)
    # the default step is W = 3: ceil(6 / 3) + 1 = 3 points
    default = metrics.deletion_curves(SumNet(), x, hmap, [0])[0]
    np.testing.assert_allclose(default, [sigmoid(s) for s in sums[[0, 3, 6]]], rtol=0, atol=1e-15)


def test_deletion_fill_is_in_the_models_space_and_every_channel_is_replaced():
    x = torch.ones(1, 2, 1, 2, dtype=torch.float64)
    hmap = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    curve = metrics.deletion_curves(SumNet(), x, hmap, [0], step=1, fill=-0.5)[0]
    # sums: 4, then the first pixel's two channels become -0.5 -> 1, then all -> -2
    np.testing.assert_allclose(curve, [sigmoid(4), sigmoid(1), sigmoid(-2)], rtol=0, atol=1e-15)


def test_insertion_starts_at_the_blur_and_ends_at_the_image():
    model = small_net()
    x = torch.randn(2, 3, 20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    maps = torch.rand(2, 20, 20, dtype=torch.float64)
    target = [1, 4]
    curves = metrics.insertion_curves(model, x, maps, target, step=9)
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1
    kern = torch.from_numpy(gaussian_filter(impulse, sigma=5))
    blurred = torch.stack(
        [torch.stack([nn.functional.conv2d(x[i, c][None, None], kern[None, None], padding=5)[0, 0] for c in range(3)])
         for i in range(2)]
    )  # fmt: skip
    with torch.no_grad():
        first = torch.softmax(model(blurred), 1)[[0, 1], target].numpy()
        last = torch.softmax(model(x), 1)[[0, 1], target].numpy()
    np.testing.assert_allclose(curves[:, 0], first, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves[:, -1], last, rtol=0, atol=1e-12)
    assert curves.shape == (2, math.ceil(400 / 9) + 1)


def test_curve_auc_of_hand_curves():
    # a step curve: 1 until x = 0.25, then down to 0 at x = 0.5: area 0.25 + 0.125
    assert metrics.curve_auc([1, 1, 0, 0, 0]) == pytest.approx(0.375, abs=1e-15)
    # a straight line from 1 to 0: area 1/2, whatever the number of points
    for n in (2, 3, 11, 225):
        assert metrics.curve_auc(np.linspace(1, 0, n)) == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(metrics.curve_auc([[0, 1], [1, 1], [0.2, 0.2]]), [0.5, 1.0, 0.2], atol=1e-15)
    with pytest.raises(ValueError, match="L >= 2"):
        metrics.curve_auc([0.3])


@pytest.mark.parametrize("step", [0, -3, 2.5, True])
def test_a_step_below_one_or_not_an_integer_is_refused_naming_it(step):
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ConfigError, match=r"step: .*expected an integer >= 1"):
        metrics.deletion_curves(SumNet(), x, torch.rand(1, 4, 4), [0], step=step)
    with pytest.raises(ConfigError, match=r"step: .*expected an integer >= 1"):
        metrics.insertion_curves(SumNet(), x, torch.rand(1, 4, 4), [0], step=step)


def test_maps_of_another_size_are_refused_naming_the_expected_shape():
    with pytest.raises(ValueError, match=r"maps: shape \(1, 2, 2\), expected \[N, H, W\] = \(1, 4, 4\)"):
        metrics.deletion_curves(SumNet(), torch.zeros(1, 1, 4, 4), np.zeros((1, 2, 2)), [0])
