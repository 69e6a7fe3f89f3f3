"""Device check of the heatmap stage: ``compute_shard(device="cuda")`` writes the shard the CPU writes.

Builds a small ``digits-loc`` set and a seeded, untrained small VGG in a temporary folder, computes
one shard per method on both devices and compares targets and maps (what a SLURM run with
``device: cuda`` does). TF32 off. CAMs and occlusion must agree to 1e-3 of the peak; pixel-gradient
maps in float32 may differ more where a ReLU input lies within rounding of zero (see
``bench/gpu_check.py --dtype float64`` for the same code agreeing to 1e-15), so they are judged
by the relative L2 difference (5e-2).

    python bench/gpu_shard_check.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from cameval.data.digits import DigitsLocSpec, make_digits_loc
from cameval.heatmaps import ShardJob, compute_shard
from cameval.models import build_model, save_model
from cameval.store import Shard

SPECS = {
    "gradcam": ("top5+label", {}),
    "gradcampp": ("top5", {}),
    "guided_backprop": ("top1", {}),
    "occlusion": ("top1", {"patch": 13, "stride": 2, "fill": 0.5, "batch_size": 256}),  # 6 images only
}


def main() -> None:
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_digits_loc(d / "images.h5", d / "manifest.csv", DigitsLocSpec(counts={"train": 50, "val": 20, "test": 40}))
        torch.manual_seed(0)
        save_model(build_model("small_vgg", num_classes=10), d / "vgg.safetensors", "small_vgg", {"num_classes": 10})
        worst = 0.0
        for method, (targets, params) in SPECS.items():
            out = {}
            for device in ("cpu", "cuda"):
                out[device] = d / f"{method}-{device}.h5"
                stop = 6 if method == "occlusion" else 40
                compute_shard(
                    str(d / "vgg.safetensors"),
                    str(d / "images.h5"),
                    str(d / "manifest.csv"),
                    str(out[device]),
                    ShardJob(method, targets, "test", 0, stop, params=params, batch_size=16),
                    progress=False,
                    device=device,
                )
            with Shard(out["cpu"]) as a, Shard(out["cuda"]) as b:
                same_targets = np.array_equal(a.targets, b.targets)
                ma, mb = a.maps[:], b.maps[:]
                rel = float(np.abs(ma - mb).max() / max(np.abs(ma).max(), 1e-12))
                l2 = float(np.linalg.norm(ma - mb) / max(np.linalg.norm(ma), 1e-12))
                score = l2 / 5e-2 if method == "guided_backprop" else rel / 1e-3  # <= 1 passes
                worst = max(worst, score if same_targets else np.inf)
                print(
                    f"{method:16s} maps {tuple(ma.shape)}  targets equal: {same_targets}  max rel diff {rel:.2e}  "
                    f"rel L2 {l2:.2e}  "
                    f"cpu {a.attrs['seconds']:.2f} s  cuda {b.attrs['seconds']:.2f} s",
                    flush=True,
                )
    print(f"worst difference / tolerance: {worst:.2f}")
    raise SystemExit(0 if worst <= 1 else 1)


if __name__ == "__main__":
    main()
