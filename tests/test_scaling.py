"""docs/scaling.md's job table is the paper config's dry-run: checked against a fresh one."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow


def doc_job_table() -> dict[str, int]:
    """The '| rule | jobs |' table of docs/scaling.md as {rule: jobs} (with 'total')."""
    text = (ROOT / "docs/scaling.md").read_text()
    block = text.split("| rule | jobs |")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| \**(\w+)\** \| \**(\d+)\** \|$", block, re.M)}


def test_scaling_doc_job_counts_match_a_dry_run_of_the_paper_config(tmp_path, tiny_imagenet):
    """Dry-run of config/paper.yaml with all its counts (limit 50,000) against the tiny ILSVRC
    fixture: Snakemake's 'Job stats' must equal the doc's table, rule by rule."""
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    cfg["datasets"]["imagenet"].update(images=str(tiny_imagenet["images"]), annotations=str(tiny_imagenet["xml"]),
                                       synsets=str(tiny_imagenet["synsets"]))
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d",
                           str(tmp_path / "work"), "--cores", "1", "-n", "all", "--configfile", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    block = proc.stdout.split("Job stats:")[1].split("\n\n")[0]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}
    doc = doc_job_table()
    assert doc == counts, ("docs/scaling.md is out of date; regenerate it with "
                           "`PYTHONPATH=workflow .venv/bin/python bench/scaling.py`")
    # 50,000 images in shards of the configured size: the heatmap jobs of Tables 1-3 by hand
    # (rules added later can only add heatmap jobs)
    h, n = cfg["heatmaps"], cfg["datasets"]["imagenet"]["limit"]
    shards = lambda key, images=n: -(-min(images, n) // h[key]["shard_size"])  # noqa: E731
    expected = (len(cfg["table1"]["models"]) * sum(shards(k) for k in cfg["table1"]["methods"])
                + shards("guided_backprop", cfg["table3"]["images"])
                + sum(shards(k, cfg["table3"]["images"]) for k in cfg["table3"]["occlusion"]))
    assert doc["heatmaps"] >= expected > 0
