"""Logging set-up for the workflow's scripts: everything goes to the rule's log file."""

from __future__ import annotations

import contextlib
import contextvars
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


#: the images of the batch being computed (their ids, and the position of the first among the rows of
#: the job), set by :func:`cameval.batches.run` around each step: a per-image log line deep in a method
#: (occlusion's) names the image, not its place in a batch of one
_BATCH_IMAGES: contextvars.ContextVar[tuple[list[str], int] | None] = contextvars.ContextVar(
    "cameval_batch_images", default=None
)


@contextlib.contextmanager
def batch_images(ids, offset: int):
    """Within the block, :func:`image_name` names image ``i`` of the batch by ``ids[i]`` and row ``offset + i``."""
    token = _BATCH_IMAGES.set(([str(i) for i in ids], offset))
    try:
        yield
    finally:
        _BATCH_IMAGES.reset(token)


def image_name(i: int, n: int) -> str:
    """How a log line names image ``i`` of ``n`` in the tensor a method was given: its id and row in
    the job (inside :func:`batch_images`), else its position in that tensor."""
    current = _BATCH_IMAGES.get()
    if current is not None and i < len(current[0]):
        ids, offset = current
        return f"image {ids[i]} (row {offset + i})"
    return f"image {i + 1} of {n}"
