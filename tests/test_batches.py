"""The batch driver of the costly stages (cameval.batches): rows in order, the images as the model sees them."""

import numpy as np
import pytest
import torch

from cameval import batches
from cameval.data.images import ImageSet
from cameval.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A tiny digits image set (32 px; 4/2/7 images) and a random 10-class small_vgg."""
    from cameval.data.digits import DigitsLocSpec, make_digits_loc
    from cameval.models import build_model
    from cameval.models.registry import save_model

    root = tmp_path_factory.mktemp("digits")
    make_digits_loc(
        root / "images.h5",
        root / "manifest.csv",
        DigitsLocSpec(size=32, counts={"train": 4, "val": 2, "test": 7}, clutter=1, seed=0),
    )
    torch.manual_seed(0)
    save_model(
        build_model("small_vgg", num_classes=10), root / "model.safetensors", "small_vgg", build={"num_classes": 10}
    )
    return {k: str(root / f) for k, f in [("images", "images.h5"), ("manifest", "manifest.csv")]} | {
        "weights": str(root / "model.safetensors")
    }


def test_batches_cover_the_rows_in_order_and_their_arrays_are_concatenated(digits):
    model, rows = batches.load(digits["weights"], digits["manifest"], "test", 1, 6)
    seen = []

    def step(model, batch):
        seen.append((batch.offset, batch.positions, list(batch.rows["id"])))
        return {"index": batch.rows["index"].to_numpy(), "twice": np.repeat(batch.rows["index"].to_numpy(), 2)}

    got = batches.run(model, digits["images"], rows, step, batch_size=2, progress=False)
    ids = list(rows["id"])
    assert seen == [(0, slice(0, 2), ids[0:2]), (2, slice(2, 4), ids[2:4]), (4, slice(4, 5), ids[4:5])]
    assert got["index"].tolist() == rows["index"].tolist()
    assert got["twice"].tolist() == [i for i in rows["index"].tolist() for _ in range(2)]


def test_a_batch_holds_the_stored_pixels_and_the_image_sets_normalization(digits):
    model, rows = batches.load(digits["weights"], digits["manifest"], "test")
    with ImageSet(digits["images"]) as imgs:
        expected_x, clean, mean, std = (
            imgs.tensor(rows["index"].to_numpy()),
            imgs.uint8(rows["index"].to_numpy()),
            imgs.mean,
            imgs.std,
        )
    parts = {"x": [], "pixels": [], "clean": []}

    def step(model, batch):
        parts["x"].append(batch.x)
        parts["pixels"].append(batch.pixels)
        parts["clean"].append(batch.clean)
        assert batch.x.is_contiguous()
        assert torch.equal(batch.normalize(batch.pixels), batch.x)
        return {}

    assert batches.run(model, digits["images"], rows, step, batch_size=3, progress=False) == {}
    x = torch.cat(parts["x"])
    assert torch.equal(x, expected_x)  # the very numbers ImageSet.tensor gives, batch by batch
    assert np.array_equal(np.concatenate(parts["clean"]), clean)
    by_hand = (clean.transpose(0, 3, 1, 2) / 255.0 - np.reshape(mean, (1, -1, 1, 1))) / np.reshape(std, (1, -1, 1, 1))
    np.testing.assert_allclose(x.numpy(), by_hand, atol=1e-5)
    np.testing.assert_allclose(torch.cat(parts["pixels"]).numpy(), clean.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)


def test_rows_past_the_end_of_the_split_name_the_shard(digits):
    with pytest.raises(ConfigError, match=r"shard 3: rows 7\.\.9 are past the end of split 'test'"):
        batches.load(digits["weights"], digits["manifest"], "test", 7, 9, shard=3)
    with pytest.raises(DataError, match=r"rows 8\.\.9 are past the end of split 'test'"):
        batches.load(digits["weights"], digits["manifest"], "test", 8, 9, error=DataError)
    with pytest.raises(DataError, match=r"7 rows with split 'test', the config says 6"):
        batches.load(digits["weights"], digits["manifest"], "test", expected=6)
