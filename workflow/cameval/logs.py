"""Logging set-up for the workflow's scripts: everything goes to the rule's log file."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("cameval")


def setup_logging(path: str | os.PathLike | None = None, level: int = logging.INFO) -> None:
    """Send cameval's log records (and warnings) to ``path``, or to stderr when None.

    Also installs :func:`log_uncaught` as ``sys.excepthook``: an exception that ends the script
    is written, with its traceback, to the same log before Python prints it to stderr and exits
    non-zero, so the log a failed Snakemake job names is never empty.
    """
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, mode="w")
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    sys.excepthook = log_uncaught


def log_uncaught(exc_type, exc, tb) -> None:
    """``sys.excepthook``: log the exception with its traceback, then let Python report it."""
    if not issubclass(exc_type, KeyboardInterrupt):
        log.critical("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))
        for handler in logging.getLogger().handlers:
            handler.flush()
    sys.__excepthook__(exc_type, exc, tb)


def set_threads(n: int) -> None:
    """Let torch use the threads Snakemake granted the job, no more."""
    import torch  # noqa: PLC0415  # every job sets up its logs here, the table jobs start without torch

    torch.set_num_threads(max(1, int(n)))
