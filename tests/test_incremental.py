"""Exact incremental inference (cameval.inference): occlusion maps and one-pixel scores
equal the full forward pass on the edited copies, which these tests build by hand."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cameval.attacks import OnePixelAttack, one_pixel
from cameval.explain import explain
from cameval.inference import IncrementalRunner, patch_tiles, pixel_logits, plan_of
from cameval.models.small import SmallAlexNet, SmallGoogLeNet, SmallVGG

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: small tensors


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
    # sides where a strided block with a projection still runs on tiles (ResNet-18: layer2.0;
    # ResNet-50: layer1.0 and layer2.0, the stride on the Bottleneck's 3x3 conv2)
    "resnet18": (lambda: bn_with_stats(seeded(lambda: torchvision.models.resnet18(weights=None), 20), 20).eval(), 96),
    "resnet50": (lambda: bn_with_stats(seeded(lambda: torchvision.models.resnet50(weights=None), 21), 21).eval(), 64),
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
    with caplog.at_level(logging.INFO, logger="cameval.inference.plans"):
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


@pytest.mark.parametrize(
    "name", ["vgg16", "alexnet", "small_vgg", "small_alexnet", "sequential", "resnet18", "resnet50"]
)
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


def test_residual_blocks_count_their_tiles_in_the_flop_model():
    """An identity BasicBlock, then a stride-2 one with a 1x1 projection, on 16x16; one pixel at (7, 7).
    Block 1: conv1 rows 6..8 (3), conv2 5..9 (5), identity 7: its output tile is 5x5. Block 2
    (stride 2, pad 1): conv1 rows 2..5 (4 of 8), conv2 1..6 (6), projection 3..4 (2): tile 6x6."""
    torch.manual_seed(22)
    down = nn.Sequential(nn.Conv2d(2, 4, 1, stride=2, bias=False), nn.BatchNorm2d(4))
    model = bn_with_stats(
        nn.Sequential(
            torchvision.models.resnet.BasicBlock(2, 2),
            torchvision.models.resnet.BasicBlock(2, 4, stride=2, downsample=down),
            nn.Flatten(),
            nn.Linear(256, 3),
        ),
        22,
    ).eval()
    x = torch.randn(1, 2, 16, 16, generator=torch.Generator().manual_seed(23))
    runner = IncrementalRunner(plan_of(model)[0], x)
    full, incr = runner.macs(torch.tensor([[7, 8, 7, 8]]))
    a, b1, b2, proj, fc = 2 * 2 * 9, 4 * 2 * 9, 4 * 4 * 9, 4 * 2, 256 * 3
    assert full == a * 256 * 2 + (b1 + b2 + proj) * 64 + fc
    assert incr == a * 9 + a * 25 + b1 * 16 + b2 * 36 + proj * 4 + fc
    xe = x.clone()
    xe[0, :, 7, 7] = torch.tensor([2.0, -3.0])
    ours = runner.logits(torch.tensor([[7, 8, 7, 8]]), xe[:, :, 7:8, 7:8], [7], [7])
    with torch.no_grad():
        expected = model(xe)
    assert (expected - runner.clean_logits).abs().max() > 1e-3 * expected.abs().max()
    assert (ours - expected).abs().max() <= 2e-5 * expected.abs().max()


@pytest.mark.parametrize("name,blocks_on_tiles,first_whole", [("resnet18", 4, "layer3.0"), ("resnet50", 6, "layer2.3")])
def test_resnet_blocks_run_on_tiles_until_the_switch(models, name, blocks_on_tiles, first_whole):
    """The equality tests would also pass on a silent fall-back to whole maps: here a block's own
    forward (what the whole-map path calls) must not run for the blocks before the switch, the
    strided blocks with a projection among them, and must run from the switch on."""
    model, side = models[name]
    blocks = [(f"layer{i}.{j}", b) for i in range(1, 5) for j, b in enumerate(getattr(model, f"layer{i}"))]
    ran = []
    hooks = [b.register_forward_hook(lambda m, i, o, n=n: ran.append(n)) for n, b in blocks]
    try:
        c = side // 2
        pixel_logits(model, torch.randn(3, side, side), torch.tensor([c]), torch.tensor([c]), torch.ones(1, 3))
    finally:
        for h in hooks:
            h.remove()
    assert any(b.downsample is not None for _, b in blocks[:blocks_on_tiles])
    assert [n for n, _ in blocks[blocks_on_tiles:]] == ran
    assert ran[0] == first_whole


@pytest.mark.parametrize(
    "name,side,patch,stride",
    [("resnet18", 32, 3, 1), ("resnet18", 96, 8, 7), ("resnet50", 64, 12, 9), ("resnet50", 64, 5, 6)],
)
def test_resnet_occlusion_maps_equal_the_full_path_in_float32(models, name, side, patch, stride):
    """``explain(method="occlusion")`` on torchvision's ResNets (eval-mode batch norm with random
    statistics): incremental and full maps agree to float32 rounding, border centres included."""
    model, _ = models[name]
    assert plan_of(model)[0] is not None
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(24))
    kw = dict(patch=patch, stride=stride, fill=(0.2, -0.4, 0.9), batch_size=37)
    fast = explain(model, x, torch.tensor([3]), "occlusion", **kw)
    full = explain(model, x, torch.tensor([3]), "occlusion", incremental=False, **kw)
    with torch.no_grad():
        scale = model(x).abs().max()
    assert fast.shape == full.shape == (1, -(-side // stride), -(-side // stride))
    assert full.abs().max() > 1e-3 * scale
    assert (fast - full).abs().max() <= 2e-5 * scale


def test_resnet50_at_224_equals_full_forward_passes(models):
    """The study's input size, patch 25, corners and interior: tiles through layer3's projection block."""
    model, _ = models["resnet50"]
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(25))
    centres = [(0, 0), (223, 223), (112, 5), (60, 170)]
    ci = torch.tensor(centres)
    r0, c0 = (ci[:, 0] - 12).clamp(min=0), (ci[:, 1] - 12).clamp(min=0)
    r1, c1 = (ci[:, 0] + 13).clamp(max=224), (ci[:, 1] + 13).clamp(max=224)
    ours = IncrementalRunner(plan_of(model)[0], x).logits(*patch_tiles(x[0], r0, r1, c0, c1, torch.tensor(0.0)))
    with torch.no_grad():
        expected = model(occluded_by_hand(x[0], centres, 25, 0.0))
    assert (ours - expected).abs().max() <= 2e-5 * expected.abs().max()


def test_one_pixel_attack_on_a_resnet_equals_the_full_path():
    """The attack scores its populations incrementally on a ResNet-18; every result equals the full path's."""
    model = bn_with_stats(seeded(lambda: torchvision.models.resnet18(weights=None, num_classes=10), 26), 26).eval()
    assert plan_of(model)[0] is not None
    pixels = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(27))
    with torch.no_grad():
        labels = model(pixels).argmax(1)
    fast = one_pixel(model, pixels, labels, attack=OnePixelAttack(population=16, generations=3, seed=1))
    full = one_pixel(
        model, pixels, labels, attack=OnePixelAttack(population=16, generations=3, seed=1), incremental=False
    )
    for key in ("success", "pixel", "colour", "generations", "pred_after", "evaluations"):
        np.testing.assert_array_equal(getattr(fast, key), getattr(full, key), err_msg=key)
    np.testing.assert_allclose(fast.p_after, full.p_after, rtol=1e-5, atol=1e-7)


