"""What depends on what: the jobs that only read tables (tables, claims, report pages) start without
torch, and the library has no import cycle between its training modules."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
#: the jobs that read CSVs and write tables, claims and report pages: none of them needs torch
TABLE_JOBS = sorted(
    [p.name for p in SCRIPTS.glob("table*.py")] + ["fgsm_table.py", "claims.py", "study_tables.py", "table_html.py"]
)


def imported_modules(script: Path) -> list[str]:
    """The modules a script imports (``import a.b`` and ``from a.b import c`` as ``a.b`` and ``a.b.c``)."""
    names = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("script", TABLE_JOBS)
def test_table_claims_and_report_jobs_start_without_torch(script):
    modules = imported_modules(SCRIPTS / script)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "workflow"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{script} imports {modules} and loads torch:\n{proc.stderr[-2000:]}"


def test_the_experiment_registry_loads_without_torch():
    code = "import sys, cameval.experiments\nassert 'torch' not in sys.modules"
    proc = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT / "workflow")}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_models_train_and_multilabel_do_not_import_each_other():
    train = imported_modules(ROOT / "workflow/cameval/models/train.py")
    multilabel = imported_modules(ROOT / "workflow/cameval/models/multilabel.py")
    assert "cameval.models.multilabel" in train and "cameval.models.train" not in multilabel


def test_no_private_module_is_imported_across_packages():
    """``cameval.explain._core`` (and any ``_private`` module) is imported only inside its own package."""
    offenders = []
    for path in (ROOT / "workflow").rglob("*.py"):
        package = ".".join(path.relative_to(ROOT / "workflow").parent.parts)
        for name in imported_modules(path):
            parts = name.split(".")
            private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")]
            if private and ".".join(parts[: private[0]]) != package:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders
