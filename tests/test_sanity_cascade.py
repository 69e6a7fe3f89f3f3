"""The randomization steps' shortcut (cameval.metrics.cascade): the maps of each step equal, to the
bit here, the plain path's — a fresh randomized copy from ``randomized_models`` explained by
``explain`` — on the default's VGG-style network and on ResNets (torchvision's layout, whose blocks
the plan splits, one block a stage to stay fast; the embedded default's ``small_resnet``, which it
cannot split and so explains plainly); the model passed in is untouched. Ranks equal scipy's."""

import numpy as np
import pytest
import torch
import torchvision
from scipy import stats
from torchvision.models.resnet import BasicBlock

from cameval import metrics
from cameval.explain import explain
from cameval.metrics import sanity
from cameval.metrics.cascade import RandomizedStep
from cameval.metrics.sanity import average_ranks
from cameval.models.registry import build_model


def _plain(model, x, y, method, layer, mode, layers=None, size=None):
    return [
        (name, explain(copy, x, y, method, layer=layer, size=size).detach())
        for name, copy in metrics.randomized_models(model, mode, seed=3, layers=layers)
    ]


def _equal_steps(model, x, method="gradcam", layer=None, mode="cascading", layers=None, size=None):
    with torch.no_grad():
        y = model(x).argmax(1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = _plain(model, x, y, method, layer, mode, layers, size)
    fast = list(metrics.cascading_maps(model, x, y, method, layer, mode=mode, seed=3, layers=layers, size=size))
    assert [n for n, _ in fast] == [n for n, _ in plain]
    for (name, a), (_, b) in zip(plain, fast, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"step {name}")
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    return len(fast)


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return build_model("small_vgg", num_classes=10).eval()


@pytest.mark.parametrize("mode", ["cascading", "independent"])
@pytest.mark.parametrize("method", ["gradcam", "gradcampp", "guided_backprop"])
def test_every_step_of_small_vgg_equals_a_fresh_copy_explained(vgg, method, mode):
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    size = 32 if method != "guided_backprop" else None  # a pixel method: the plain path on the step's model
    assert _equal_steps(vgg, x, method, mode=mode, size=size) == len(metrics.randomizable_layers(vgg))


@pytest.mark.parametrize("layer", ["features.3", "features", "features.0"])
def test_any_layer_of_small_vgg_and_a_subset_of_steps_give_the_plain_maps(vgg, layer):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    assert _equal_steps(vgg, x, layer=layer) == 14
    assert _equal_steps(vgg, x, layer=layer, layers=["features.4", "classifier.0"]) == 2


def test_every_step_of_a_torchvision_resnet_equals_a_fresh_copy_explained():
    """Cascading over every layer; one step each of the independent mode at a block's convolution and
    at the classifier, and a layer inside a block (the shortcut cannot start there: plain maps)."""
    torch.manual_seed(0)
    model = torchvision.models.ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10).eval()  # resnet18's, one block a stage
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    assert _equal_steps(model, x) == len(metrics.randomizable_layers(model))
    assert _equal_steps(model, x, mode="independent", layers=["layer3.0.conv2", "fc"]) == 2
    assert _equal_steps(model, x, layer="layer2.0.conv1", layers=["layer3.0.bn1", "layer1.0.conv1"]) == 2


def test_a_resnet_the_plan_cannot_split_is_explained_plainly_with_the_same_maps():
    torch.manual_seed(0)
    model = build_model("cameval.models.small:small_resnet", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    assert _equal_steps(model, x, layers=["fc", "layer2.0.conv1", "conv1"]) == 3


def test_the_shortcut_runs_only_the_changed_part(vgg, monkeypatch):
    """The original's convolutions run once; then no convolution at the classifier's steps and at the
    last batch norm's, and only the last convolution at its own step."""
    x = torch.randn(2, 3, 32, 32)
    calls = []
    forward = torch.nn.Conv2d.forward
    monkeypatch.setattr(torch.nn.Conv2d, "forward", lambda self, a: calls.append(self) or forward(self, a))
    expected = {"classifier.3": 0, "classifier.0": 0, "features.19": 0, "features.18": 1}
    for k, step in enumerate(metrics.randomized_steps(vgg, x)):
        if k == 0:
            assert len(calls) == sum(isinstance(m, torch.nn.Conv2d) for m in vgg.features)
        calls.clear()
        step.explain_targets(step.model, x, torch.zeros(2, 1, dtype=torch.long))
        assert len(calls) == expected[step.layer], step.layer
        if k + 1 == len(expected):
            break


def test_a_step_refuses_to_explain_after_the_next_one_is_made(vgg):
    x = torch.randn(1, 3, 32, 32)
    steps = metrics.randomized_steps(vgg, x)
    first: RandomizedStep = next(steps)
    next(steps)
    with pytest.raises(RuntimeError, match="classifier.3.*explain each step before"):
        first.explain_targets(first.model, x, torch.zeros(1, 1, dtype=torch.long))


def test_average_ranks_equal_scipys_with_ties_zeros_and_signs():
    rng = np.random.default_rng(0)
    a = np.maximum(rng.normal(size=(6, 500)), 0)
    a[1] = 0
    a[2] = rng.integers(-3, 4, 500)
    a[3, ::2], a[3, 1::2] = -0.0, 0.0
    np.testing.assert_array_equal(average_ranks(a), stats.rankdata(a, axis=1))
    assert average_ranks(np.zeros((2, 0))).shape == (2, 0)


def test_average_ranks_split_over_threads_equal_scipys(monkeypatch):
    rng = np.random.default_rng(2)
    a = np.maximum(rng.normal(size=(7, 300)), 0)  # 7 rows over 3 threads: parts of 3, 2 and 2 rows
    a[4] = 0
    monkeypatch.setattr(sanity, "PARALLEL_RANKS", 1)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    np.testing.assert_array_equal(average_ranks(a), stats.rankdata(a, axis=1))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)  # more threads than rows: one row each
    np.testing.assert_array_equal(average_ranks(a), stats.rankdata(a, axis=1))


def test_similarities_of_k_stacks_against_one_reference_equal_each_stack_alone():
    rng = np.random.default_rng(1)
    a = np.maximum(rng.normal(size=(4, 16, 16)), 0)
    b = np.maximum(rng.normal(size=(3, 4, 16, 16)), 0)
    b[1, 2] = 0  # a constant map: NaN, as alone
    for measure in ("spearman_abs", "spearman", "ssim", "hog"):
        got = metrics.map_similarities(a, b, measure, hog_cell=4)
        expected = np.stack([metrics.map_similarities(a, bk, measure, hog_cell=4) for bk in b])
        np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[1, 2])
    with pytest.raises(ValueError, match=r"expected a stack \[N, H, W\]"):
        metrics.map_similarities(a, b[:, :3])
