"""Exact incremental inference (cameval.explain.incremental): occlusion maps and one-pixel scores
equal the full forward pass on the edited copies, which these tests build by hand."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
import torchvision
from torch import nn

from cameval.explain import explain
from cameval.explain.incremental import IncrementalRunner, patch_tiles, pixel_logits, plan_of
from cameval.models.small import SmallAlexNet, SmallGoogLeNet, SmallVGG


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def seeded(build, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build().eval()


def kaiming(model: nn.Module) -> nn.Module:
    """Kaiming weights keep a deep random network's logits O(1), so a wrong tile shows."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model


def bn_with_stats(model: nn.Module, seed: int) -> nn.Module:
    """Batch norm with non-trivial running statistics (as after training)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def odd_sequential() -> nn.Sequential:
    """Every geometry the engine tiles: dilation, asymmetric kernel/stride/padding, max pools with
    padding and ceil_mode, average pools, grouped convs, then a head the engine does not tile."""
    return nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=(1, 2), padding=(1, 2)),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2),
        nn.LeakyReLU(0.1),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Conv2d(8, 12, 4, stride=1, padding=1),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(12, 12, 1),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(48, 5),
    )


MODELS = {  # name: (builder, input side)
    "vgg16": (lambda: kaiming(seeded(torchvision.models.vgg16, 0)), 32),
    "vgg16_bn": (lambda: bn_with_stats(kaiming(seeded(torchvision.models.vgg16_bn, 1)), 1).eval(), 32),
    "alexnet": (lambda: kaiming(seeded(torchvision.models.alexnet, 2)), 64),
    "small_vgg": (lambda: bn_with_stats(seeded(SmallVGG, 3), 3).eval(), 32),
    "small_alexnet": (lambda: seeded(SmallAlexNet, 4), 32),
    "sequential": (lambda: bn_with_stats(seeded(odd_sequential, 5), 5).eval(), 29),
}


@pytest.fixture(scope="module")
def models():
    return {name: (build(), side) for name, (build, side) in MODELS.items()}


def occluded_by_hand(x: torch.Tensor, centres, patch: int, fill: float) -> torch.Tensor:
    """Copies of ``x [C, H, W]``, each with the clipped square written pixel by pixel."""
    _, h, w = x.shape
    out = x.expand(len(centres), -1, -1, -1).clone()
    for b, (i, j) in enumerate(centres):
        for r in range(i - patch // 2, i - patch // 2 + patch):
            for s in range(j - patch // 2, j - patch // 2 + patch):
                if 0 <= r < h and 0 <= s < w:
                    out[b, :, r, s] = fill
    return out


def border_and_interior(side: int):
    m = side // 2
    return [
        (0, 0),
        (0, side - 1),
        (side - 1, 0),
        (side - 1, side - 1),
        (m, 0),
        (0, m + 1),
        (m, m),
        (m - 3, m + 5),
        (1, side - 2),
        (side - 2, 2),
    ]


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("patch", [1, 4, 7, 12])
def test_incremental_logits_equal_full_forward_in_float64(models, name, patch):
    """In float64 the engine's logits equal the full forward pass to 1e-12 of their scale:
    nothing but summation order differs (interior, edge and corner positions, odd and even patches)."""
    model, side = models[name]
    model = copy.deepcopy(model).double()
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    centres = border_and_interior(side)
    plan, why = plan_of(model)
    assert plan is not None, why
    runner = IncrementalRunner(plan, x)
    ci = torch.tensor(centres)
    lo = patch // 2
    r0, c0 = (ci[:, 0] - lo).clamp(min=0), (ci[:, 1] - lo).clamp(min=0)
    r1, c1 = (ci[:, 0] - lo + patch).clamp(max=side), (ci[:, 1] - lo + patch).clamp(max=side)
    ours = runner.logits(*patch_tiles(x[0], r0, r1, c0, c1, torch.tensor(0.3, dtype=x.dtype)))
    with torch.no_grad():
        expected = model(occluded_by_hand(x[0], centres, patch, 0.3))
        clean = model(x)
    scale = expected.abs().max()
    assert (expected - clean).abs().max() > 1e-6 * scale  # the patches do change the logits
    assert (ours - expected).abs().max() <= 1e-12 * scale
    torch.testing.assert_close(runner.clean_logits, clean, rtol=0, atol=1e-12 * float(scale))


@pytest.mark.parametrize(
    "name,patch,stride",
    [
        ("small_vgg", 7, 1),
        ("small_vgg", 12, 3),
        ("small_alexnet", 13, 1),
        ("small_alexnet", 6, 2),
        ("sequential", 5, 1),
        ("sequential", 4, 2),
        ("vgg16", 9, 5),
        ("alexnet", 10, 7),
    ],
)
def test_occlusion_maps_equal_the_full_path_in_float32(models, name, patch, stride):
    """``explain(method="occlusion")`` takes the engine by default; ``incremental=False`` forces
    the full path; the maps agree to float32 rounding (relative to the logits' scale)."""
    model, side = models[name]
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(8))
    target = torch.tensor([3])
    kw = dict(patch=patch, stride=stride, fill=(0.2, -0.4, 0.9), batch_size=37)
    fast = explain(model, x, target, "occlusion", **kw)
    full = explain(model, x, target, "occlusion", incremental=False, **kw)
    with torch.no_grad():
        scale = model(x).abs().max()
    assert fast.shape == full.shape == (1, -(-side // stride), -(-side // stride))
    assert full.abs().max() > 1e-3 * scale
    assert (fast - full).abs().max() <= 2e-5 * scale


def test_unknown_models_take_the_full_path_said_once_in_the_log(caplog):
    model = seeded(SmallGoogLeNet, 6)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(9))
    with caplog.at_level(logging.INFO, logger="cameval.explain.incremental"):
        a = explain(model, x, 1, "occlusion", patch=5, stride=4)
        b = explain(model, x, 1, "occlusion", patch=3, stride=4)
    said = [r for r in caplog.records if "full forward passes for SmallGoogLeNet" in r.getMessage()]
    assert len(said) == 1
    torch.testing.assert_close(
        a, explain(model, x, 1, "occlusion", patch=5, stride=4, incremental=False), rtol=0, atol=0
    )
    assert b.shape == (2, 4, 4)


def test_train_mode_and_subclasses_are_not_tiled():
    model = seeded(SmallVGG, 3)
    assert plan_of(model)[0] is not None
    assert plan_of(model.train())[0] is None

    class Custom(SmallVGG):
        def forward(self, x):
            return super().forward(x) * 2

    assert plan_of(Custom().eval())[0] is None
    assert plan_of(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)).eval())[0] is None


