"""ROAD (Rong et al. 2022): the noisy linear imputer against a dense solve of its equations and
against Quantus' imputer and ROAD metric; where it differs from Quantus (RGB input)."""

import numpy as np
import pytest
import torch
from torch import nn

from cameval import metrics
from cameval.errors import ConfigError


def dense_impute(img, removed):
    """The imputation equations written out one pixel at a time and solved densely: each removed
    pixel = sum over its in-image 8-neighbours of w * value / sum of those w (w = 1/6 for the 4
    edge neighbours, 1/12 for the 4 diagonal ones)."""
    c, h, w = img.shape
    unknown = [(y, x) for y in range(h) for x in range(w) if removed[y, x]]
    index = {p: i for i, p in enumerate(unknown)}
    a = np.zeros((len(unknown), len(unknown)))
    b = np.zeros((len(unknown), c))
    for i, (y, x) in enumerate(unknown):
        nbrs = [
            (y + dy, x + dx, 1 / 6 if 0 in (dy, dx) else 1 / 12)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if (dy or dx) and 0 <= y + dy < h and 0 <= x + dx < w
        ]
        total = sum(wt for _, _, wt in nbrs)
        a[i, i] = 1.0
        for ny, nx, wt in nbrs:
            if removed[ny, nx]:
                a[i, index[(ny, nx)]] -= wt / total
            else:
                b[i] += wt / total * img[:, ny, nx]
    out = img.astype(float).copy()
    sol = np.linalg.solve(a, b)
    for i, (y, x) in enumerate(unknown):
        out[:, y, x] = sol[i]
    return out


def test_imputation_without_noise_equals_a_dense_solve_of_the_same_equations():
    rng = np.random.default_rng(0)
    img = rng.random((3, 9, 11))
    removed = rng.random((9, 11)) < 0.6
    removed[0, :4] = True  # a removed run along the border and the corner
    ours = metrics.noisy_linear_impute(img, removed, noise=0.0)
    np.testing.assert_allclose(ours, dense_impute(img, removed), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours[:, ~removed], img[:, ~removed])  # kept pixels untouched
    # torch in gives the same
    np.testing.assert_allclose(metrics.noisy_linear_impute(torch.as_tensor(img), torch.as_tensor(removed), 0.0), ours)


def test_imputation_equals_quantus_noisy_linear_imputation_on_one_channel():
    pf = pytest.importorskip("quantus.functions.perturb_func")
    rng = np.random.default_rng(1)
    img = rng.random((1, 28, 28))
    removed = rng.random((28, 28)) < 0.4
    theirs = pf.noisy_linear_imputation(img, np.flatnonzero(removed), noise=0.0)
    np.testing.assert_allclose(metrics.noisy_linear_impute(img, removed, noise=0.0), theirs, rtol=0, atol=1e-12)


def test_noise_is_added_to_the_removed_pixels_only_and_is_seeded():
    rng = np.random.default_rng(2)
    img = rng.random((3, 8, 8))
    removed = rng.random((8, 8)) < 0.5
    clean = metrics.noisy_linear_impute(img, removed, noise=0.0)
    a = metrics.noisy_linear_impute(img, removed, noise=0.05, generator=7)
    b = metrics.noisy_linear_impute(img, removed, noise=0.05, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, ~removed], img[:, ~removed])
    diff = (a - clean)[:, removed]
    expected = 0.05 * np.random.default_rng(7).standard_normal((3, int(removed.sum())))
    np.testing.assert_allclose(diff, expected, rtol=0, atol=1e-12)


def test_removal_masks_count_floor_of_p_and_lerf_is_the_complement_of_morf():
    hmap = np.arange(20.0).reshape(1, 4, 5)  # the most relevant pixel is the last one
    morf = metrics.removal_masks(hmap, 25, "morf")[0]  # floor(0.25 * 20) = 5 pixels: values 15..19
    np.testing.assert_array_equal(morf, hmap[0] >= 15)
    lerf = metrics.removal_masks(hmap, 33, "lerf")[0]  # floor(0.33 * 20) = 6 pixels: values 0..5
    np.testing.assert_array_equal(lerf, hmap[0] <= 5)
    np.testing.assert_array_equal(metrics.removal_masks(hmap, 70, "lerf")[0], ~metrics.removal_masks(hmap, 30)[0])


