"""Heatmap shards: round trip, attributes, atomicity and clear errors."""

import h5py
import numpy as np
import pytest

import cameval
from cameval.errors import DataError
from cameval.store import Shard, check_coverage, check_shards, read_shards, write_shard


def _shard(path, n=3, k=2, offset=0):
    rng = np.random.default_rng(offset)
    write_shard(
        path,
        ids=[f"img{offset + i}" for i in range(n)],
        labels=np.arange(n),
        targets=rng.integers(0, 10, (n, k)),
        scores=rng.normal(size=(n, 10)),
        maps=rng.random((n, k, 4, 5)),
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
        write_shard(
            path,
            ids=["a", "b", "c"],
            labels=[0, 1, 2],
            targets=np.zeros((3, 1)),
            scores=np.zeros((3, 10)),
            maps=np.zeros((2, 1, 4, 4)),
            attrs={},
        )
    assert list(tmp_path.iterdir()) == []


def test_missing_or_foreign_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.h5"):
        Shard(tmp_path / "nope.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DataError, match=r"other.h5.*missing datasets"):
        Shard(tmp_path / "other.h5")


def _rows(path, start, stop):
    """A shard of images img{start}..img{stop-1}, image i of label i % 10 (as a manifest would fix it)."""
    n = stop - start
    write_shard(
        path,
        ids=[f"img{i}" for i in range(start, stop)],
        labels=np.arange(start, stop) % 10,
        targets=np.zeros((n, 1)),
        scores=np.zeros((n, 10)),
        maps=np.zeros((n, 1, 2, 2)),
        attrs={"rows": [start, stop]},
    )


def test_a_stale_shard_beside_new_ones_is_refused_naming_both_files(tmp_path):
    # shard_size 4 wrote s0 with rows 0..3; shard_size 2 then wrote s1 = rows 2..3 again
    _rows(tmp_path / "s0.h5", 0, 4)
    _rows(tmp_path / "s1.h5", 2, 4)
    paths = [tmp_path / "s0.h5", tmp_path / "s1.h5"]
    with pytest.raises(DataError, match=r"s1.h5: rows \[\('img2', 2\), \('img3', 3\)\] .*are also in .*s0.h5"):
        read_shards(paths)
    with pytest.raises(DataError, match=r"s1.h5: rows .* are also in"):
        check_shards(paths, expected=4)


def test_shards_holding_fewer_or_more_rows_than_the_config_implies_are_refused(tmp_path):
    _shard(tmp_path / "s0.h5", n=3, offset=0)
    _shard(tmp_path / "s1.h5", n=2, offset=3)
    paths = [tmp_path / "s0.h5", tmp_path / "s1.h5"]
    check_shards(paths, expected=5)
    check_shards(paths)  # no count given: only uniqueness
    with pytest.raises(DataError, match=r"5 rows in 2 file\(s\), the config implies 6"):
        check_shards(paths, expected=6)
    with pytest.raises(DataError, match=r"s0.h5.*3 rows in 1 file\(s\), the config implies 5"):
        read_shards(paths[:1], expected=5)


def test_check_coverage_takes_any_keys_and_names_the_shard():
    check_coverage([("a.h5", ["x", "y"]), ("b.h5", ["z"])], 3)
    with pytest.raises(DataError, match=r"b.h5: rows \['y'\] .*also in a.h5"):
        check_coverage([("a.h5", ["x", "y"]), ("b.h5", ["y"])], None)
    with pytest.raises(DataError, match=r"a.h5: 1 rows appear twice"):
        check_coverage([("a.h5", ["x", "x"])], None)
    with pytest.raises(DataError, match=r"attack shards \['a.h5'\]: 2 rows .* implies 250"):
        check_coverage([("a.h5", ["x", "y"])], 250, "attack shards")
