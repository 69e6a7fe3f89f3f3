"""The tiny run's outputs, pinned: every table CSV (``results/tables/**/*.csv``) and
``results/claims.csv`` of the session's shared tiny run (tests/conftest.py: ``tiny_run``) must equal
the committed copy under ``tests/pinned/tiny/`` (same relative path) byte for byte, and every figure
(``results/figures/**/*.png``) must match the image size, mode and per-channel pixel mean and
standard deviation in ``tests/pinned/tiny/figures.json`` (within ``FIGURE_TOLERANCE``: font
rendering may move a few pixels where the numbers do not change).

A change of behaviour shows here as a diff of the pinned files. When the change is intended (a new
model or method in tests/configs/tiny.yaml, a fixed bug), regenerate the pins from a run of the tiny
config and commit them::

    CAMEVAL_REPIN=1 .venv/bin/pytest -q tests/test_pinned.py

(that writes ``tests/pinned/tiny/`` from this session's tiny run, then passes). To pin another
finished run instead (``snakemake --cores 2 all --configfile tests/configs/tiny.yaml`` from the root
of a clone)::

    .venv/bin/python tests/test_pinned.py /path/to/that/clone

A commit that changes files under ``tests/pinned/`` must say why each changed (which change of code or
config moved which numbers): the pins are the record of what the tiny run computes.

Nothing is excluded today: every pinned CSV was found byte-identical between two runs of the tiny
config on different days and folders (no timings, paths or dates in them). A file or column that is
not deterministic would be listed in ``EXCLUDED`` with the reason, never skipped silently.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PINS = Path(__file__).resolve().parent / "pinned" / "tiny"
FIGURES_JSON = PINS / "figures.json"
#: max difference of a channel's mean or standard deviation (0-255 scale)
FIGURE_TOLERANCE = 0.5
#: relative path -> why it is not pinned (none today; see the module docstring)
EXCLUDED: dict[str, str] = {}


def pinned_tables(results_root: Path) -> list[str]:
    """Relative paths (from the run's root) of the CSVs that are pinned."""
    found = [str(p.relative_to(results_root)) for p in (results_root / "results/tables").rglob("*.csv")]
    if (results_root / "results/claims.csv").exists():
        found.append("results/claims.csv")
    return sorted(f for f in found if f not in EXCLUDED)


def figures(results_root: Path) -> list[str]:
    return sorted(str(p.relative_to(results_root)) for p in (results_root / "results/figures").rglob("*.png"))


def pixel_stats(path: Path) -> dict:
    """Size, mode and per-channel mean and standard deviation of a PNG (0-255 scale)."""
    with Image.open(path) as im:
        mode, size = im.mode, list(im.size)
        px = np.asarray(im, dtype=np.float64)
    px = px.reshape(px.shape[0], px.shape[1], -1)
    return {
        "size": size,
        "mode": mode,
        "mean": [round(float(v), 3) for v in px.mean(axis=(0, 1))],
        "std": [round(float(v), 3) for v in px.std(axis=(0, 1))],
    }


def repin(run_root: Path) -> None:
    """Write tests/pinned/tiny/ from the finished tiny run at ``run_root`` (replacing what is there)."""
    if PINS.exists():
        shutil.rmtree(PINS)
    for rel in pinned_tables(run_root):
        (PINS / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_root / rel, PINS / rel)
    stats = {rel: pixel_stats(run_root / rel) for rel in figures(run_root)}
    lines = ",\n".join(f"  {json.dumps(rel)}: {json.dumps(s)}" for rel, s in stats.items())
    FIGURES_JSON.write_text("{\n" + lines + "\n}\n")


@pytest.fixture(scope="module")
def run_root(tiny_run):
    if os.environ.get("CAMEVAL_REPIN"):
        repin(tiny_run)
    return tiny_run


def test_every_pinned_file_is_made_and_every_made_file_pinned(run_root):
    pinned = sorted(str(p.relative_to(PINS)) for p in PINS.rglob("*.csv"))
    assert pinned_tables(run_root) == pinned, "tables made by the tiny run vs tests/pinned/tiny/ (see CAMEVAL_REPIN)"
    assert figures(run_root) == sorted(json.loads(FIGURES_JSON.read_text()))


def test_tables_and_claims_equal_the_pinned_ones_byte_for_byte(run_root):
    differ = [rel for rel in pinned_tables(run_root) if (run_root / rel).read_bytes() != (PINS / rel).read_bytes()]
    assert not differ, f"differ from tests/pinned/tiny/ (diff them; CAMEVAL_REPIN=1 if intended): {differ}"


def test_figures_match_the_pinned_pixel_statistics(run_root):
    pinned = json.loads(FIGURES_JSON.read_text())
    for rel in figures(run_root):
        got, want = pixel_stats(run_root / rel), pinned[rel]
        assert (got["size"], got["mode"]) == (want["size"], want["mode"]), rel
        for key in ("mean", "std"):
            assert np.allclose(got[key], want[key], atol=FIGURE_TOLERANCE, rtol=0), (rel, key, got[key], want[key])


if __name__ == "__main__":
    repin(Path(sys.argv[1]).resolve())
    print(f"pinned {len(pinned_tables(PINS))} tables and {len(json.loads(FIGURES_JSON.read_text()))} figures")
