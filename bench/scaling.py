"""Regenerate the job-count and cost tables of docs/scaling.md from a dry-run of config/paper.yaml.

The paper config needs the ILSVRC2012 val folders only to exist at parse time; the dry-run's
job counts follow from the config alone (`limit`, `shard_size`, `images`). So this script points
the three ImageNet paths at empty stand-ins in a temporary folder, keeps every count of the
paper config, runs `snakemake -n all --configfile <that copy>` and writes, between the
`<!-- generated:... -->` markers of docs/scaling.md,

- the jobs of every rule (Snakemake's own "Job stats"), and
- per heatmap set and model: images, shards, and estimated CPU and GPU hours from the per-image
  costs below (docs/benchmarks.md, "Heatmap cost per image"; Table 5's GPU costs measured on an
  H200), and
- per model, the one-pixel attacks of Table 6 at their worst case (no early stop).

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

from cameval.data.chestxray import count_eval_rows

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/scaling.md"

# Seconds per image of one heatmap job's work, by (model, heatmap set). CPU: measured with
# bench/heatmap_cost.py (2 threads, project CPU machine); GPU: the CPU figure divided by
# GPU_SPEEDUP. Occlusion: seconds per occluded position (one forward pass each) × positions.
CPU_S_PER_IMAGE = {  # CPU-seconds (2 threads summed) per image, 2026-11-27
    ("vgg16", "gradcam"): 1.651,
    ("vgg16", "gradcampp"): 1.898,
    ("vgg16", "guided_backprop"): 2.138,
    ("alexnet", "gradcam"): 0.450,
    ("alexnet", "gradcampp"): 0.471,
    ("googlenet", "gradcam"): 1.428,
    ("googlenet", "gradcampp"): 1.363,
}
# CPU-seconds per occluded VGG-16 forward pass at 224² (patch 25: 0.7951, patch 45: 0.7208)
CPU_S_PER_POSITION = {"vgg16": (0.7951 + 0.7208) / 2}
# H100 (docs/benchmarks.md, occlusion): 3,136 occluded VGG-16 forward passes in 2.47 s, batched
GPU_S_PER_POSITION = {"vgg16": 2.47 / 3136}
# How much faster the H100 runs batched VGG-16 forward passes than one CPU core-second does (≈960);
# GPU estimates of the other sets divide their CPU cost by it (an assumption: no GPU measurement
# of CAMs at 224² yet; small batches and backward passes likely use the GPU less well).
GPU_SPEEDUP = CPU_S_PER_POSITION["vgg16"] / GPU_S_PER_POSITION["vgg16"]

# One-pixel attacks (Table 6): at worst population × (generations + 1) candidates per image, each one
# forward pass (docs/benchmarks.md, "One-pixel attacks"; fewer when an attack succeeds early).
# Wall seconds per candidate on the project CPU machine (2 threads, shared, load ≈10), 224²,
# `bench/one_pixel_scoring.py --population 96`: VGG-16 with the incremental scorer 25.4 s / 96,
# GoogLeNet (full path) 38.0 s / 96, the faster of its two runs. GPU: the H100's batched VGG-16
# forward-pass rate above, for both models (GoogLeNet has ≈10× fewer multiply-adds; not measured).
ONE_PIXEL_CPU_S_PER_CANDIDATE = {"vgg16": 25.4 / 96, "googlenet": 38.0 / 96}
# GPU: measured on an H200 (torch 2.11.0+cu130, TF32 off), 2026-11-27, `python bench/gpu_one_pixel.py`:
# one population of 400 candidates scored in one batch, random weights, 224²: VGG-16 0.224 s,
# GoogLeNet 0.048 s (batch 200: 0.232 s / 0.052 s).
ONE_PIXEL_GPU_S_PER_CANDIDATE = {"vgg16": 0.224 / 400, "googlenet": 0.048 / 400}
# Table 5 (DenseNet-121, 14 outputs, 224², one target per row): GPU seconds per row, measured on an
# H200 (torch 2.11.0+cu130, TF32 off), 2026-11-27, with bench/table5_gpu_cost.py's loop (32 rows,
# each set's batch size and parameters from config/paper.yaml, best of two after a warm-up). The
# CAM figures are at the timer's resolution of 0.1 ms per row. No CPU measurement at this size.
TABLE5_GPU_S_PER_ROW = {
    "xr_gradcam_conv": 0.0004,
    "xr_gradcampp_conv": 0.0008,
    "xr_gradcam_block": 0.0006,
    "xr_gradcampp_block": 0.0004,
    "xr_ig": 0.2197,
    "xr_gradient_shap": 0.1083,
}


# ChestX-ray14's BBox_List_2017.csv: 984 boxes on 880 images, per finding as NIH counts them (the box
# file's spelling: "Infiltrate"). The stand-in gives 776 images one box and 104 two boxes of
# different findings, so every box is its own (image, finding) evaluation row: 984 rows, as
# docs/scaling.md assumes (Table 5's shards: 2 of 500, 4 of 250; any count from 751 to 1,000 rows
# plans the same shards).
XRAY_BOXES = {
    "Atelectasis": 180,
    "Cardiomegaly": 146,
    "Effusion": 153,
    "Infiltrate": 123,
    "Mass": 85,
    "Nodule": 79,
    "Pneumonia": 120,
    "Pneumothorax": 98,
}
XRAY_IMAGES = 880


def xray_stand_in(root: Path) -> dict[str, str]:
    """Empty PNG folder, Data_Entry_2017.csv and BBox_List_2017.csv with the real headers and the real
    counts (:data:`XRAY_BOXES` on :data:`XRAY_IMAGES` images); what the parse-time checks read."""
    findings = [f for f, n in XRAY_BOXES.items() for _ in range(n)]  # 984, grouped by finding
    n_boxes = len(findings)
    second = n_boxes - XRAY_IMAGES  # images with two boxes
    # box k goes to image k for k < 880, box 880 + j to image j: finding groups are >= 79 boxes
    # long and 880 apart, so an image's two boxes never share a finding
    images = [f"{i + 1:08d}_000.png" for i in range(XRAY_IMAGES)]
    owner = list(range(XRAY_IMAGES)) + list(range(second))
    folder = root / "images"
    folder.mkdir(parents=True)
    bbox = ["Image Index,Finding Label,Bbox [x,y,w,h],,,"]
    bbox += [f"{images[i]},{f},100.0,200.0,300.0,250.0,,," for i, f in zip(owner, findings, strict=True)]
    labels = {name: [] for name in images}
    for i, f in zip(owner, findings, strict=True):
        labels[images[i]].append("Infiltration" if f == "Infiltrate" else f)
    entry = [
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
    ]
    entry += [
        f"{name},{'|'.join(labels[name])},0,{i + 1},50,M,PA,1024,1024,0.143,0.143" for i, name in enumerate(images)
    ]
    (root / "BBox_List_2017.csv").write_text("\n".join(bbox) + "\n")
    (root / "Data_Entry_2017.csv").write_text("\n".join(entry) + "\n")
    return {
        "images": str(folder),
        "data_entry": str(root / "Data_Entry_2017.csv"),
        "bbox_list": str(root / "BBox_List_2017.csv"),
    }


def stand_in_config(tmp: Path) -> Path:
    """config/paper.yaml with its ImageNet and ChestX-ray14 paths and its checkpoint files pointing
    at stand-ins under `tmp` (empty ILSVRC folders; ChestX-ray14 CSVs with the real counts; empty
    checkpoint files): a dry-run plans the paper config's real job counts."""
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    for name, d in cfg["datasets"].items():
        if d["kind"] == "imagenet":
            images, xml, synsets = tmp / name / "val", tmp / name / "val_xml", tmp / name / "LOC_synset_mapping.txt"
            images.mkdir(parents=True)
            xml.mkdir()
            synsets.write_text("")
            d.update(images=str(images), annotations=str(xml), synsets=str(synsets))
        elif d["kind"] == "chestxray":
            d.update(xray_stand_in(tmp / name))
    for name, m in cfg["models"].items():
        if "weights" in m and not str(m["weights"]).startswith("torchvision:"):
            path = tmp / "weights" / name / Path(m["weights"]).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            m["weights"] = str(path)
    path = tmp / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def dry_run(config: Path, workdir: Path) -> str:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "1",
        "-n",
        "all",
        "--configfile",
        str(config),
    ]
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


