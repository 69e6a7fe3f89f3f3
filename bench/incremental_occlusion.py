"""Benchmark: exact incremental occlusion against the batched full path and captum's Occlusion.

One process, one machine. For each patch size: the theoretical FLOP ratio of full vs incremental
computation (conv and linear multiply-accumulates counted from the layer shapes, see
``IncrementalRunner.macs``), the measured speed-up over the batched full path and their quotient,
after checking that both give the same logits (to float32 rounding). captum's ``Occlusion``
(``perturbations_per_eval`` = the same batch size) runs on its own grid of ``--captum-windows``
windows (it cannot take a sample of positions; its stride may not exceed the patch); its cost
per position is compared.

Positions: ``--positions`` centres drawn uniformly (seeded) from the stride-1 grid, or all of
them with ``--positions 0``.

    python bench/incremental_occlusion.py                       # VGG-16, 224², patches 25 and 45
    python bench/incremental_occlusion.py --arch small_vgg --size 64 --patches 7 13 --classes 10
"""

from __future__ import annotations

import argparse
import logging

import torch

from _timing import header, interleaved, ratio_line
from cameval.explain.occlusion import occluded_logits
from cameval.inference import IncrementalRunner, plan_of
from cameval.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--patches", type=int, nargs="+", default=[25, 45])
    ap.add_argument("--positions", type=int, default=64, help="sampled centres (0: all)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--captum-windows", type=int, default=64, help="0: skip captum")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    model = build_model(args.arch, num_classes=args.classes).eval().to(args.device)
    x = torch.randn(1, 3, args.size, args.size, device=args.device)
    plan, why = plan_of(model)
    if plan is None:
        raise SystemExit(f"{args.arch}: no incremental path ({why})")
    print(header(args, args.device))
    grid = [(i, j) for i in range(args.size) for j in range(args.size)]
    if args.positions:
        pick = torch.randperm(len(grid), generator=torch.Generator().manual_seed(0))[: args.positions]
        grid = [grid[k] for k in sorted(pick.tolist())]
    fill = torch.tensor(0.0, device=args.device)
    target = 3
    with torch.no_grad():
        for patch in args.patches:
            runner = IncrementalRunner(plan, x)
            batches = [grid[b : b + args.batch_size] for b in range(0, len(grid), args.batch_size)]

            def full():
                return torch.cat([occluded_logits(model, x[0], c, patch, fill) for c in batches])  # noqa: B023  # called within the iteration

            def incr():  # the clean pass is part of the cost
                r = IncrementalRunner(plan, x)
                return torch.cat([occluded_logits(model, x[0], c, patch, fill, r) for c in batches])  # noqa: B023  # as above

            fns = {"full": full, "incremental": incr}
            captum_n = 0
            if args.captum_windows:
                from captum.attr import Occlusion  # noqa: PLC0415  # optional: --captum-windows 0 skips captum

                side = max(2, int(args.captum_windows**0.5))  # captum allows strides up to the window
                step = max(1, min(patch, (args.size - patch) // (side - 1)))
                captum_n = ((args.size - patch) // step + 1) ** 2
                occ = Occlusion(model)
                fns["captum"] = lambda: occ.attribute(  # noqa: B023  # called within the iteration
                    x,
                    sliding_window_shapes=(3, patch, patch),  # noqa: B023  # as above
                    strides=(3, step, step),  # noqa: B023  # as above
                    baselines=0.0,
                    target=target,
                    perturbations_per_eval=args.batch_size,
                )
            t, out = interleaved(fns, args.repeat, args.device)
            scale = out["full"].abs().max()
            err = float((out["incremental"] - out["full"]).abs().max() / scale)
            assert err < 1e-4, f"incremental logits differ from the full path by {err:.2e} of their scale"
            f_full, f_incr = runner.macs(
                torch.tensor(
                    [
                        [
                            max(0, i - patch // 2),
                            min(args.size, i - patch // 2 + patch),
                            max(0, j - patch // 2),
                            min(args.size, j - patch // 2 + patch),
                        ]
                        for i, j in grid
                    ]
                )
            )
            n = len(grid)
            spread = float((out["full"] - runner.clean_logits).abs().max() / scale)
            print(
                f"patch {patch}, stride 1, {n} positions, batch {args.batch_size}: full {t['full']:.2f} s "
                f"({1e3 * t['full'] / n:.1f} ms/position), incremental {t['incremental']:.2f} s "
                f"({1e3 * t['incremental'] / n:.1f} ms/position); max |diff| / max |logit| {err:.1e}; "
                f"occlusion moves the logits by up to {spread:.1e} of their scale; "
                f"GMAC/position full {f_full / n / 1e9:.3f}, incremental {f_incr / n / 1e9:.3f}"
            )
            print("  " + ratio_line("incremental vs batched full path", t["full"], t["incremental"], f_full / f_incr))
            if captum_n:
                per = t["captum"] / captum_n
                print(f"  captum Occlusion: {captum_n} windows in {t['captum']:.2f} s ({1e3 * per:.1f} ms/position)")
                print(
                    "  "
                    + ratio_line(
                        "incremental vs captum Occlusion (per position)", per, t["incremental"] / n, f_full / f_incr
                    )
                )


if __name__ == "__main__":
    main()
