"""docs/scaling.md's job table is the paper config's dry-run: checked against a fresh one."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow


def doc_job_table() -> dict[str, int]:
    """The '| rule | jobs |' table of docs/scaling.md as {rule: jobs} (with 'total')."""
    text = (ROOT / "docs/scaling.md").read_text()
    block = text.split("| rule | jobs |")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| \**(\w+)\** \| \**(\d+)\** \|$", block, re.M)}


def scaling_script():
    """bench/scaling.py as a module (its stand-in config is what the doc's table was made from)."""
    spec = importlib.util.spec_from_file_location("bench_scaling", ROOT / "bench/scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stand_in_chestxray_files_have_the_real_counts(tmp_path):
    """BBox_List_2017.csv: 984 boxes on 880 images with NIH's header and per-finding counts;
    every boxed image has a row in Data_Entry_2017.csv. Read with pandas, not the project's reader."""
    files = scaling_script().xray_stand_in(tmp_path)
    bbox = pd.read_csv(files["bbox_list"])
    assert list(bbox.columns[:6]) == ["Image Index", "Finding Label", "Bbox [x", "y", "w", "h]"]
    assert len(bbox) == 984 and bbox["Image Index"].nunique() == 880
    assert not bbox.duplicated(["Image Index", "Finding Label"]).any()  # 984 (image, finding) rows
    assert bbox["Finding Label"].value_counts().to_dict() == {
        "Atelectasis": 180,
        "Effusion": 153,
        "Cardiomegaly": 146,
        "Infiltrate": 123,
        "Pneumonia": 120,
        "Pneumothorax": 98,
        "Mass": 85,
        "Nodule": 79,
    }
    entry = pd.read_csv(files["data_entry"])
    assert set(bbox["Image Index"]) <= set(entry["Image Index"])


def test_scaling_doc_job_counts_match_a_dry_run_of_the_paper_config(tmp_path):
    """Dry-run of config/paper.yaml with all its counts (limit 50,000; ChestX-ray14's 984 boxes on
    880 images) against bench/scaling.py's stand-ins: Snakemake's 'Job stats' must equal the doc's
    table, rule by rule."""
    path = scaling_script().stand_in_config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "-d",
            str(tmp_path / "work"),
            "--cores",
            "1",
            "-n",
            "all",
            "--configfile",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    block = proc.stdout.split("Job stats:")[1].split("\n\n")[0]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}
    doc = doc_job_table()
    assert doc == counts, (
        "docs/scaling.md is out of date; regenerate it with `PYTHONPATH=workflow .venv/bin/python bench/scaling.py`"
    )
    # 50,000 images in shards of the configured size: the heatmap jobs of Tables 1-3 by hand,
    # Table 5's: 984 rows in shards of 500 (CAMs) and 250 (IG, Gradient SHAP) for models A and B
    # (rules added later can only add heatmap jobs)
    h, n = cfg["heatmaps"], cfg["datasets"]["imagenet"]["limit"]
    shards = lambda key, images=n: -(-min(images, n) // h[key]["shard_size"])  # noqa: E731
    expected = (
        len(cfg["table1"]["models"]) * sum(shards(k) for k in cfg["table1"]["methods"])
        + shards("guided_backprop", cfg["table3"]["images"])
        + sum(shards(k, cfg["table3"]["images"]) for k in cfg["table3"]["occlusion"])
    )
    assert [h[k]["shard_size"] for k in cfg["table5"]["cams"]] == [500] * 4
    assert [h[k]["shard_size"] for k in cfg["table5"]["pixels"]] == [250] * 2
    expected += 2 * (4 * 2 + 2 * 4)
    assert doc["heatmaps"] >= expected > 0
    # Table 6: 250 images per model in shards of table6.shard_size
    assert doc["one_pixel"] == len(cfg["table6"]["models"]) * -(-250 // cfg["table6"]["shard_size"])