def eval_images(cfg: dict, dataset: str) -> int:
    """Evaluation rows of `dataset` as the workflow counts them at parse time."""
    d = cfg["datasets"][dataset]
    if d["kind"] == "chestxray":
        return count_eval_rows(d["bbox_list"], d.get("limit"))
    return d["limit"]


def tables(config: Path, out: str) -> str:
    cfg = yaml.safe_load(config.read_text())
    counts = job_counts(out)
    lines = ["| rule | jobs |", "|---|---|"]
    lines += [f"| {rule} | {n} |" for rule, n in counts.items() if rule != "total"]
    lines += [f"| **total** | **{counts['total']}** |", ""]
    lines += [
        "| heatmap set | model | shard_size | shards | images "
        "| CPU core-s/image | CPU core-h | GPU s/image | GPU h | GPU min/shard |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    total_cpu = total_gpu = 0.0
    fmt = lambda s: "–" if s is None else f"{s:.3g}"  # noqa: E731
    for (model, key), shards in sorted(heatmap_jobs(out).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        h, dataset = cfg["heatmaps"][key], cfg["models"][model]["dataset"]
        d = cfg["datasets"][dataset]
        size, n_eval = h["shard_size"], eval_images(cfg, dataset)
        images = sum(min((i + 1) * size, n_eval) - i * size for i in range(shards))
        if h["method"] == "occlusion":
            stride = h["params"].get("stride", 1)
            positions = math.ceil(d["crop"] / stride) ** 2
            cpu = CPU_S_PER_POSITION.get(model) and CPU_S_PER_POSITION[model] * positions
            gpu = GPU_S_PER_POSITION.get(model) and GPU_S_PER_POSITION[model] * positions
        elif key in TABLE5_GPU_S_PER_ROW and cfg["models"][model]["arch"] == "densenet121":
            cpu, gpu = None, TABLE5_GPU_S_PER_ROW[key]
        else:
            cpu = CPU_S_PER_IMAGE.get((model, key))
            gpu = cpu / GPU_SPEEDUP if cpu and GPU_SPEEDUP else None
        total_cpu += (cpu or 0) * images
        total_gpu += (gpu or 0) * images
        per_shard = "–" if gpu is None else f"{gpu * min(size, n_eval) / 60:.2f}"
        lines.append(
            f"| {key} | {model} | {size} | {shards} | {images:,} | {fmt(cpu)} | {hours(cpu and cpu * images)} "
            f"| {fmt(gpu)} | {hours(gpu and gpu * images)} | {per_shard} |"
        )
    lines.append(
        f"| **all heatmaps** | | | **{counts.get('heatmaps', 0)}** | | | **{hours(total_cpu)}** | | "
        f"**{hours(total_gpu)}** | |"
    )
    if "table6" in cfg:
        t6 = cfg["table6"]
        candidates = t6["population"] * (t6["generations"] + 1)
        n_attacked = min(t6["images"], eval_images(cfg, t6["dataset"]))
        shards = math.ceil(n_attacked / t6["shard_size"])
        lines += [
            "",
            "| one-pixel attacks (Table 6) | model | shard_size | shards | images | candidates/image (at most) "
            "| CPU wall-s/image (2 threads) | CPU wall-h (2 threads) | GPU s/image | GPU h | GPU min/shard |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for model in t6["models"]:
            cpu = ONE_PIXEL_CPU_S_PER_CANDIDATE.get(model)
            gpu = ONE_PIXEL_GPU_S_PER_CANDIDATE.get(model)
            cpu, gpu = cpu and cpu * candidates, gpu and gpu * candidates
            per_shard = "–" if gpu is None else f"{gpu * min(t6['shard_size'], n_attacked) / 60:.1f}"
            lines.append(
                f"| population {t6['population']}, ≤ {t6['generations']} generations | {model} | {t6['shard_size']} "
                f"| {shards} | {n_attacked:,} | {candidates:,} | {fmt(cpu)} | {hours(cpu and cpu * n_attacked)} "
                f"| {fmt(gpu)} | {hours(gpu and gpu * n_attacked)} | {per_shard} |"
            )
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
    new, n = re.subn(
        r"(<!-- generated:begin -->\n).*?(<!-- generated:end -->)", lambda m: m[1] + text + "\n" + m[2], doc, flags=re.S
    )
    if n != 1:
        raise SystemExit(f"{DOC}: expected one '<!-- generated:begin -->' … '<!-- generated:end -->' block")
    DOC.write_text(new)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
