"""Benchmark: seconds per image of the heatmap stage for the paper config's heatmap sets.

Runs what a `heatmaps` job runs per batch (`cameval.heatmaps.compute_shard`: a forward pass for
the scores, the configured targets, `explain_targets`) on random 224² inputs with random-weight
torchvision models, and prints seconds per image for every (model, heatmap set) of
config/paper.yaml. Occlusion is timed at a coarse stride and reported per occluded position
(its cost is one forward pass per position; `--occlusion-stride`), so that the stride-1 cost
follows as seconds/position × positions. docs/scaling.md turns these into CPU/GPU hours.

    .venv/bin/python bench/heatmap_cost.py [--images 8] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from cameval.explain import explain_targets, logits_of
from cameval.heatmaps import select_targets
from cameval.models import build_model

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_image(model, x, labels, method, targets, params, batch_size, device) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) per image of compute_shard's inner loop over
    `x`, best of two passes. CPU seconds summed over threads are what CPU-hours count, and on a
    shared machine they are far less disturbed by other processes than the wall time."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        for b0 in range(0, len(x), batch_size):
            xb = x[b0 : b0 + batch_size]
            with torch.no_grad():
                logits = logits_of(model(xb))
            t = select_targets(logits, labels[b0 : b0 + batch_size], targets)
            explain_targets(model, xb, t, method, **params)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best / len(x), best_cpu / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config/paper.yaml"))
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--occlusion-images", type=int, default=1)
    ap.add_argument("--occlusion-stride", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(Path(args.config).read_text())
    used = {m: set() for m in cfg["models"]}  # the heatmap sets each model is explained with
    for m in cfg["table1"]["models"]:
        used[m] |= set(cfg["table1"]["methods"])
    for m in cfg["figure1"]["models"]:
        used[m] |= set(cfg["figure1"].get("methods", []))
    for m in cfg["table2"]["models"]:
        used[m] |= set(cfg["table2"].get("heatmaps") or [cfg["table2"].get("heatmap", "gradcam")])
    for m in cfg["table3"]["models"]:
        used[m] |= {cfg["table3"]["gradcam"], cfg["table3"]["guided_backprop"], *cfg["table3"]["occlusion"]}
        used[m] |= set(cfg["table3"].get("methods", []))
    print("| model | heatmap set | method | targets | batch | wall s/image | CPU s/image | CPU s/position |")
    print("|---|---|---|---|---|---|---|---|")
    for name, spec in cfg["models"].items():
        torch.manual_seed(0)
        model = build_model(spec["arch"]).eval().to(args.device)
        for key in sorted(used[name]):
            h = cfg["heatmaps"][key]
            params = dict(h.get("params", {}))
            n = args.images
            positions = None
            if h["method"] == "occlusion":
                n, params["stride"] = args.occlusion_images, args.occlusion_stride
                positions = len(range(0, 224, args.occlusion_stride)) ** 2
            gen = torch.Generator().manual_seed(1)
            x = torch.randn(n, 3, 224, 224, generator=gen).to(args.device)
            labels = torch.randint(0, 1000, (n,), generator=gen).to(args.device)
            wall, cpu = seconds_per_image(
                model, x, labels, h["method"], h.get("targets", "top1"), params, h.get("batch_size", 32), args.device
            )
            per_pos = f"{cpu / positions:.4f}" if positions else "–"
            print(
                f"| {name} | {key} | {h['method']} | {h.get('targets', 'top1')} | {h.get('batch_size', 32)} "
                f"| {wall:.3f} | {cpu:.3f} | {per_pos} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
