"""The method table (cameval.methods) declares each built-in method's parameters exactly as its
function's signature takes them; cameval.paramcheck, the one check of a method's params, reads
that table (torch-free), and a parse imports no torch."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cameval import explain, methods, paramcheck
from cameval.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def signature_params(func) -> list[tuple]:
    """What a config may set of ``func``: its keyword arguments less the pipeline's own, as
    (name, annotation, default) with the table's spelling of "no annotation" and "no default"."""
    sig = inspect.signature(func)
    out = []
    for p in sig.parameters.values():
        if p.name in methods.PASSED_BY_PIPELINE or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        annotation = "any" if p.annotation is p.empty else str(p.annotation)
        kind = {"torch.Tensor | None": "any"}.get(annotation, annotation)
        out.append((p.name, kind, methods.REQUIRED if p.default is p.empty else p.default))
    return out


@pytest.mark.parametrize("name", list(methods.METHODS))
def test_the_table_declares_each_methods_parameters_as_its_signature_takes_them(name):
    spec = methods.METHODS[name]
    func = explain.METHOD_FUNCTIONS[name]
    assert [(p.name, p.type, p.default) for p in spec.params] == signature_params(func)
    assert spec.layer == ("layer" in inspect.signature(func).parameters)
    assert all(p.type in methods.PARAM_TYPES for p in spec.params)


def test_every_method_of_the_table_is_dispatched_and_nothing_else():
    assert explain.METHOD_FUNCTIONS.keys() == methods.METHODS.keys()


def test_the_check_names_the_key_and_what_was_expected():
    check = paramcheck.check_params
    key = "heatmaps.h.params"
    cases = {
        ("occlusion", "strid"): "takes no parameter 'strid'",
        ("occlusion", None): "needs 'patch'",
    }
    with pytest.raises(ConfigError, match=cases["occlusion", "strid"]):
        check("occlusion", {"patch": 3, "strid": 2}, key)
    with pytest.raises(ConfigError, match=cases["occlusion", None]):
        check("occlusion", {"stride": 2}, key)
    with pytest.raises(ConfigError, match=r"heatmaps\.h\.params\.patch: expected an integer >= 1, got 0"):
        check("occlusion", {"patch": 0}, key)
    with pytest.raises(ConfigError, match=r"params\.fill: expected a finite number, got nan"):
        check("occlusion", {"patch": 3, "fill": float("nan")}, key)
    with pytest.raises(ConfigError, match=r"params\.interpolate: expected a string, got 3"):
        check("guided_gradcam", {"interpolate": 3}, key)
    with pytest.raises(ConfigError, match=r"params\.steps: expected an integer >= 2, got 1"):
        check("integrated_gradients", {"steps": 1}, key)
    with pytest.raises(ConfigError, match=r"shap takes no parameter 'anything'"):
        check("shap", {"anything": 1}, key)
    with pytest.raises(ConfigError, match=r"params\.stdev: expected a number"):
        check("gradient_shap", {"stdev": "0"}, key)
    with pytest.raises(ConfigError, match=r"params\.incremental: expected true, false or null"):
        check("occlusion", {"patch": 3, "incremental": "yes"}, key)
    with pytest.raises(ConfigError, match=r"params: expected a mapping"):
        check("occlusion", [3], key)


ACCEPTED = [
    ("occlusion", {"patch": 3, "stride": 2, "fill": 0.5}),
    ("occlusion", {"patch": 3, "incremental": None}),
    ("integrated_gradients", {"steps": 4, "baseline": 0.5}),
    ("gradient_shap", {"n_samples": 4, "stdev": 1}),
    ("gradcam", {}),
    ("guided_gradcam", {"interpolate": "nearest"}),
    ("shap", {"n_samples": 8, "explainer": "gradient"}),
    ("ig", {"steps": 4}),
    ("nosuch", {"a": 1}),  # not a method: the method-name check names it
]


@pytest.mark.parametrize("method, params", ACCEPTED)
def test_params_that_fit_pass_both_ways(method, params):
    paramcheck.check_params(method, params, key="heatmaps.h.params")
    if method != "nosuch":
        explain.check_params(method, params, key="heatmaps.h.params")


def test_a_library_methods_params_are_checked_against_its_signature():
    with pytest.raises(ConfigError, match=r"h\.params\.batch_size: expected an integer >= 1, got 0"):
        explain.check_params("pytorch_grad_cam:ScoreCAM", {"batch_size": 0}, key="h.params")
    with pytest.raises(ConfigError, match="takes no parameter 'nosuch'"):
        explain.check_params("captum:Saliency", {"nosuch": 1}, key="h.params")
    explain.check_params("pytorch_grad_cam:ScoreCAM", {"batch_size": 4}, key="h.params")


def test_paramcheck_imports_no_torch():
    code = "import sys; import cameval.paramcheck; print('torch' in sys.modules, 'cameval.explain' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


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
