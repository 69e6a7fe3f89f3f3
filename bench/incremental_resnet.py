"""Benchmark: exact incremental occlusion on torchvision's ResNets against the batched full path.

One process, one machine, random weights (seed 0), eval mode. For each network and patch size:
positions per second of the batched full forward passes and of the incremental engine (its clean
pass included), their ratio, and the theoretical limit, the ratio of conv and linear
multiply-accumulates (``IncrementalRunner.macs``, summed batch by batch as the engine tiles them:
the blocks' branches and projections included, additions and pooling not), after checking that
both paths give the same logits (to float32 rounding).

Positions: ``--positions`` centres drawn uniformly (seeded) from the stride-1 grid, or all of
them with ``--positions 0``.

    python bench/incremental_resnet.py                               # ResNet-18 and -50, 224², patches 25 and 45
    python bench/incremental_resnet.py --archs resnet50 --patches 25 --positions 128 --repeat 1
"""

from __future__ import annotations

import argparse
import logging

import torch
import torchvision

from _timing import header, interleaved, ratio_line
from cameval.explain.occlusion import occluded_logits
from cameval.inference import IncrementalRunner, plan_of


def rects_of(centres: list[tuple[int, int]], patch: int, size: int) -> torch.Tensor:
    """``[B, 4]`` changed rectangles ``(r0, r1, c0, c1)`` of the clipped patches at ``centres``."""
    lo = patch // 2
    return torch.tensor(
        [[max(0, i - lo), min(size, i - lo + patch), max(0, j - lo), min(size, j - lo + patch)] for i, j in centres]
    )


def measure(arch: str, model, plan, x: torch.Tensor, patch: int, grid: list, args) -> None:
    """Time both paths on ``grid``'s centres (interleaved, best of ``--repeat``) and print one result."""
    batches = [grid[b : b + args.batch_size] for b in range(0, len(grid), args.batch_size)]
    fill = torch.tensor(0.0)

    def full():
        return torch.cat([occluded_logits(model, x[0], c, patch, fill) for c in batches])

    def incr():  # the clean pass is part of the cost
        r = IncrementalRunner(plan, x)
        return torch.cat([occluded_logits(model, x[0], c, patch, fill, r) for c in batches])

    t, out = interleaved({"full": full, "incremental": incr}, args.repeat)
    scale = out["full"].abs().max()
    err = float((out["incremental"] - out["full"]).abs().max() / scale)
    assert err < 1e-4, f"incremental logits differ from the full path by {err:.2e} of their scale"
    runner = IncrementalRunner(plan, x)
    macs = [runner.macs(rects_of(c, patch, args.size)) for c in batches]
    f_full, f_incr = sum(m[0] for m in macs), sum(m[1] for m in macs)
    spread = float((out["full"] - runner.clean_logits).abs().max() / scale)
    n = len(grid)
    print(
        f"{arch} {args.size}², patch {patch}, stride 1, {n} positions, batch {args.batch_size}: "
        f"full {t['full']:.2f} s ({n / t['full']:.2f} positions/s), incremental {t['incremental']:.2f} s "
        f"({n / t['incremental']:.2f} positions/s); max |diff| / max |logit| {err:.1e}; occlusion "
        f"moves the logits by up to {spread:.1e} of their scale; GMAC/position full "
        f"{f_full / n / 1e9:.3f}, incremental {f_incr / n / 1e9:.3f}"
    )
    print("  " + ratio_line("incremental vs batched full path", t["full"], t["incremental"], f_full / f_incr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=["resnet18", "resnet50"], help="torchvision builders")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--patches", type=int, nargs="+", default=[25, 45])
    ap.add_argument("--positions", type=int, default=128, help="sampled centres (0: all)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    print(header(args, "cpu"))
    grid = [(i, j) for i in range(args.size) for j in range(args.size)]
    if args.positions:
        pick = torch.randperm(len(grid), generator=torch.Generator().manual_seed(0))[: args.positions]
        grid = [grid[k] for k in sorted(pick.tolist())]
    with torch.no_grad():
        for arch in args.archs:
            torch.manual_seed(0)
            model = getattr(torchvision.models, arch)(weights=None).eval()
            x = torch.randn(1, 3, args.size, args.size)
            plan, why = plan_of(model)
            if plan is None:
                raise SystemExit(f"{arch}: no incremental path ({why})")
            for patch in args.patches:
                measure(arch, model, plan, x, patch, grid, args)


if __name__ == "__main__":
    main()
