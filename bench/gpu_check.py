"""Device check: every explainer on CUDA equals the CPU result, on the study's architectures.

Seeded random weights, the same input on both devices, TF32 off. Prints the largest difference
relative to the CPU map's largest magnitude, per architecture and method, and fails if one
exceeds the tolerance. cuDNN and the CPU sum convolutions in other orders: CAMs and occlusion
agree to ~1e-5, pixel-gradient maps of deep random-weight nets (VGG-16, 13 ReLUs deep) to ~5e-3,
since a ReLU whose input is within rounding of 0 can gate differently on the two devices.

    python bench/gpu_check.py [--size 224]
"""

from __future__ import annotations

import argparse
import time

import torch

from cameval.explain import explain
from cameval.models import build_model

METHODS = {
    "gradcam": {},
    "gradcampp": {},
    "guided_backprop": {},
    "guided_gradcam": {},
    "integrated_gradients": {"steps": 16},
    "occlusion": {"patch": 45, "stride": 16, "batch_size": 64},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--archs", default="vgg16,alexnet,googlenet,densenet121")
    ap.add_argument("--rtol", type=float, default=1e-2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    print(torch.__version__, torch.cuda.get_device_name(0))
    worst = 0.0
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        dtype = getattr(torch, args.dtype)
        cpu = build_model(arch).eval().to(dtype)
        gpu = build_model(arch).eval().to(dtype)
        gpu.load_state_dict(cpu.state_dict())
        gpu = gpu.cuda()
        x = torch.randn(2, 3, args.size, args.size, dtype=dtype)
        n_classes = cpu(x[:1]).shape[1]
        target = torch.tensor([3, 500]) % n_classes
        for method, params in METHODS.items():
            if method == "occlusion" and arch != "vgg16":
                continue
            a = explain(cpu, x, target, method=method, **params)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            b = explain(gpu, x.cuda(), target.cuda(), method=method, **params)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            rel = float((a - b.cpu()).abs().max() / a.abs().max().clamp_min(1e-12))
            l2 = float((a - b.cpu()).norm() / a.norm().clamp_min(1e-12))
            worst = max(worst, rel)
            print(
                f"{arch:12s} {method:22s} max rel diff {rel:.2e}  rel L2 {l2:.2e}  cuda {dt * 1000:.0f} ms  "
                f"{'ok' if rel <= args.rtol else 'FAIL'}",
                flush=True,
            )
        # the model must be left as it was: same outputs, no hooks
        assert not any(m._forward_hooks or m._backward_hooks for m in gpu.modules())
    print(f"worst relative difference {worst:.2e} (tolerance {args.rtol})")
    raise SystemExit(0 if worst <= args.rtol else 1)


if __name__ == "__main__":
    main()