def test_resnets_that_do_not_fit_take_the_full_path(caplog):
    """Group norm (not pointwise), a block subclass (its forward may differ), train mode: no plan."""
    torch.manual_seed(28)
    group = torchvision.models.resnet18(weights=None, num_classes=4, norm_layer=lambda c: nn.GroupNorm(2, c)).eval()
    assert "bn1 (GroupNorm)" in plan_of(group)[1]

    class Block(torchvision.models.resnet.BasicBlock):
        pass

    custom = torchvision.models.resnet18(weights=None, num_classes=4).eval()
    custom.layer1[1] = Block(64, 64).eval()
    plan, why = plan_of(custom)
    assert plan is None and why == "no exact tiling for layer1.1 (Block)"
    assert plan_of(torchvision.models.resnet18(weights=None).train())[0] is None
    x = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(29))
    rows, cols, values = torch.tensor([0, 15, 31]), torch.tensor([4, 15, 31]), torch.randn(3, 3)
    with caplog.at_level(logging.INFO, logger="cameval.inference.plans"):
        for _ in range(2):
            ours = pixel_logits(group, x, rows, cols, values)
    assert len([r for r in caplog.records if "full forward passes for ResNet" in r.getMessage()]) == 1
    torch.testing.assert_close(ours, full_pixel_logits(group, x, rows, cols, values), rtol=1e-5, atol=1e-6)


def test_crops_and_pastes_are_the_slice_copies_they_replace():
    """The engine's gather and scatter against the loop of slice copies they replaced, at offsets
    where the tile overlaps the crop fully, partly (every border) and not at all."""
    from cameval.inference.tiles import crops as _crops
    from cameval.inference.tiles import hwc as _hwc
    from cameval.inference.tiles import paste_ as _paste_

    gen = torch.Generator().manual_seed(0)
    src = _hwc(torch.randn(5, 12, 11, generator=gen))
    ys, xs = [0, 3, 7, 1, 5], [0, 2, 6, 4, 1]
    crops = _crops(src, ys, xs, 5, 5)
    assert crops.is_contiguous(memory_format=torch.channels_last)
    for b, (y, x) in enumerate(zip(ys, xs, strict=True)):
        assert torch.equal(crops[b], src[:, y : y + 5, x : x + 5])
    tile = torch.randn(5, 5, 3, 4, generator=gen)
    dy, dx, oy, ox = [2, 2, 0, 1, 0], [3, 3, 0, 9, 1], [1, 4, -2, 20, 3], [2, 5, -1, 0, -3]
    ours = _paste_(crops.clone(), dy, dx, tile, oy, ox)
    ref = crops.clone()
    for b, (y0, x0, ty, tx) in enumerate(zip(dy, dx, oy, ox, strict=True)):
        r0, r1, c0, c1 = max(ty, y0), min(ty + 3, y0 + 5), max(tx, x0), min(tx + 4, x0 + 5)
        if r0 < r1 and c0 < c1:
            ref[b, :, r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] = tile[b, :, r0 - ty : r1 - ty, c0 - tx : c1 - tx]
    assert torch.equal(ours, ref) and not torch.equal(ref, crops)  # something was pasted
    assert torch.equal(ours[3], crops[3])  # copy 3's tile lies outside its crop
