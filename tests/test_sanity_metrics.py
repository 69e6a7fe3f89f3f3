"""Sanity checks (Adebayo et al. 2018): the similarity measures against scipy and scikit-image
called directly; the randomized models layer by layer."""

import numpy as np
import pytest
import torch
from scipy import stats
from skimage.feature import hog
from skimage.metrics import structural_similarity
from torch import nn

from cameval import metrics
from cameval.errors import ConfigError


def scaled(m):
    a = np.abs(m)
    return (a - a.min()) / (a.max() - a.min())


@pytest.fixture(scope="module")
def maps():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(48, 40))
    b = a + rng.normal(scale=0.8, size=a.shape)
    return a, b


def test_spearman_measures_equal_scipy(maps):
    a, b = maps
    assert metrics.map_similarity(a, b, "spearman_abs") == stats.spearmanr(np.abs(a).ravel(), np.abs(b).ravel())[0]
    assert metrics.map_similarity(a, b, "spearman") == stats.spearmanr(a.ravel(), b.ravel())[0]
    assert metrics.map_similarity(-a, b, "spearman_abs") == metrics.map_similarity(a, b, "spearman_abs")
    assert metrics.map_similarity(torch.as_tensor(a), torch.as_tensor(b), "spearman") == pytest.approx(
        stats.spearmanr(a.ravel(), b.ravel())[0], abs=1e-15
    )


def test_ssim_equals_scikit_image_on_the_maps_scaled_by_their_absolute_min_and_max(maps):
    a, b = maps
    expected = structural_similarity(
        scaled(a), scaled(b), data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.map_similarity(a, b, "ssim") == pytest.approx(expected, abs=1e-14)
    assert metrics.map_similarity(a, a, "ssim") == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cell", [16, 8])
def test_hog_equals_spearman_of_scikit_image_hog_vectors(maps, cell):
    a, b = maps

    def h(m):
        return hog(scaled(m), orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))

    expected = stats.spearmanr(h(a), h(b))[0]
    got = metrics.map_similarity(a, b, "hog") if cell == 16 else metrics.map_similarity(a, b, "hog", hog_cell=cell)
    assert got == pytest.approx(expected, abs=1e-14)


def test_a_constant_map_scales_to_zero_and_has_no_rank_correlation():
    a = np.full((20, 20), 3.0)
    b = np.random.default_rng(1).random((20, 20))
    assert np.isnan(metrics.map_similarity(a, b, "spearman"))
    zero = np.zeros((20, 20))
    expected = structural_similarity(
        zero, scaled(b), data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.map_similarity(a, b, "ssim") == pytest.approx(expected, abs=1e-14)


def test_an_unknown_measure_or_a_hog_cell_larger_than_the_map_is_refused_naming_it():
    a = np.zeros((20, 20))
    with pytest.raises(ConfigError, match=r"measure: 'pearson', expected one of spearman_abs, spearman, ssim, hog"):
        metrics.map_similarity(a, a, "pearson")
    with pytest.raises(ConfigError, match=r"hog_cell: 16 for maps of 20x20, expected at most 10"):
        metrics.map_similarity(a, a, "hog")
    with pytest.raises(ConfigError, match=r"hog_cell: 0, expected an integer >= 1"):
        metrics.map_similarity(a, a, "hog", hog_cell=0)
    with pytest.raises(ConfigError, match=r"ssim for maps of 7x7, expected maps of at least 11x11"):
        metrics.map_similarity(np.zeros((7, 7)), np.zeros((7, 7)), "ssim")
    with pytest.raises(ConfigError, match=r"mode: 'backwards', expected one of cascading, independent"):
        next(metrics.randomized_models(nn.Linear(2, 2), mode="backwards"))


def trained_like(seed=0) -> nn.Module:
    """A small conv net whose every parameter and running statistic differs from a fresh
    initialization's (as after training), so that re-initializing any layer changes it."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU()),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) + 0.5)
        net[1].running_mean.fill_(0.3)
        net[1].running_var.fill_(2.0)
    return net.eval()


def module_states(model):
    return {
        name: {k: v.clone() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
        for name, m in model.named_modules()
        if next(m.parameters(recurse=False), None) is not None
    }


def changed(a, b):
    return {name for name in a if any(not torch.equal(a[name][k], b[name][k]) for k in a[name])}


def test_randomizable_layers_are_those_with_own_parameters_from_the_output_down():
    assert metrics.randomizable_layers(trained_like()) == ["6", "3.0", "1", "0"]


@pytest.mark.parametrize("mode", ["cascading", "independent"])
def test_the_randomization_changes_exactly_the_layers_it_names_and_leaves_the_model_alone(mode):
    net = trained_like()
    original = module_states(net)
    rng_before = torch.get_rng_state()
    steps = list(metrics.randomized_models(net, mode=mode, seed=3))
    assert [name for name, _ in steps] == ["6", "3.0", "1", "0"]
    for k, (name, model) in enumerate(steps):
        names = {n for n, _ in steps[: k + 1]} if mode == "cascading" else {name}
        assert changed(original, module_states(model)) == names
        assert not model.training  # the copy keeps the mode
    assert changed(original, module_states(net)) == set()  # the model passed in is untouched
    assert torch.equal(torch.get_rng_state(), rng_before)  # and so is the caller's random state


def test_the_randomization_is_deterministic_under_its_seed_and_the_same_in_both_modes():
    net = trained_like()
    first = [module_states(m) for _, m in metrics.randomized_models(net, seed=3)]
    again = [module_states(m) for _, m in metrics.randomized_models(net, seed=3)]
    other = [module_states(m) for _, m in metrics.randomized_models(net, seed=4)]
    alone = dict((n, module_states(m)) for n, m in metrics.randomized_models(net, mode="independent", seed=3))
    for k, (a, b, c) in enumerate(zip(first, again, other, strict=True)):
        assert changed(a, b) == set()
        layer = metrics.randomizable_layers(net)[k]
        if layer != "1":  # BatchNorm's reset is not random: ones, zeros, running statistics 0 and 1
            assert layer in changed(a, c)
        for key, value in alone[layer][layer].items():  # the layer's new weights are the cascade's
            assert torch.equal(value, a[layer][key])


def test_a_module_with_parameters_but_no_reset_is_refused_naming_it():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.s

    with pytest.raises(ConfigError, match=r"module '1' \(Scale\) has parameters of its own but no reset_parameters"):
        metrics.randomizable_layers(nn.Sequential(nn.Linear(2, 2), Scale()))
