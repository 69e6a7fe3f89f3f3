"""Heatmap shards: round trip, attributes, atomicity and clear errors."""

import fcntl
import os

import h5py
import numpy as np
import pytest

import cameval
from cameval.errors import DataError
from cameval.hdf5 import open_h5
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


def test_a_shard_is_written_and_read_while_another_descriptor_holds_an_hdf5_lock(tmp_path):
    # what a forked child's copy of a writer's descriptor holds (or a file system without flock fails
    # on): HDF5's default open refuses the file, cameval's opens neither take nor test the lock
    path = tmp_path / "shard-0.h5"
    _shard(path)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OSError, match="lock"):  # the oracle: h5py with HDF5's default locking
            h5py.File(path, "r")
        with Shard(path) as s:
            assert s.ids == ["img0", "img1", "img2"]
        _shard(path, offset=3)  # rewritten beside the lock: a new file renamed over the old name
        with Shard(path) as s:
            assert s.ids == ["img3", "img4", "img5"]
    finally:
        os.close(fd)


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
    with open_h5(tmp_path / "other.h5", "w") as f:
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


# --- what made a cached file: Expect --------------------------------------------------------------


def _manifest(path, rows):
    """A manifest written by cameval's writer: ``rows`` of ``(id, label, boxes, labels or None)``."""
    import pandas as pd

    from cameval.data.manifest import write_manifest

    df = pd.DataFrame(
        [
            {"id": i, "split": "test", "index": k, "label": label, "source": "", "boxes": boxes}
            | ({"labels": labels} if labels is not None else {})
            for k, (i, label, boxes, labels) in enumerate(rows)
        ]
    )
    write_manifest(df, path)
    return path


def _provenance_shard(path, manifest, ids, labels, weights, spec):
    from cameval.store import provenance

    n = len(ids)
    write_shard(
        path,
        ids,
        labels,
        np.zeros((n, 1)),
        np.zeros((n, 3)),
        np.ones((n, 1, 2, 2)),
        {"rows": [0, n], **provenance(weights, manifest, ids, spec)},
    )


def test_expect_accepts_what_made_the_file_and_names_each_mismatch(tmp_path):
    from cameval.store import Expect

    weights, other = tmp_path / "w.bin", tmp_path / "o.bin"
    weights.write_bytes(b"model a")
    other.write_bytes(b"model b")
    box = [[1, 0, 0, 2, 2]]
    manifest = _manifest(tmp_path / "m.csv", [("a", 1, box, None), ("b", 2, [[2, 0, 0, 1, 1]], None)])
    spec = {"set": "gradcam", "method": "gradcam", "params": {}, "layer": "", "targets": "top1"}
    path = tmp_path / "shard-0.h5"
    _provenance_shard(path, manifest, ["a", "b"], [1, 2], weights, spec)
    with Shard(path, Expect(weights, spec, manifest)) as s:  # what made it: accepted
        assert s.attrs["spec"] == spec
    with pytest.raises(DataError, match=r"shard-0.h5: computed with another model file .*o.bin"):
        Shard(path, Expect(other, spec, manifest))
    with pytest.raises(DataError, match=r"made by another spec \(params: \{\} in the file, \{'a': 1\} in the config\)"):
        Shard(path, Expect(weights, {**spec, "params": {"a": 1}}, manifest))
    # the manifest's box of image b moved: ids and labels agree, the rows do not
    moved = _manifest(tmp_path / "m2.csv", [("a", 1, box, None), ("b", 2, [[2, 0, 0, 1, 2]], None)])
    with pytest.raises(DataError, match=r"covers rows of another manifest .*m2.csv give "):
        Shard(path, Expect(manifest=moved))
    gone = _manifest(tmp_path / "m3.csv", [("a", 1, box, None)])
    with pytest.raises(DataError, match=r"ids \['b'\] are not in .*m3.csv"):
        Shard(path, Expect(manifest=gone))
    # an old shard, written before files recorded what made them: refused where it is checked
    write_shard(tmp_path / "old.h5", ["a"], [1], np.zeros((1, 1)), np.zeros((1, 3)), np.ones((1, 1, 2, 2)), {})
    with pytest.raises(DataError, match=r"old.h5: computed with another model file \(model_digest none recorded"):
        Shard(tmp_path / "old.h5", Expect(weights))


def test_expect_checks_a_multilabel_shards_findings_against_the_images_boxes(tmp_path):
    from cameval.store import Expect

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"model")
    manifest = _manifest(tmp_path / "m.csv", [("x", 0, [[3, 0, 0, 2, 2], [5, 1, 1, 3, 3]], "3|5")])
    spec = {"set": "gradcam"}
    _provenance_shard(tmp_path / "ok.h5", manifest, ["x", "x"], [3, 5], weights, spec)
    Shard(tmp_path / "ok.h5", Expect(weights, spec, manifest)).close()  # one row per boxed finding
    _provenance_shard(tmp_path / "bad.h5", manifest, ["x", "x"], [3, 4], weights, spec)
    with pytest.raises(
        DataError, match=r"bad.h5: row 1 \(id 'x'\) holds label 4, .*m.csv says boxed findings \[3, 5\]"
    ):
        Shard(tmp_path / "bad.h5", Expect(manifest=manifest))


def test_every_dataset_of_a_cached_file_carries_a_checksum(tmp_path):
    _shard(tmp_path / "s.h5")
    with open_h5(tmp_path / "s.h5") as f:
        assert {k: f[k].fletcher32 for k in f} == dict.fromkeys(("ids", "labels", "targets", "scores", "maps"), True)
