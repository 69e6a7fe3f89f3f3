"""Per-image cost of Table 6 (one-pixel attack + maps) and Table 7 (class maps) on the embedded
default's networks at their sizes, with seeded untrained weights (cost does not depend on the
weights, except where an attack stops early: `evaluations` says how many candidates were scored).

    PYTHONPATH=workflow .venv/bin/python bench/table67_cost.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from cameval.attacks import OnePixelAttack, one_pixel
from cameval.explain import explain, explain_targets, shap_all_classes
from cameval.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--population", type=int, default=40)
    ap.add_argument("--generations", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for arch in ("small_vgg", "small_googlenet"):
        model = build_model(arch, num_classes=10)
        pixels = torch.rand(a.images, 3, 64, 64)
        with torch.no_grad():  # attack the model's own predictions, so it has something to flip
            labels = model((pixels - 0.5) / 0.5).argmax(1)
        t = time.perf_counter()
        res = one_pixel(
            model,
            pixels,
            labels,
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
            attack=OnePixelAttack(population=a.population, generations=a.generations),
        )
        dt = time.perf_counter() - t
        print(
            f"{arch}: one-pixel {dt / a.images:.2f} s/image, {res.evaluations.mean():.0f} candidates/image "
            f"({dt / res.evaluations.sum() * 1e3:.2f} ms/candidate)"
        )
        x = (pixels - 0.5) / 0.5
        t = time.perf_counter()
        explain(model, x, labels, "integrated_gradients", steps=20)
        print(f"{arch}: IG 20 steps {(time.perf_counter() - t) / a.images:.2f} s/image/class")
    model = build_model("small_googlenet", num_classes=10)
    x, bg = torch.randn(a.images, 3, 64, 64), torch.randn(20, 3, 64, 64)
    t = time.perf_counter()
    shap_all_classes(model, x, bg, explainer="gradient", n_samples=16)
    print(
        f"small_googlenet: shap gradient, 16 samples, {(time.perf_counter() - t) / a.images:.2f} s/image (10 classes)"
    )
    t = time.perf_counter()
    explain_targets(model, x, torch.arange(10).expand(a.images, 10), "integrated_gradients", steps=16)
    print(f"small_googlenet: IG 16 steps, {(time.perf_counter() - t) / a.images:.2f} s/image (10 classes)")


if __name__ == "__main__":
    main()
