"""``python -m cameval check CONFIG.yaml [MORE.yaml ...]``: every problem of a config, listed at once.

The files are merged in order, as ``snakemake --configfile A.yaml B.yaml`` merges them, and checked by
:func:`cameval.config.check_all` — the schema, names, numbers, the data and checkpoint files every
enabled experiment needs, each experiment's checks, the methods' parameters and each model against its
dataset — without planning the workflow's jobs. Exit status 0 when there is nothing to fix, 1 (and the
list on stderr) otherwise. Run it from the repository root, as the workflow is run: relative paths are
read from there.

``python -m cameval results CONFIG.yaml [MORE.yaml ...]`` prints the folder a run of those configs writes
its files under (config key ``results``; ``make report`` writes the report there).

``python -m cameval clean CONFIG.yaml [MORE.yaml ...]`` deletes what a run of those configs wrote: its
results root (with its own logs and benchmarks; for the default root ``results``, also ``logs/`` and
``benchmarks/``), after checking that the root is a folder of its own (``cameval.paths.check_root``:
never the shared ``resources/``, the workflow's folders or a folder that holds the workflow). The
shared datasets and models stay (``make clean`` removes those). ``make clean CONFIG=…`` runs it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from cameval.config import check_all, load_strict, shipped_from
from cameval.errors import ConfigError
from cameval.paths import RESULTS, check_root, results_root

REPO = Path(__file__).resolve().parents[2]


def merged(files: list[str]) -> dict:
    """The configs of ``files`` merged key by key at every depth, a later file's values winning."""

    def merge(base: dict, new: dict) -> dict:
        for key, value in new.items():
            nested = isinstance(value, dict) and isinstance(base.get(key), dict)
            base[key] = merge(base[key], value) if nested else value
        return base

    config: dict = {}
    for f in files:
        loaded = load_strict(f)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{f}: {type(loaded).__name__} at the top (expected a mapping of config keys)")
        merge(config, loaded)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cameval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="list every problem of a config (files merged in order), run nothing")
    check.add_argument("configs", nargs="+", help="config files, merged in order (as --configfile takes them)")
    root = sub.add_parser("results", help="print the results root of a config (files merged in order)")
    root.add_argument("configs", nargs="+", help="config files, merged in order (as --configfile takes them)")
    clean = sub.add_parser("clean", help="delete the results root of a config (files merged in order)")
    clean.add_argument("configs", nargs="+", help="config files, merged in order (as --configfile takes them)")
    args = parser.parse_args(argv)
    try:
        config = merged(args.configs)
    except FileNotFoundError as err:
        print(f"ConfigError: {err.filename}: no such config file", file=sys.stderr)
        return 1
    except ConfigError as err:
        print(f"ConfigError: {err}", file=sys.stderr)
        return 1
    if args.command == "results":
        print(results_root(config))
        return 0
    if args.command == "clean":
        return remove_run(config)
    try:
        check_all(config, args.configs, shipped_from(REPO))
    except ConfigError as err:
        print(f"ConfigError: {err}", file=sys.stderr)
        return 1
    print(f"{', '.join(args.configs)}: no problems found")
    return 0


def remove_run(config: dict) -> int:
    """Delete the results root of ``config`` (and, for the default root, ``logs/`` and ``benchmarks/``)
    once :func:`cameval.paths.check_root` has accepted it; 1 and the reason on stderr if it does not."""
    try:
        check_root(config)
    except ConfigError as err:
        print(f"ConfigError: {err}; nothing was deleted", file=sys.stderr)
        return 1
    root = results_root(config)
    folders = [root, "logs", "benchmarks"] if root == RESULTS else [root]
    for folder in folders:
        if Path(folder).exists():
            shutil.rmtree(folder)
            print(f"deleted {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
