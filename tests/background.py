"""The session's long runs in the background: started when the session starts, beside the tests
that run in pytest's own process, and waited for by the test that reads one.

On two cores the end-to-end runs (the tiny config's ``all``, the SLURM run, the ``kill -9`` run) are
minutes of jobs and of waiting on a scheduler, and the bad-config dry-runs a minute of parses,
while most other tests are a single process at a time: run one after the other they leave a core
idle for much of ``make test``. A long run is a
function of a fresh folder, registered with :func:`long_run` and asked for by a test with
``@pytest.mark.long_run(name)`` (or, for the tiny run, the ``tiny_run`` fixture); tests/conftest.py
starts every one that a selected test asks for, moves the tests that wait for one to the end of
the session and hands each its run's result. Every process a run starts is stopped, with the
jobs it started, if the session ends first (an error, Ctrl-C).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

#: the long runs by name: ``fn(folder) -> result``, ``folder`` empty and the run's own
LONG_RUNS: dict[str, Callable[[Path], object]] = {}
_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()  # guards _RUNNING


def long_run(fn: Callable[[Path], object]) -> Callable[[Path], object]:
    """Register ``fn`` as the long run named ``fn.__name__``."""
    LONG_RUNS[fn.__name__] = fn
    return fn


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` in a process group of its own, stopped by :func:`stop_all`."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    with _LOCK:
        _RUNNING.add(proc)
    return proc


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL to ``proc``'s process group: the process and every job it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)``, stoppable."""
    proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def stop_all() -> None:
    """Stop every process still running (what a test or run started and did not wait for)."""
    with _LOCK:
        left = list(_RUNNING)
        _RUNNING.clear()
    for proc in left:
        if proc.poll() is None:
            kill(proc)


class Started:
    """``fn(folder)`` running in a thread from now on; :meth:`result` waits for it."""

    def __init__(self, fn: Callable[[Path], object], folder: Path):
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, folder), name=fn.__name__, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[Path], object], folder: Path) -> None:
        try:
            self._value = fn(folder)
        except BaseException as error:  # handed to the test that waits for it
            self._error = error

    def result(self) -> object:
        """The run's return value, once it has finished; its exception, raised here, if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


_STARTED: dict[str, Started] = {}
_STARTING = threading.Lock()
_FOLDER: list[Callable[[str], Path]] = []  # the session's tmp_path_factory.mktemp, once it has begun


def begin(folder: Callable[[str], Path]) -> None:
    """The session has begun: ``folder(name)`` makes each run's fresh folder from now on."""
    _FOLDER[:] = [folder]


def start(name: str) -> Started:
    """Long run ``name``, started now unless it already was (a run may start another it reads)."""
    with _STARTING:
        if name not in _STARTED:
            if not _FOLDER:
                raise RuntimeError(f"long run {name!r} asked for before the session began")
            _STARTED[name] = Started(LONG_RUNS[name], _FOLDER[0](name))
        return _STARTED[name]


def result(name: str) -> object:
    """Long run ``name``'s result: waited for (started first, if nothing had started it)."""
    return start(name).result()
