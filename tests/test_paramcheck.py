"""cameval.paramcheck (the workflow's parse-time check of heatmap params, torch-free) answers exactly
as cameval.explain.check_params, and a parse imports no torch."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cameval import explain, paramcheck
from cameval.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def spec(sig: inspect.Signature) -> list[tuple]:
    """What check_params reads of a signature: names, kinds, which have a default, annotations."""
    return [(p.name, p.kind, p.default is p.empty, str(p.annotation)) for p in sig.parameters.values()]


def test_the_source_gives_every_methods_signature_as_inspect_does():
    sigs = paramcheck.signatures()
    assert sigs is not None, "cameval.explain's source is no longer readable: every parse imports torch again"
    assert sigs.keys() == explain.METHOD_FUNCTIONS.keys()
    for method, func in explain.METHOD_FUNCTIONS.items():
        assert spec(sigs[method]) == spec(inspect.signature(func)), method
    _, passed, minimum = paramcheck._read()
    assert passed == explain._PASSED_BY_PIPELINE and minimum == explain._MINIMUM


CASES = [
    ("occlusion", {"patch": 3, "stride": 2, "fill": 0.5}),
    ("occlusion", {"patch": 3, "strid": 2}),
    ("occlusion", {"stride": 2}),
    ("occlusion", {"patch": "3"}),
    ("occlusion", {"patch": True}),
    ("occlusion", {"patch": 0}),
    ("occlusion", {"patch": 3, "progress": 1}),
    ("occlusion", {"patch": 3, "incremental": None}),
    ("occlusion", {"patch": 3, "incremental": "yes"}),
    ("occlusion", [3]),
    ("integrated_gradients", {"steps": 1}),
    ("integrated_gradients", {"steps": 4, "baseline": 0.5}),
    ("gradient_shap", {"n_samples": 4, "stdev": "0"}),
    ("gradient_shap", {"n_samples": 4, "stdev": 1}),
    ("gradcam", {}),
    ("gradcam", {"layer": "features.3"}),
    ("guided_backprop", {"x": 1}),
    ("guided_gradcam", {"interpolate": "nearest"}),
    ("shap", {"anything": 1}),  # not in METHOD_FUNCTIONS: not checked
    ("nosuch", {"a": 1}),
]


@pytest.mark.parametrize("method, params", CASES)
def test_both_checks_give_the_same_answer(method, params):
    def answer(check):
        try:
            check(method, params, key="heatmaps.h.params")
        except ConfigError as err:
            return str(err)
        return None

    assert answer(paramcheck.check_params) == answer(explain.check_params)


def test_a_jobs_parse_of_the_workflow_imports_no_torch(tmp_path):
    """Every job a cluster (or `--mode subprocess`) runs parses the workflow again: with `import torch`
    made to fail, that parse of the tiny config goes through. (The main process does import torch for
    this config: it names library methods and its own builder, whose signatures and layers are read
    by importing them, once.)"""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('torch imported while parsing the workflow')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT / 'workflow'}"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--mode",
            "subprocess",
            "-n",
            "--cores",
            "1",
            "results/tables/table1.csv",
            "--configfile",
            str(ROOT / "tests/configs/tiny.yaml"),
        ]
        + ["-d", str(tmp_path / "run")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "Error" not in proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
