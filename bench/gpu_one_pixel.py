"""One-pixel attacks on CUDA: same attack as on the CPU, and the cost per candidate at the study's size.

    python bench/gpu_one_pixel.py

1. A seeded small VGG (64 px): ``population_logits`` on CUDA vs CPU (largest difference relative to
   the largest logit) and the whole attack (pixel, colour, success) on both devices.
2. VGG-16 and GoogLeNet (random weights, 224 px, 1000 classes): seconds per population of 400
   candidates on CUDA, hence the worst case per image of the study's 400 x 100 (40,400 candidates).
TF32 is off so that CUDA computes in full float32.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from cameval.attacks import OnePixelAttack, one_pixel, population_logits
from cameval.models import build_model


def main() -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    model = build_model("small_vgg", num_classes=10)
    x = torch.randn(3, 64, 64)
    rows, cols, values = torch.randint(0, 64, (400,)), torch.randint(0, 64, (400,)), torch.randn(400, 3)
    cpu = population_logits(model, x, rows, cols, values)
    gpu = population_logits(model.cuda(), x.cuda(), rows, cols, values).cpu()
    print(
        f"small_vgg population_logits: max |cuda - cpu| / max |cpu| = {(gpu - cpu).abs().max() / cpu.abs().max():.2e}"
    )
    pixels = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        labels = model.cpu()((pixels - 0.5) / 0.5).argmax(1)
    kw = dict(mean=(0.5,) * 3, std=(0.5,) * 3, attack=OnePixelAttack(population=40, generations=5, seed=0))
    a = one_pixel(model.cpu(), pixels, labels, **kw)
    t = time.perf_counter()
    b = one_pixel(model.cuda(), pixels.cuda(), labels.cuda(), **kw)
    torch.cuda.synchronize()
    print(
        f"small_vgg attack, 4 images: same pixel {np.array_equal(a.pixel, b.pixel)}, same colour "
        f"{np.array_equal(a.colour, b.colour)}, same success {np.array_equal(a.success, b.success)}, "
        f"max |p_after diff| {np.abs(a.p_after - b.p_after).max():.2e}; cuda {time.perf_counter() - t:.2f} s"
    )
    for arch in ("vgg16", "googlenet"):
        net = build_model(arch, num_classes=1000).cuda()
        x = torch.randn(3, 224, 224, device="cuda")
        rows, cols, values = torch.randint(0, 224, (400,)), torch.randint(0, 224, (400,)), torch.randn(400, 3)
        for bs in (200, 400):
            population_logits(net, x, rows, cols, values, batch_size=bs)
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(5):
                population_logits(net, x, rows, cols, values, batch_size=bs)
            torch.cuda.synchronize()
            per_pop = (time.perf_counter() - t) / 5
            print(
                f"{arch} 224 px, batch {bs}: {per_pop:.3f} s per population of 400 "
                f"({per_pop / 400 * 1e3:.2f} ms/candidate); "
                f"study worst case 400 x 101 populations = {per_pop * 101:.0f} s/image, 250 images = "
                f"{per_pop * 101 * 250 / 3600:.2f} h"
            )


if __name__ == "__main__":
    main()
