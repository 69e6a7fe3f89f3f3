"""Time the embedded default's Table 5 stages (what `make all` adds for Table 5), job by job.

Runs, with the settings of config/config.yaml and in the DAG's order, the library calls the rules
make: the digits-multi dataset, training of models A and B, the 12 heatmap shards (6 sets x 2
models), the per-row measures, Table 5 and both figures; prints each step's wall time and the
total. Snakemake's own per-job start-up (≈20 jobs) is not included. Example (2 cores):

    taskset -c 0,1 python bench/table5_cost.py --threads 2 --out /tmp/t5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

# after the path insert: the script runs without PYTHONPATH=workflow
from cameval.data.build import build_dataset  # noqa: E402
from cameval.data.images import ImageSet  # noqa: E402
from cameval.data.multilabel import digits_multi_eval_rows  # noqa: E402
from cameval.experiments.xray.figure import appendix_e, table5_figure  # noqa: E402
from cameval.experiments.xray.rows import xray_rows  # noqa: E402
from cameval.experiments.xray.table import table5, write_table5  # noqa: E402
from cameval.heatmaps import ShardJob, compute_shard  # noqa: E402
from cameval.models.train import TrainRun, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp/table5_cost")
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(open(args.config))
    t5 = cfg["table5"]
    ds = dict(cfg["datasets"][t5["dataset"]])
    ds.setdefault("fractions", [0.7, 0.15, 0.15])
    ds.setdefault("mean", [0.5] * 3)
    ds.setdefault("std", [0.5] * 3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    times, cpu = {}, {}

    def step(name, fn, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        r = fn(*a, **k)
        times[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        print(f"{name}: {times[name]:.1f} s wall, {cpu[name]:.1f} s CPU", flush=True)
        return r

    images, manifest = out / "images.h5", out / "manifest.csv"
    step("dataset", build_dataset, ds, images, manifest, seed=cfg["seed"])
    auroc = {}
    for m in t5["models"]:
        spec = cfg["models"][m]
        spec = {**spec, "train": dict(lr=0.003, batch_size=64, weight_decay=1e-4) | dict(spec["train"])}
        run = TrainRun.from_config(
            spec,
            images=str(images),
            manifest=str(manifest),
            weights=str(out / f"{m}.safetensors"),
            metrics=str(out / f"{m}.json"),
            curve=str(out / f"{m}.csv"),
            seed=cfg["seed"],
            name=m,
        )
        res = step(f"train {m}", train, run)
        auroc[m] = res["test_auroc"]
    n = digits_multi_eval_rows(ds["counts"]["test"], ds["max_digits"])
    sets = t5["cams"] + t5["pixels"]
    for m in t5["models"]:
        for h in sets:
            spec = cfg["heatmaps"][h]
            step(
                f"heatmaps {m}/{h}",
                compute_shard,
                str(out / f"{m}.safetensors"),
                str(images),
                str(manifest),
                str(out / f"{m}_{h}.h5"),
                ShardJob(
                    spec["method"],
                    spec["targets"],
                    "test",
                    0,
                    n,
                    params=spec.get("params", {}),
                    layer=spec.get("layer"),
                    batch_size=spec.get("batch_size", 32),
                ),
                progress=False,
            )
    with ImageSet(images) as imgs:
        classes = imgs.attrs["classes"]
    rows = {
        m: step(f"xray rows {m}", xray_rows, {h: [str(out / f"{m}_{h}.h5")] for h in sets}, str(manifest), classes)
        for m in t5["models"]
    }
    meta = {
        h: {"method": cfg["heatmaps"][h]["method"], "layer": cfg["heatmaps"][h].get("layer", "input")} for h in sets
    }
    full = step("table5", table5, rows, meta, auroc=auroc, n_boot=cfg["bootstrap"], seed=cfg["seed"])
    write_table5(full, out / "table5.csv", out / "table5.md", notes=[])
    step("table5 figure", table5_figure, full, out / "table5.png")
    step(
        "appendix E",
        appendix_e,
        str(images),
        str(manifest),
        {m: {h: [str(out / f"{m}_{h}.h5")] for h in sets} for m in t5["models"]},
        {h: h for h in sets},
        out / "appendix_e.png",
        n_images=t5.get("figure_images", 4),
    )
    total = sum(times.values())
    print(
        json.dumps(
            {"total_wall_s": round(total, 1), "total_cpu_s": round(sum(cpu.values()), 1), "auroc": auroc, "rows": n}
        ),
        flush=True,
    )
    overall = full[(full["finding"] == "all")].pivot_table(index=["model", "set"], columns="measure", values="value")
    print(overall[["loc_study", "loc_iou50", "inbox"]].round(3).to_string())


if __name__ == "__main__":
    main()
