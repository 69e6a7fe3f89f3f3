"""Atomic writes: all or nothing, with a plain file's permissions."""

import os
import stat

import pytest

from cameval import io
from cameval.io import atomic_path, write_text


def test_atomic_path_leaves_the_old_file_and_no_temporary_on_error(tmp_path):
    target = tmp_path / "out" / "table.csv"
    write_text("old\n", target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of a new")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert os.listdir(target.parent) == ["table.csv"]


def test_atomic_path_gives_the_umask_permissions_of_a_plain_file(tmp_path):
    # mkstemp's 0600 would hide results from the rest of a group on a shared cluster
    write_text("x", tmp_path / "a.txt")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~io._UMASK
