"""One-pixel attack: a network with one known weak pixel, one with none, reproducibility, the scorer."""

import numpy as np
import pytest
import torch
from torch import nn

from cameval.attacks import OnePixelAttack, one_pixel, population_logits
from helpers import tiny_classifier

H = W = 8
WEAK = (5, 2)  # (row, col)


def weak_pixel_net(channels=3):
    """logit0 = 0; logit1 = 4 * (sum of the channels at WEAK, pixel space) - 5: only that pixel,
    made bright (channel sum > 1.25), flips class 0 to class 1; no other pixel matters."""
    lin = nn.Linear(channels * H * W, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([0.0, -5.0]))
        for ch in range(channels):
            lin.weight[1, ch * H * W + WEAK[0] * W + WEAK[1]] = 4.0
    return nn.Sequential(nn.Flatten(), lin).eval()


def robust_net(channels=3):
    """logit0 = 5; logit1 = mean of all pixels (<= 1): no single pixel can flip it."""
    lin = nn.Linear(channels * H * W, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[1] = 1.0 / (channels * H * W)
        lin.bias.copy_(torch.tensor([5.0, 0.0]))
    return nn.Sequential(nn.Flatten(), lin).eval()


def test_finds_the_only_weak_pixel_at_its_coordinates():
    pixels = torch.zeros(2, 3, H, W)
    res = one_pixel(
        weak_pixel_net(), pixels, torch.tensor([0, 0]), attack=OnePixelAttack(population=40, generations=30, seed=0)
    )
    assert res.success.tolist() == [True, True]
    assert [tuple(p) for p in res.pixel] == [WEAK, WEAK]
    assert res.pred_after.tolist() == [1, 1] and res.pred_before.tolist() == [0, 0]
    # by hand: p(label 0) = 1 / (1 + exp(4 * sum/255 - 5)) at the colour found, and 1 / (1 + e^-5) before
    for i in range(2):
        total = res.colour[i].astype(float).sum() / 255
        assert total > 1.25
        assert res.p_after[i] == pytest.approx(1 / (1 + np.exp(4 * total - 5)), rel=1e-5)
        assert res.p_before[i] == pytest.approx(1 / (1 + np.exp(-5)), rel=1e-6)
        # the adversarial image differs from the clean one in that pixel only, by the colour reported
        diff = (res.adversarial[i] - pixels[i]).abs().sum(0)
        assert torch.nonzero(diff).tolist() == [list(WEAK)]
        torch.testing.assert_close(
            res.adversarial[i, :, WEAK[0], WEAK[1]], torch.as_tensor(res.colour[i], dtype=torch.float32) / 255
        )
    assert (res.generations <= 30).all()


def test_stops_as_soon_as_the_best_candidate_is_misclassified():
    res = one_pixel(
        weak_pixel_net(),
        torch.zeros(1, 3, H, W),
        torch.tensor([0]),
        attack=OnePixelAttack(population=40, generations=30, seed=0),
    )
    # generation g scores the initial population plus g populations of children, nothing more
    assert res.evaluations[0] == 40 * (1 + res.generations[0])
    assert res.generations[0] < 30


def test_no_weakness_reports_failure_and_invents_nothing():
    pixels = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1))
    res = one_pixel(
        robust_net(), pixels, torch.tensor([0, 0]), attack=OnePixelAttack(population=20, generations=5, seed=0)
    )
    assert res.success.tolist() == [False, False]
    assert res.pred_after.tolist() == [0, 0]
    assert res.generations.tolist() == [5, 5] and res.evaluations.tolist() == [20 * 6, 20 * 6]
    assert (res.p_after <= res.p_before + 1e-12).all()


def test_grayscale_images_and_the_normalization():
    # one channel, mean 0.5 / std 0.25: the weak pixel must reach (v - 0.5) / 0.25 * 4 - 5 > 0, v > 0.8125
    res = one_pixel(
        weak_pixel_net(1),
        torch.zeros(1, 1, H, W),
        torch.tensor([0]),
        mean=(0.5,),
        std=(0.25,),
        attack=OnePixelAttack(population=40, generations=40, seed=3),
    )
    assert res.success[0] and tuple(res.pixel[0]) == WEAK and res.colour.shape == (1, 1)
    assert res.colour[0, 0] / 255 > 0.8125


def test_same_seed_same_result_and_shards_agree_with_one_call():
    net, pixels = weak_pixel_net(), torch.rand(3, 3, H, W, generator=torch.Generator().manual_seed(2)) * 0.2
    labels = torch.zeros(3, dtype=torch.long)
    a = one_pixel(net, pixels, labels, attack=OnePixelAttack(population=12, generations=4, seed=7))
    b = one_pixel(net, pixels, labels, attack=OnePixelAttack(population=12, generations=4, seed=7))
    for key in ("success", "pixel", "colour", "generations", "p_after", "pred_after"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    torch.testing.assert_close(a.adversarial, b.adversarial)
    # images 1..2 as their own call (a second shard) give the same attacks as in the whole call
    c = one_pixel(
        net, pixels[1:], labels[1:], attack=OnePixelAttack(population=12, generations=4, seed=7), first_index=1
    )
    np.testing.assert_array_equal(c.pixel, a.pixel[1:])
    np.testing.assert_array_equal(c.colour, a.colour[1:])


def test_population_logits_equals_a_loop_of_single_forward_passes():
    model = tiny_classifier(seed=0)
    x = torch.randn(3, H, W)
    rows, cols = torch.tensor([0, 7, 3, 3, 5]), torch.tensor([0, 7, 1, 1, 6])
    values = torch.randn(5, 3)
    got = population_logits(model, x, rows, cols, values, batch_size=2)
    for i in range(5):
        xi = x.clone()
        xi[:, rows[i], cols[i]] = values[i]
        torch.testing.assert_close(got[i], model(xi[None])[0])


def test_incremental_scoring_gives_the_attack_of_full_forward_passes_on_a_small_vgg():
    """The small VGG takes the incremental path; the attack's every result equals the full path's."""
    from cameval.inference import plan_of
    from cameval.models.small import SmallVGG

    torch.manual_seed(0)
    model = SmallVGG(num_classes=10).eval()
    assert plan_of(model)[0] is not None  # really incremental, not a silent fall-back
    pixels = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    labels = model(pixels).argmax(1)
    fast = one_pixel(model, pixels, labels, attack=OnePixelAttack(population=16, generations=3, seed=1))
    full = one_pixel(
        model, pixels, labels, attack=OnePixelAttack(population=16, generations=3, seed=1), incremental=False
    )
    for key in ("success", "pixel", "colour", "generations", "pred_after", "evaluations"):
        np.testing.assert_array_equal(getattr(fast, key), getattr(full, key), err_msg=key)
    np.testing.assert_allclose(fast.p_after, full.p_after, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "kw, match",
    [({"population": 3}, "at least 4 candidates"), ({"generations": -1}, "generations"), ({"f": 0.0}, "f > 0")],
)
def test_an_attack_that_cannot_run_is_refused_when_it_is_made(kw, match):
    with pytest.raises(ValueError, match=match):
        OnePixelAttack(**kw)
    assert OnePixelAttack() == OnePixelAttack(population=400, generations=100, f=0.5, seed=0)  # the study's
