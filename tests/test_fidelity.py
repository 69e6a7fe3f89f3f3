"""binarize, contrastivity and fidelity on hand-computed cases (Table 7's definitions)."""

import numpy as np
import pytest
import torch
from torch import nn

from cameval import metrics


def test_binarize_keeps_values_above_the_percentile_of_the_positive_ones():
    m = np.array([[0.0, -1.0, 1.0], [2.0, 3.0, 4.0]])
    # positive values 1, 2, 3, 4; 10th percentile (linear): 1 + 0.1 * 3 * (2 - 1) = 1.3 -> keep 2, 3, 4
    np.testing.assert_array_equal(metrics.binarize(m, 10), [[False, False, False], [True, True, True]])
    # 1st percentile: 1 + 0.03 = 1.03 -> still drops the 1
    np.testing.assert_array_equal(metrics.binarize(m, 1), [[False, False, False], [True, True, True]])
    # 50th: 2.5 -> 3 and 4
    np.testing.assert_array_equal(metrics.binarize(m, 50), [[False, False, False], [False, True, True]])
    # the study's formula, verbatim
    np.testing.assert_array_equal(metrics.binarize(m, 37), m > np.percentile(m[m > 0], 37))


def test_binarize_nothing_positive_gives_an_empty_mask_and_pixel_maps_are_summed():
    assert not metrics.binarize(np.array([[0.0, -1.0], [-2.0, 0.0]]), 10).any()
    assert not metrics.binarize(np.zeros((3, 4, 4)), 1).any()
    # channels sum to [[1, -1], [5, 0]]: positive 1, 5; 10th percentile 1.4 -> only the 5
    chw = np.array([[[1.0, 0.0], [2.0, 0.0]], [[0.0, -1.0], [3.0, 0.0]]])
    np.testing.assert_array_equal(metrics.binarize(chw, 10), [[False, False], [True, False]])


def test_contrastivity_by_hand_with_an_empty_union():
    pos = [[1, 1, 0], [0, 0, 0]]
    masks = np.array(
        [
            pos,
            [[0, 1, 1], [0, 0, 0]],  # XOR 2, OR 3 -> 2/3
            [[0, 0, 0], [1, 1, 1]],  # XOR 5, OR 5 -> 1
            pos,  # identical -> 0
        ],
        dtype=bool,
    )
    assert metrics.contrastivity(masks, 0) == pytest.approx((2 / 3 + 1 + 0) / 3)
    # positive class 2 is disjoint from masks 0, 1 and 3: 1 each
    assert metrics.contrastivity(masks, 2) == pytest.approx(1.0)
    empty = np.zeros((3, 2, 2), dtype=bool)
    empty[2, 0, 0] = True
    # pairs (0,1): empty union -> 0; (0,2): XOR 1 / OR 1 -> 1
    assert metrics.contrastivity(empty, 0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        metrics.contrastivity(empty, 3)


def test_fidelity_by_hand_on_a_linear_softmax():
    # logits = (sum of channel 0 over the masked region R, 0); masking R sets it to 0
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False)).eval()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    x = torch.tensor([[[[2.0, 1.0], [5.0, 5.0]]], [[[-1.0, 0.0], [0.0, 0.0]]]])  # [2, 1, 2, 2]
    masks = np.array([[[True, False], [False, False]], [[False, False], [False, False]]])
    out = metrics.fidelity(net, x, masks, [0, 1])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731 — p(class 0) = sigmoid(logit0 - logit1)
    np.testing.assert_allclose(out["p_before"], [sig(3.0), 1 - sig(-1.0)], rtol=1e-6)
    np.testing.assert_allclose(out["p_after"], [sig(1.0), 1 - sig(-1.0)], rtol=1e-6)  # image 2: nothing masked
    np.testing.assert_allclose(out["drop"], [sig(3.0) - sig(1.0), 0.0], atol=1e-7)
    assert out["pred_before"].tolist() == [0, 1] and out["pred_after"].tolist() == [0, 1]
