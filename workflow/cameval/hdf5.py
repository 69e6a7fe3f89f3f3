"""Every HDF5 file cameval reads or writes is opened by :func:`open_h5`: without HDF5's file locks.

HDF5 (1.10 and later) takes an ``flock`` on every file it opens, shared to read and exclusive to
write, to keep a reader off a file being written. cameval never needs that: each file is written
once, under a temporary name, and renamed into place only after it is closed
(:func:`cameval.io.atomic_path`), so no file is ever read while it is written, and no two jobs write
the same one. The locks only ever get in the way:

- on file systems without ``flock`` (many NFS mounts and parallel file systems of clusters) every
  open fails (``unable to lock file, errno = 38``);
- a process that forks while it holds a file open (a thread starting a subprocess) leaves the
  child a copy of the descriptor, and with it the lock, until the child closes it: reopening the
  file at that moment fails (``errno = 11``).

``locking=False`` is h5py's switch for it (h5py 3.5 and HDF5 1.12.1 or later).
"""

from __future__ import annotations

import os

import h5py


def open_h5(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """``h5py.File(path, mode)`` without HDF5's file locks (see the module docstring)."""
    return h5py.File(path, mode, locking=False)
