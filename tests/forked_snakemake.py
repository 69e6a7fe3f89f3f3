"""``snakemake ARGS`` run several times from one process that imports Snakemake once: each run is a
fork of this process calling Snakemake's command line (``python -m snakemake ARGS`` does the same call),
its output in files. The bad-config dry-runs of the suite (tests/conftest.py: edited_tiny_dry_runs)
stop at parse time: importing Snakemake is most of each one's CPU time, paid here once for all of them.

Usage: ``python tests/forked_snakemake.py RUNS.json``, ``RUNS.json`` a list of ``{"args": [...], "out":
path, "err": path}``; prints the runs' exit statuses as a JSON list. Run from where ``snakemake`` would be.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import snakemake.cli  # the import every `python -m snakemake` pays, once for every run here


def run_forked(args: list[str], out: str, err: str) -> int:
    """``snakemake ARGS`` in a fork of this process, its stdout and stderr in the files ``out``, ``err``:
    the fork's exit status."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 1
    try:
        for fd, path in ((1, out), (2, err)):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        sys.argv = [os.path.join(os.path.dirname(snakemake.__file__), "__main__.py"), *args]  # as `-m` sets it
        try:
            snakemake.cli.main(args)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
    except BaseException:  # anything else: on the run's stderr, as the interpreter would print it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # the fork ends here: no cleanup of the parent's state, no return into its loop


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        runs = json.load(f)
    print(json.dumps([run_forked(run["args"], run["out"], run["err"]) for run in runs]))
