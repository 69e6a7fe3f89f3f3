"""The one normalization and the one "set the attacked pixel" (cameval.pixels), on numbers worked out by hand."""

import numpy as np
import pytest
import torch

from cameval.pixels import normalize, set_pixels


def test_normalize_images_channel_by_channel_by_hand():
    # two channels of a 1x2 image: (0.5 - 0.25) / 0.5 = 0.5, (1 - 0.25) / 0.5 = 1.5; (0 - 1) / 2 = -0.5, (1 - 1) / 2 = 0
    pixels = torch.tensor([[[[0.5, 1.0]], [[0.0, 1.0]]]])
    got = normalize(pixels, [0.25, 1.0], [0.5, 2.0])
    assert got.dtype == torch.float32 and got.shape == (1, 2, 1, 2)
    assert got.tolist() == [[[[0.5, 1.5]], [[-0.5, 0.0]]]]
    # [C, H, W] (one image), a numpy image, and mean / std given as [1, C, 1, 1] tensors: the same numbers
    assert normalize(pixels[0], [0.25, 1.0], [0.5, 2.0]).tolist() == got[0].tolist()
    assert normalize(pixels.numpy(), np.array([0.25, 1.0]), (0.5, 2.0)).tolist() == got.tolist()
    mean, std = torch.tensor([0.25, 1.0]).view(1, 2, 1, 1), torch.tensor([0.5, 2.0]).view(1, 2, 1, 1)
    assert normalize(pixels, mean, std).tolist() == got.tolist()


def test_normalize_colours_on_the_last_axis_and_one_value_for_every_channel():
    # a fill of 0.5 gray for mean (0.5, 0.25, 0) and std (0.5, 0.25, 0.5): 0, 1, 1 (float64 numpy stays float64)
    fill = normalize(np.full(3, 0.5), [0.5, 0.25, 0.0], [0.5, 0.25, 0.5], channel_axis=-1)
    assert fill.dtype == np.float64 and fill.tolist() == [0.0, 1.0, 1.0]
    # candidates [P, C]: (1 - 0.5) / 0.5 = 1 and (0 - 0.5) / 0.5 = -1 per channel
    values = normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), [0.5, 0.5], [0.5, 0.5], channel_axis=-1)
    assert values.tolist() == [[1.0, -1.0], [-1.0, 1.0]]
    # one mean and std for every channel of a grayscale or RGB image: (0.75 - 0.5) / 0.25 = 1
    assert normalize(torch.full((1, 3, 2, 2), 0.75), [0.5], [0.25]).unique().tolist() == [1.0]
    with pytest.raises(ValueError, match="channel_axis"):
        normalize(fill, [0.0], [1.0], channel_axis=0)


def test_normalize_gives_the_float32_numbers_of_the_image_set():
    """float32 arithmetic, as ImageSet.tensor: (v / 255 - mean) / std with mean and std rounded to float32."""
    v = torch.tensor([[[[37.0]]]]) / 255
    want = (np.float32(37) / np.float32(255) - np.float32(0.485)) / np.float32(0.229)
    assert normalize(v, [0.485], [0.229]).item() == want


def test_set_pixels_changes_each_images_own_pixel_only():
    # image 0: pixel (row 1, col 0) to (255, 0, 51) / 255 = (1, 0, 0.2); image 1: (0, 2) to (0, 255, 0)
    pixels = torch.full((2, 3, 2, 3), 0.5)
    out = set_pixels(pixels, [1, 0], [0, 2], np.array([[255, 0, 51], [0, 255, 0]], dtype=np.uint8))
    assert out is pixels  # in place
    want = torch.full((2, 3, 2, 3), 0.5)
    want[0, :, 1, 0] = torch.tensor([1.0, 0.0, 51 / 255])
    want[1, :, 0, 2] = torch.tensor([0.0, 1.0, 0.0])
    assert torch.equal(out, want)
    assert out[0, 2, 1, 0].item() == np.float32(51) / np.float32(255)  # divided in the images' dtype


def test_set_pixels_on_numpy_a_view_and_grayscale():
    # numpy float32, one channel: image 0 pixel (0, 1) to 102 / 255 = 0.4, image 1 pixel (1, 1) to 0
    pixels = np.ones((2, 1, 2, 2), dtype=np.float32)
    set_pixels(pixels, np.array([0, 1]), np.array([1, 1]), [[102], [0]])
    assert pixels.dtype == np.float32
    assert pixels[:, 0].tolist() == [[[1.0, np.float32(102) / np.float32(255)], [1.0, 1.0]], [[1.0, 1.0], [1.0, 0.0]]]
    # one image of a batch through a view (as the attack sets each image's best pixel): the batch changes
    batch = torch.zeros(3, 3, 2, 2)
    set_pixels(batch[1:2], [1], [1], [[255, 255, 255]])
    assert batch.sum().item() == 3.0 and batch[1, :, 1, 1].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="colours"):
        set_pixels(batch, [0, 0, 0], [0, 0, 0], [[1, 2, 3]])
