"""Seconds per evaluation row of Table 5's heatmap sets (config/paper.yaml) for DenseNet-121 at 224².

    PYTHONPATH=workflow python bench/table5_gpu_cost.py [--device cuda] [--rows 32]

Random-weight ``densenet121`` (14 outputs), random 224² inputs, one target per row (Table 5 explains
each row's finding), each set's method, layer, parameters and batch size from the config; best of
two passes after a warm-up. TF32 off. docs/scaling.md turns these into GPU hours.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from cameval.explain import explain
from cameval.models.densenet import densenet121, resolve_layer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--config", default=str(ROOT / "config/paper.yaml"))
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = yaml.safe_load(Path(args.config).read_text())
    torch.manual_seed(0)
    model = densenet121(num_classes=14).eval().to(args.device)
    x = torch.randn(args.rows, 3, 224, 224, device=args.device)
    target = torch.randint(0, 14, (args.rows,), device=args.device)
    t5 = cfg["table5"]
    print(
        f"device {args.device} ({torch.cuda.get_device_name(0) if args.device.startswith('cuda') else 'cpu'}), "
        f"torch {torch.__version__}, {args.rows} rows"
    )
    print("| heatmap set | method | batch | s/row |\n|---|---|---|---|")

    def once(h: dict, layer, bs: int) -> None:
        for b0 in range(0, args.rows, bs):
            explain(
                model, x[b0 : b0 + bs], target[b0 : b0 + bs], method=h["method"], layer=layer, **h.get("params", {})
            )
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for key in t5["cams"] + t5["pixels"]:
        h = cfg["heatmaps"][key]
        layer = resolve_layer(model, h.get("layer"))
        bs = h["batch_size"]
        once(h, layer, bs)  # warm-up
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            once(h, layer, bs)
            best = min(best, time.perf_counter() - t0)
        print(f"| {key} | {h['method']} | {bs} | {best / args.rows:.4f} |", flush=True)


if __name__ == "__main__":
    main()
