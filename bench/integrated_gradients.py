"""Integrated Gradients for every class of an image (Table 7's class maps): one forward pass per
step shared by all target columns (`cameval.explain.pathint.integrated_gradients`) against the
previous path, a forward and a backward pass per step and column (inlined below).

Checks that both give the same maps bit for bit, then prints the time of each (best of
`--repeat`, after a warm-up) and their ratio, on seeded random-weight networks of the embedded
default (16 images, 10 classes, `--steps` points)::

    PYTHONPATH=workflow .venv/bin/python bench/integrated_gradients.py
"""

from __future__ import annotations

import argparse
import time

import torch

from cameval.explain.pathint import _grad, integrated_gradients
from cameval.models import build_model


def previous(model, x, targets, baseline=0.0, steps=50):
    """The previous path: for each target column, a forward and a backward pass per step."""
    b = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    alphas = torch.linspace(0, 1, steps, dtype=x.dtype, device=x.device)
    weights = torch.full((steps,), 1.0 / (steps - 1), dtype=x.dtype, device=x.device)
    weights[0] /= 2
    weights[-1] /= 2
    maps = []
    for k in range(targets.shape[1]):
        total = torch.zeros_like(x)
        for a, wgt in zip(alphas, weights, strict=True):
            total += wgt * _grad(model, b + a * (x - b), targets[:, k])
        maps.append(total * (x - b))
    return torch.stack(maps, dim=1)


def best(fn, repeat: int) -> tuple[float, torch.Tensor]:
    fn()
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    for arch, channels, size in (("small_googlenet", 3, 32), ("small_vgg", 3, 32), ("mnist_net", 1, 28)):
        torch.manual_seed(0)
        model = build_model(arch, num_classes=10).eval()
        x = torch.randn(16, channels, size, size)
        targets = torch.arange(10).expand(16, 10)
        t_old, old = best(lambda m=model, x=x, t=targets: previous(m, x, t, steps=opts.steps), opts.repeat)
        t_new, new = best(
            lambda m=model, x=x, t=targets: integrated_gradients(m, x, t, steps=opts.steps)[0], opts.repeat
        )
        assert torch.equal(old, new), f"{arch}: the maps differ"
        print(
            f"{arch} {size}px, 16 images x 10 classes, {opts.steps} steps: per column {t_old:.2f} s, "
            f"shared forward {t_new:.2f} s, x{t_old / t_new:.2f} (maps identical)"
        )


if __name__ == "__main__":
    main()
