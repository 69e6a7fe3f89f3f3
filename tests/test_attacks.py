"""FGSM against captum's implementation and a hand-derived case."""

import pytest
import torch
from torch import nn

from cameval.attacks import fgsm
from helpers import tiny_classifier


def test_fgsm_by_hand_on_a_linear_model():
    # two classes, logits = W x: d CE / d x = W^T (softmax - onehot); for the true class 0 the
    # sign is sign(w1 - w0) per input; the step is eps in pixel space, clipped to [0, 1]
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, -0.5]]))
    flat = nn.Sequential(nn.Flatten(), model)
    x = torch.tensor([[0.5, 0.99, 0.3]]).reshape(1, 3, 1, 1)
    adv = fgsm(flat, x, torch.tensor([0]), eps=0.1, mean=(0, 0, 0), std=(1, 1, 1))
    # sign(w1 - w0) = (-1, +1, -1): 0.5 - 0.1, min(0.99 + 0.1, 1), 0.3 - 0.1
    torch.testing.assert_close(adv.flatten(), torch.tensor([0.4, 1.0, 0.2]))


def test_fgsm_equals_captum_in_pixel_space_through_the_normalization():
    from captum.robust import FGSM

    model = tiny_classifier(seed=0)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    m, s = torch.tensor(mean).reshape(1, 3, 1, 1), torch.tensor(std).reshape(1, 3, 1, 1)
    pixels, labels = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    ours = fgsm(model, pixels, labels, 0.03, mean, std)
    oracle = FGSM(
        lambda p: model((p - m) / s), nn.CrossEntropyLoss(reduction="none"), lower_bound=0.0, upper_bound=1.0
    ).perturb(pixels, 0.03, labels)
    torch.testing.assert_close(ours, oracle)
    assert ours.min() >= 0 and ours.max() <= 1
    assert (ours - pixels).abs().max() <= 0.03 + 1e-6
    assert all(p.grad is None for p in model.parameters())


def test_fgsm_refuses_a_negative_eps():
    with pytest.raises(ValueError, match="eps"):
        fgsm(nn.Identity(), torch.rand(1, 3, 2, 2), torch.tensor([0]), -0.1)
