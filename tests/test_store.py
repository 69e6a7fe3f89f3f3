"""Heatmap shards: round trip, attributes, atomicity and clear errors."""

import h5py
import numpy as np
import pytest

import cameval
from cameval.errors import DataError
from cameval.store import Shard, read_shards, write_shard


def _shard(path, n=3, k=2, offset=0):
    rng = np.random.default_rng(offset)
    write_shard(
        path, ids=[f"img{offset + i}" for i in range(n)], labels=np.arange(n), targets=rng.integers(0, 10, (n, k)),
        scores=rng.normal(size=(n, 10)), maps=rng.random((n, k, 4, 5)),
        attrs={"method": "gradcam", "layer": "features.29", "params": {"patch": 45}, "rows": [offset, offset + n]},
    )


def test_shard_round_trips_arrays_and_attributes(tmp_path):
    path = tmp_path / "a" / "shard-0.h5"
    _shard(path)
    rng = np.random.default_rng(0)
    targets, scores, maps = rng.integers(0, 10, (3, 2)), rng.normal(size=(3, 10)), rng.random((3, 2, 4, 5))
    with Shard(path) as s:
        assert s.ids == ["img0", "img1", "img2"]
        np.testing.assert_array_equal(s.targets, targets)
        np.testing.assert_allclose(s.scores, scores.astype(np.float32))
        np.testing.assert_allclose(s.maps[1], maps[1].astype(np.float32))  # lazy slice
        assert s.attrs["params"] == {"patch": 45}
        assert s.attrs["rows"] == [0, 3]
        assert s.attrs["cameval_version"] == cameval.__version__
        assert not isinstance(s.maps, np.ndarray)  # lazy: read from the file when sliced


def test_read_shards_concatenates_in_order(tmp_path):
    _shard(tmp_path / "s0.h5", n=3, offset=0)
    _shard(tmp_path / "s1.h5", n=2, offset=3)
    out = read_shards([tmp_path / "s0.h5", tmp_path / "s1.h5"])
    assert out["ids"] == ["img0", "img1", "img2", "img3", "img4"]
    assert out["scores"].shape == (5, 10)


def test_failed_write_leaves_nothing_behind(tmp_path):
    path = tmp_path / "shard-0.h5"
    with pytest.raises(ValueError, match="maps has 2 rows, expected 3"):
        write_shard(path, ids=["a", "b", "c"], labels=[0, 1, 2], targets=np.zeros((3, 1)),
                    scores=np.zeros((3, 10)), maps=np.zeros((2, 1, 4, 4)), attrs={})
    assert list(tmp_path.iterdir()) == []


def test_missing_or_foreign_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.h5"):
        Shard(tmp_path / "nope.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DataError, match=r"other.h5.*missing datasets"):
        Shard(tmp_path / "other.h5")
