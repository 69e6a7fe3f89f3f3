"""The workflow's parse with and without the remembered parse-time checks (cameval.checkcache).

Runs ``snakemake -n all`` (a dry-run, as a user types it, from the repository root) ``--repeat``
times with an empty check cache (the previous path: every parse imports torch, pytorch-grad-cam
and captum to check library methods' params and to find default layers) and ``--repeat`` times
with the cache it left (the new path), checks that both plan the same jobs, and prints the CPU
seconds of each (user + system of the snakemake process, the median) and their ratio::

    .venv/bin/python bench/parse_cache.py                                   # the embedded default
    .venv/bin/python bench/parse_cache.py --configfile tests/configs/tiny.yaml
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dry_run(args: list[str], cache: str) -> tuple[float, str]:
    """(CPU seconds of the snakemake process, its job table) for one dry-run."""
    env = {**os.environ, "CAMEVAL_CACHE": cache, "PYTHONPATH": str(ROOT / "workflow")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "all", "--quiet", "rules", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, proc.stdout.split("Job stats:")[1].split("\n\n")[0] if "Job stats:" in proc.stdout else proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configfile", default=None)
    opts = parser.parse_args()
    args = ["--configfile", opts.configfile] if opts.configfile else []
    cold, warm, plans = [], [], set()
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory() as cache:
            seconds, plan = dry_run(args, cache)  # an empty cache: every check runs
            cold.append(seconds)
            plans.add(plan)
            seconds, plan = dry_run(args, cache)  # the same cache: every check remembered
            warm.append(seconds)
            plans.add(plan)
    assert len(plans) == 1, "the cold and warm parses planned different jobs"
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"config: {opts.configfile or 'config/config.yaml'}; {opts.repeat} parses each")
    print(f"checks run (empty cache): {c:.2f} s CPU  (each: {', '.join(f'{s:.2f}' for s in cold)})")
    print(f"checks remembered:        {w:.2f} s CPU  (each: {', '.join(f'{s:.2f}' for s in warm)})")
    print(f"ratio: x{c / w:.2f}")


if __name__ == "__main__":
    main()
