"""Regenerate the job-count and cost tables of docs/scaling.md from a dry-run of config/paper.yaml.

The paper config needs the ILSVRC2012 val folders only to exist at parse time; the dry-run's
job counts follow from the config alone (`limit`, `shard_size`, `images`). So this script points
the three ImageNet paths at empty stand-ins in a temporary folder, keeps every count of the
paper config, runs `snakemake -n all --configfile <that copy>` and writes, between the
`<!-- generated:... -->` markers of docs/scaling.md,

- the jobs of every rule (Snakemake's own "Job stats"), and
- per heatmap set and model: images, shards, and estimated CPU and GPU hours from the per-image
  costs in COSTS (measured: docs/benchmarks.md, "Heatmap cost per image").

After adding rules or changing config/paper.yaml, rerun it and commit the doc:

    PYTHONPATH=workflow .venv/bin/python bench/scaling.py            # rewrites docs/scaling.md
    PYTHONPATH=workflow .venv/bin/python bench/scaling.py --print    # only prints the tables

tests/test_scaling.py checks the doc's job table against a fresh dry-run.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/scaling.md"

# Seconds per image of one heatmap job's work, by (model, heatmap set). CPU: measured with
# bench/heatmap_cost.py (2 threads, project CPU machine); GPU: the CPU figure divided by
# GPU_SPEEDUP. Occlusion: seconds per occluded position (one forward pass each) × positions.
CPU_S_PER_IMAGE = {  # CPU-seconds (2 threads summed) per image, 2026-11-27
    ("vgg16", "gradcam"): 1.651, ("vgg16", "gradcampp"): 1.898, ("vgg16", "guided_backprop"): 2.138,
    ("alexnet", "gradcam"): 0.450, ("alexnet", "gradcampp"): 0.471,
    ("googlenet", "gradcam"): 1.428, ("googlenet", "gradcampp"): 1.363,
}
# CPU-seconds per occluded VGG-16 forward pass at 224² (patch 25: 0.7951, patch 45: 0.7208)
CPU_S_PER_POSITION = {"vgg16": (0.7951 + 0.7208) / 2}
# H100 (docs/benchmarks.md, occlusion): 3,136 occluded VGG-16 forward passes in 2.47 s, batched
GPU_S_PER_POSITION = {"vgg16": 2.47 / 3136}
# How much faster the H100 runs batched VGG-16 forward passes than one CPU core-second does (≈960);
# GPU estimates of the other sets divide their CPU cost by it (an assumption: no GPU measurement
# of CAMs at 224² yet; small batches and backward passes likely use the GPU less well).
GPU_SPEEDUP = CPU_S_PER_POSITION["vgg16"] / GPU_S_PER_POSITION["vgg16"]


def stand_in_config(tmp: Path) -> Path:
    """config/paper.yaml with its ImageNet paths pointing at empty stand-ins under `tmp`."""
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    for name, d in cfg["datasets"].items():
        if d["kind"] == "imagenet":
            images, xml, synsets = tmp / name / "val", tmp / name / "val_xml", tmp / name / "LOC_synset_mapping.txt"
            images.mkdir(parents=True)
            xml.mkdir()
            synsets.write_text("")
            d.update(images=str(images), annotations=str(xml), synsets=str(synsets))
    path = tmp / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def dry_run(config: Path, workdir: Path) -> str:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--cores", "1", "-n", "all", "--configfile", str(config)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"dry-run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def job_counts(out: str) -> dict[str, int]:
    block = out.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def heatmap_jobs(out: str) -> Counter:
    """(model, heatmap set) -> shard jobs, from the outputs the dry-run lists."""
    found = set(re.findall(r"results/heatmaps/[^/\s]+/([^/\s]+)/([^/\s]+)/shard-(\d+)\.h5", out))
    return Counter((model, heatmap) for model, heatmap, _ in found)


def hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:,.2f}"


def tables(config: Path, out: str) -> str:
    cfg = yaml.safe_load(config.read_text())
    counts = job_counts(out)
    lines = ["| rule | jobs |", "|---|---|"]
    lines += [f"| {rule} | {n} |" for rule, n in counts.items() if rule != "total"]
    lines += [f"| **total** | **{counts['total']}** |", ""]
    lines += ["| heatmap set | model | shard_size | shards | images | CPU core-s/image | CPU core-h | GPU s/image | GPU h | GPU min/shard |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    total_cpu = total_gpu = 0.0
    for (model, key), shards in sorted(heatmap_jobs(out).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        h, d = cfg["heatmaps"][key], cfg["datasets"][cfg["models"][model]["dataset"]]
        size, n_eval = h["shard_size"], d["limit"]
        images = sum(min((i + 1) * size, n_eval) - i * size for i in range(shards))
        if h["method"] == "occlusion":
            stride = h["params"].get("stride", 1)
            positions = math.ceil(d["crop"] / stride) ** 2
            cpu = CPU_S_PER_POSITION.get(model) and CPU_S_PER_POSITION[model] * positions
            gpu = GPU_S_PER_POSITION.get(model) and GPU_S_PER_POSITION[model] * positions
        else:
            cpu = CPU_S_PER_IMAGE.get((model, key))
            gpu = cpu / GPU_SPEEDUP if cpu and GPU_SPEEDUP else None
        total_cpu += (cpu or 0) * images
        total_gpu += (gpu or 0) * images
        fmt = lambda s: "–" if s is None else f"{s:.3g}"  # noqa: E731
        per_shard = "–" if gpu is None else f"{gpu * min(size, n_eval) / 60:.2f}"
        lines.append(f"| {key} | {model} | {size} | {shards} | {images:,} | {fmt(cpu)} | {hours(cpu and cpu * images)} "
                     f"| {fmt(gpu)} | {hours(gpu and gpu * images)} | {per_shard} |")
    lines.append(f"| **all heatmaps** | | | **{counts.get('heatmaps', 0)}** | | | **{hours(total_cpu)}** | | "
                 f"**{hours(total_gpu)}** | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the tables, leave docs/scaling.md alone")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = stand_in_config(Path(tmp))
        text = tables(config, dry_run(config, Path(tmp) / "work"))
    if args.print:
        print(text)
        return
    doc = DOC.read_text()
    new, n = re.subn(r"(<!-- generated:begin -->\n).*?(<!-- generated:end -->)",
                     lambda m: m[1] + text + "\n" + m[2], doc, flags=re.S)
    if n != 1:
        raise SystemExit(f"{DOC}: expected one '<!-- generated:begin -->' … '<!-- generated:end -->' block")
    DOC.write_text(new)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
