"""digits-28 (one channel), one-channel image sets, and the torchvision builder's offline error."""

import numpy as np
import pytest
import torch

from cameval.data import ImageSet, read_manifest
from cameval.data.digits import split_sources
from cameval.data.digits28 import make_digits_28
from cameval.errors import DataError


@pytest.fixture(scope="module")
def digits28(tmp_path_factory):
    d = tmp_path_factory.mktemp("d28")
    make_digits_28(d / "images.h5", d / "manifest.csv", {"train": 40, "val": 10, "test": 20}, seed=0,
                   mean=0.2, std=0.25)
    return d


def test_digits28_is_one_channel_normalized_and_split_by_source(digits28):
    from sklearn.datasets import load_digits

    imgs, man = ImageSet(digits28 / "images.h5"), read_manifest(digits28 / "manifest.csv")
    assert imgs.shape == (70, 28, 28, 1) and imgs.channels == 1
    raw = imgs.uint8(np.arange(3))
    torch.testing.assert_close(imgs.tensor(np.arange(3)), (torch.as_tensor(raw, dtype=torch.float32)
                                                           .permute(0, 3, 1, 2) / 255 - 0.2) / 0.25)
    # labels are the source digits' classes; sources of a split come from that split's share only
    target = load_digits().target
    assert (man["label"].to_numpy() == target[man["source"].astype(int).to_numpy()]).all()
    parts = split_sources(1797, (0.7, 0.15, 0.15), 0)
    for split in ("train", "val", "test"):
        assert set(man.loc[man["split"] == split, "source"].astype(int)) <= set(parts[split].tolist())
    # a 20x20 digit inside the 28x28 canvas, its ink box inside the frame shifted by <= 2 px
    for (_, x0, y0, x1, y1) in (b[0] for b in man["boxes"]):
        assert 2 <= x0 <= x1 <= 25 and 2 <= y0 <= y1 <= 25
    assert np.count_nonzero(imgs.uint8(slice(0, 70))[:, :2, :2]) == 0  # corners stay black


def test_digits28_same_seed_same_bytes(digits28, tmp_path):
    make_digits_28(tmp_path / "images.h5", tmp_path / "manifest.csv", {"train": 40, "val": 10, "test": 20},
                   seed=0, mean=0.2, std=0.25)
    a, b = ImageSet(digits28 / "images.h5"), ImageSet(tmp_path / "images.h5")
    np.testing.assert_array_equal(a.uint8(slice(0, 70)), b.uint8(slice(0, 70)))


def test_torchvision_set_offline_names_the_folder(tmp_path):
    from cameval.data.tvsets import build_torchvision

    with pytest.raises(DataError, match=str(tmp_path / "nothing")):
        build_torchvision(tmp_path / "i.h5", tmp_path / "m.csv", name="mnist", root=str(tmp_path / "nothing"),
                          download=False)
    assert not (tmp_path / "i.h5").exists()


def test_torchvision_set_from_files_in_the_mnist_format(tmp_path):
    """A tiny MNIST in its distributed idx format: train split cut into train/val, test limited."""
    from cameval.data.tvsets import build_torchvision

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def idx(path, arr):
        dims = arr.shape
        header = bytes([0, 0, 8, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
        path.write_bytes(header + arr.astype(np.uint8).tobytes())

    tr, te = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 256, (6, 28, 28))
    idx(raw / "train-images-idx3-ubyte", tr)
    idx(raw / "train-labels-idx1-ubyte", np.arange(12) % 10)
    idx(raw / "t10k-images-idx3-ubyte", te)
    idx(raw / "t10k-labels-idx1-ubyte", np.arange(6) % 10)
    build_torchvision(tmp_path / "i.h5", tmp_path / "m.csv", name="mnist", root=str(tmp_path), download=False,
                      limit=4, val=3, seed=0)
    man, imgs = read_manifest(tmp_path / "m.csv"), ImageSet(tmp_path / "i.h5")
    assert man["split"].value_counts().to_dict() == {"train": 9, "test": 4, "val": 3}
    test = man[man["split"] == "test"]
    np.testing.assert_array_equal(imgs.uint8(test["index"].to_numpy())[..., 0], te[:4])
    assert test["label"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(imgs.mean, [0.1307]) and np.testing.assert_allclose(imgs.std, [0.3081])
