"""Shared by the benchmark scripts: interleaved best-of-N timing and the ratio line they print."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import torch


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable], repeat: int, device: str = "cpu") -> tuple[dict[str, float], dict]:
    """Best wall time of each function over ``repeat`` rounds, the functions taking turns in every
    round (so a load that comes and goes on a shared machine hits them alike); and their outputs."""
    best = {k: float("inf") for k in fns}
    outs: dict = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            outs[k] = fn()
            sync(device)
            best[k] = min(best[k], time.perf_counter() - start)
    return best, outs


def ratio_line(name: str, t_base: float, t_fast: float, flop_ratio: float) -> str:
    """``measured speed-up``, the theoretical FLOP ratio and their quotient (1 = at the limit)."""
    speed = t_base / t_fast
    return (
        f"{name}: theoretical FLOP ratio x{flop_ratio:.2f}   measured speed-up x{speed:.2f}   "
        f"measured / theoretical {speed / flop_ratio:.2f}"
    )


def header(args, device: str) -> str:
    cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name() if device.startswith("cuda") else ""
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device} {gpu}, "
        f"{cpu}, {time.strftime('%Y-%m-%d %H:%M')}; args {vars(args)}"
    )
