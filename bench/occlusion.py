"""Benchmark: batched exact occlusion against the one-forward-pass-per-position baseline.

Same machine, same process, same maps (checked). Prints the speed-up ratio.

    .venv/bin/python bench/occlusion.py [--arch small_vgg] [--size 64] [--patch 13] [--stride 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from cameval.explain import explain
from cameval.models import build_model


def timed(fn, repeat: int, device: str = "cpu"):
    best, out = float("inf"), None
    for _ in range(repeat):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="small_vgg")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--patch", type=int, default=13)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--classes", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model = build_model(args.arch, num_classes=args.classes).eval().to(args.device)
    x = torch.randn(1, 3, args.size, args.size, device=args.device)

    def run(bs):
        return explain(model, x, 3, method="occlusion", patch=args.patch, stride=args.stride, fill=0.0, batch_size=bs)

    run(args.batch_size)  # warm-up (cuDNN autotuning, allocator)
    t_base, base = timed(lambda: run(1), args.repeat, args.device)
    t_fast, fast = timed(lambda: run(args.batch_size), args.repeat, args.device)
    torch.testing.assert_close(fast, base, rtol=1e-4, atol=1e-4)
    positions = base.shape[-1] * base.shape[-2]
    print(
        f"{args.arch} {args.size}px patch {args.patch} stride {args.stride}: {positions} positions, "
        f"{args.threads} threads, {args.device}"
    )
    print(
        f"baseline (batch 1): {t_base:.3f} s   batched ({args.batch_size}): {t_fast:.3f} s   "
        f"speed-up x{t_base / t_fast:.2f}"
    )


if __name__ == "__main__":
    main()