class Normalized(nn.Module):
    """The model Quantus sees: pixels in [0, 1] normalized first, as road() does."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(-1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def mnist_like_net(channels, side, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * side * side, 3)
    ).eval()


def test_road_equals_quantus_road_on_single_channel_input():
    quantus = pytest.importorskip("quantus")
    net = mnist_like_net(1, 14)
    g = torch.Generator().manual_seed(3)
    pixels = torch.rand(6, 1, 14, 14, generator=g)
    maps = torch.rand(6, 14, 14, generator=g)
    with torch.no_grad():  # labels the model gets right on the clean images, so that removal matters
        labels = net((pixels - 0.3) / 0.4).argmax(1).numpy()
    percentages = [10, 30, 50, 70, 90]
    model = Normalized(net, [0.3], [0.4]).eval()
    theirs = np.array(  # one image a call: Quantus returns the accuracy per percentage over its batch
        [
            list(
                quantus.ROAD(percentages=percentages, noise=0.0, disable_warnings=True)(
                    model=model,
                    x_batch=pixels[n : n + 1].numpy(),
                    y_batch=labels[n : n + 1],
                    a_batch=maps[n : n + 1, None].numpy(),
                    channel_first=True,
                    device="cpu",
                ).values()
            )
            for n in range(6)
        ]
    )  # [N, P]
    ours = metrics.road(net, pixels, maps, labels, [0.3], [0.4], percentages=percentages, noise=0.0)
    np.testing.assert_array_equal(ours, theirs.T)
    assert 0 < ours.sum() < ours.size  # some images are misclassified after removal, some are not


def test_road_works_on_rgb_where_quantus_raises():
    quantus = pytest.importorskip("quantus")
    net = mnist_like_net(3, 10)
    g = torch.Generator().manual_seed(4)
    pixels = torch.rand(2, 3, 10, 10, generator=g)
    maps = torch.rand(2, 10, 10, generator=g)
    labels = np.array([0, 1])
    with pytest.raises(IndexError):  # it ranks C*H*W values and imputes H*W pixels
        quantus.ROAD(percentages=[50], disable_warnings=True)(
            model=Normalized(net, [0.5] * 3, [0.2] * 3).eval(),
            x_batch=pixels.numpy(),
            y_batch=labels,
            a_batch=maps[:, None].numpy(),
            channel_first=True,
            device="cpu",
        )
    ours = metrics.road(net, pixels, maps, labels, [0.5] * 3, [0.2] * 3, percentages=[20, 50], order="lerf", seed=5)
    # the expected answer: per image, the least relevant pixels imputed per channel (dense solve)
    # plus the seeded noise, normalized, classified
    for i, p in enumerate([20, 50]):
        for n in range(2):
            removed = metrics.removal_masks(maps[n : n + 1].numpy(), p, "lerf")[0]
            assert removed.sum() == int(p / 100 * 100)
            filled = dense_impute(pixels[n].double().numpy(), removed)
            filled[:, removed] += 0.01 * np.random.default_rng([5, i, n]).standard_normal((3, int(removed.sum())))
            with torch.no_grad():
                pred = int(net(((torch.as_tensor(filled).float() - 0.5) / 0.2)[None]).argmax(1))
            assert ours[i, n] == int(pred == labels[n])


@pytest.mark.parametrize("bad", [[0], [100], [10, 105], [-5], ["ten"], [], 50, [True]])
def test_a_percentage_outside_0_100_is_refused_naming_it(bad):
    with pytest.raises(ConfigError, match=r"percentage"):
        metrics.road(nn.Identity(), torch.zeros(1, 1, 4, 4), np.zeros((1, 4, 4)), [0], [0], [1], percentages=bad)


def test_an_unknown_order_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match=r"order: 'top', expected one of morf, lerf"):
        metrics.road(nn.Identity(), torch.zeros(1, 1, 4, 4), np.zeros((1, 4, 4)), [0], [0], [1], order="top")


def test_removing_every_pixel_is_refused():
    with pytest.raises(ValueError, match="every pixel removed"):
        metrics.noisy_linear_impute(np.zeros((1, 3, 3)), np.ones((3, 3), bool))
