"""Benchmark: scoring a one-pixel population incrementally against the full batched forward pass
and torchattacks' ``OnePixel`` scoring.

One process, one machine. A population of ``--population`` candidates (row, col, RGB value),
drawn as a differential-evolution population is (uniformly, seeded), is scored three ways: our
``pixel_logits`` (incremental where the model allows, else the full path), the same with
``incremental=False`` (copies of the image with the pixel set, ``--batch-size`` per forward pass),
and torchattacks' ``OnePixel._loss`` (its ``_perturb`` + ``_get_prob`` at ``inf_batch`` =
``--batch-size``). The model works on [0, 1] images here (no normalization), as torchattacks
expects. Prints the theoretical FLOP ratio (``IncrementalRunner.macs``), the measured speed-ups
and their quotient, after checking the three agree (logits / probabilities to float32 rounding).

torchattacks is a benchmark-only dependency: ``pip install --no-deps -r envs/requirements-bench.txt``.

    python bench/one_pixel_scoring.py                  # VGG-16 and GoogLeNet, 224², population 400
"""

from __future__ import annotations

import argparse
import logging

import torch

from _timing import header, interleaved, ratio_line
from cameval.inference import IncrementalRunner, pixel_logits, plan_of
from cameval.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=["vgg16", "googlenet"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--population", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--no-torchattacks", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    print(header(args, args.device))
    if not args.no_torchattacks:
        try:
            import torchattacks  # noqa: PLC0415  # optional: a benchmark-only dependency, --no-torchattacks skips it
        except ImportError as e:
            raise SystemExit(
                "torchattacks is missing: pip install --no-deps -r envs/requirements-bench.txt "
                "(or pass --no-torchattacks)"
            ) from e
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, args.size, args.size, generator=g).to(args.device)
    p = args.population
    rows = torch.randint(0, args.size, (p,), generator=g).to(args.device)
    cols = torch.randint(0, args.size, (p,), generator=g).to(args.device)
    values = torch.rand(p, 3, generator=g).to(args.device)
    label = 3
    for arch in args.archs:
        torch.manual_seed(0)
        model = build_model(arch, num_classes=args.classes).eval().to(args.device)
        fns = {
            "full": lambda: pixel_logits(model, x, rows, cols, values, batch_size=args.batch_size, incremental=False),  # noqa: B023  # called within the iteration
            "ours": lambda: pixel_logits(model, x, rows, cols, values, batch_size=args.batch_size),  # noqa: B023  # as above
        }
        if not args.no_torchattacks:
            attack = torchattacks.OnePixel(model, pixels=1, steps=1, popsize=p, inf_batch=args.batch_size)
            # torchattacks' candidate layout: (row, col, r, g, b); _loss returns p(label) per candidate
            delta = (
                torch.cat([rows[:, None].float() + 0.5, cols[:, None].float() + 0.5, values], 1).double().cpu().numpy()
            )  # float64, as its DE passes
            fns["torchattacks"] = lambda: attack._loss(x[None], torch.tensor([label]), delta)  # noqa: B023  # as above
        with torch.no_grad():
            t, out = interleaved(fns, args.repeat, args.device)
        scale = out["full"].abs().max()
        err = float((out["ours"] - out["full"]).abs().max() / scale)
        assert err < 1e-4, f"{arch}: pixel_logits differs from the full forward by {err:.2e} of the logits' scale"
        plan, why = plan_of(model)
        if plan is not None:
            f_full, f_incr = IncrementalRunner(plan, x[None]).macs(torch.stack([rows, rows + 1, cols, cols + 1], 1))
            f_incr += f_full / p  # the clean forward pass, once per call
        else:
            f_full = f_incr = 1.0
        print(
            f"{arch} {args.size}px, population {p}, batch {args.batch_size}: full {t['full']:.2f} s, "
            f"ours ({'incremental' if plan is not None else 'full path: ' + why}) {t['ours']:.2f} s; "
            f"max |diff| / max |logit| {err:.1e}"
        )
        print("  " + ratio_line("ours vs full batched forward", t["full"], t["ours"], f_full / f_incr))
        if "torchattacks" in t:
            probs = torch.softmax(out["ours"].float(), 1)[:, label].cpu().numpy()
            terr = abs(probs - out["torchattacks"]).max()
            assert terr < 1e-4, f"{arch}: torchattacks' p(label) differs by {terr:.2e}"
            print(f"  torchattacks OnePixel scoring {t['torchattacks']:.2f} s (max |p diff| {terr:.1e})")
            print("  " + ratio_line("ours vs torchattacks", t["torchattacks"], t["ours"], f_full / f_incr))


if __name__ == "__main__":
    main()