def full_pixel_logits(model, x, rows, cols, values):
    """The plain batched forward pass on the edited copies, written out per copy."""
    xb = x.expand(len(rows), -1, -1, -1).clone()
    for p in range(len(rows)):
        xb[p, :, int(rows[p]), int(cols[p])] = values[p]
    with torch.no_grad():
        return model(xb)


@pytest.mark.parametrize("name", ["vgg16", "alexnet", "small_vgg", "small_alexnet", "sequential"])
def test_pixel_logits_equal_a_plain_forward_pass(models, name):
    model, side = models[name]
    g = torch.Generator().manual_seed(11)
    x = torch.randn(3, side, side, generator=g)
    p = 24
    rows = torch.cat([torch.tensor([0, side - 1, 0, side - 1]), torch.randint(0, side, (p - 4,), generator=g)])
    cols = torch.cat([torch.tensor([0, 0, side - 1, side - 1]), torch.randint(0, side, (p - 4,), generator=g)])
    values = torch.randn(p, 3, generator=g) * 3
    ours = pixel_logits(model, x, rows, cols, values, batch_size=10)
    expected = full_pixel_logits(model, x, rows, cols, values)
    scale = expected.abs().max()
    assert (
        expected - full_pixel_logits(model, x, rows[:1].repeat(p), cols[:1].repeat(p), values)
    ).abs().max() > 1e-5 * scale
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max() <= 2e-5 * scale


def test_pixel_logits_fall_back_to_the_full_forward_for_googlenet():
    torch.manual_seed(12)
    model = torchvision.models.googlenet(init_weights=True, aux_logits=False).eval()
    g = torch.Generator().manual_seed(13)
    x = torch.randn(3, 40, 40, generator=g)
    rows, cols, values = torch.tensor([0, 17, 39]), torch.tensor([5, 17, 39]), torch.randn(3, 3, generator=g)
    ours = pixel_logits(model, x, rows, cols, values)
    torch.testing.assert_close(ours, full_pixel_logits(model, x, rows, cols, values), rtol=1e-5, atol=1e-6)


def test_pixel_logits_refuses_mismatched_shapes(models):
    model, side = models["small_vgg"]
    with pytest.raises(ValueError, match=r"values \[P, 3\]"):
        pixel_logits(model, torch.zeros(3, side, side), torch.tensor([1, 2]), torch.tensor([1, 2]), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="one image"):
        pixel_logits(model, torch.zeros(1, 3, side, side), torch.tensor([1]), torch.tensor([1]), torch.zeros(1, 3))


def test_flop_counts_follow_the_layer_shapes():
    """A 3x3 conv (pad 1) on 8x8 then a 2x2 pool: one pixel changes a 3x3 output tile."""
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 1, 3, padding=1), nn.Flatten(), nn.Linear(16, 3)
    ).eval()
    runner = IncrementalRunner(plan_of(model)[0], torch.zeros(1, 2, 8, 8))
    full, incr = runner.macs(torch.tensor([[3, 4, 3, 4]]))
    conv1, conv2, fc = 4 * 2 * 9 * 64, 1 * 4 * 9 * 16, 16 * 3
    # conv1 tile 3x3; pool: rows 2..4 -> 1..2 (2x2); conv2 (pad 1): rows 0..3 -> 4x4 = the whole map
    assert full == conv1 + conv2 + fc
    assert incr == 4 * 2 * 9 * 9 + conv2 + fc
