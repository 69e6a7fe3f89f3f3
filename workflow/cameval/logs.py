"""Logging set-up for the workflow's scripts: everything goes to the rule's log file."""

from __future__ import annotations

import logging
import os
from pathlib import Path


def setup_logging(path: str | os.PathLike | None = None, level: int = logging.INFO) -> None:
    """Send cameval's log records (and warnings) to ``path``, or to stderr when None."""
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


def set_threads(n: int) -> None:
    """Let torch use the threads Snakemake granted the job, no more."""
    import torch

    torch.set_num_threads(max(1, int(n)))
