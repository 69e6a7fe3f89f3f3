"""What depends on what: the jobs that only read tables (tables, claims, report pages) start without
torch, no private module is imported across packages, and the library's module-level imports have
no cycle."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
#: the jobs that read CSVs and write tables, claims and report pages: none of them needs torch
TABLE_JOBS = sorted(
    [p.name for p in SCRIPTS.glob("table*.py")]
    + ["fgsm_table.py", "claims.py", "study_tables.py", "table_html.py"]
    + ["sanity_table.py", "sanity_figures.py", "deletion_table.py", "deletion_figures.py", "appendix_c.py"]
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


#: the torch-free boundary: an experiment's torch work lives in modules named ``compute`` or ``compute_*``
BLOCKED = ("torch", "torchvision")

#: run in a fresh interpreter with the modules to import as arguments: ``torch`` and ``torchvision``
#: blocked by a finder ahead of every other, which records the chain of modules being imported at each
#: attempt (an attempt counts even where the module catches the ImportError); the library is imported
#: afresh for each module; prints one JSON line ``{module: [chain, …] or traceback}``
BOUNDARY_PROBE = r"""
import importlib, importlib.abc, json, sys, traceback

BLOCKED = set(sys.argv[1].split(","))
attempts = []


def chain(name):
    frames, f = [], sys._getframe(2)
    while f is not None:
        mod = f.f_globals.get("__name__", "?")
        if not mod.startswith(("importlib", "_frozen_importlib")) and mod != "__main__":
            step = mod if f.f_code.co_name == "<module>" else f"{mod}.{f.f_code.co_name}()"
            if not frames or frames[-1] != step:
                frames.append(step)
        f = f.f_back
    return [*reversed(frames), name]


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(" -> ".join(chain(name)))
            raise ModuleNotFoundError(f"{name} is blocked (the torch-free boundary)", name=name)
        return None


sys.meta_path.insert(0, Block())
found = {}
for module in sys.argv[2:]:
    top = module.split(".")[0]
    for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[loaded]
    attempts.clear()
    try:
        importlib.import_module(module)
        error = None
    except Exception:
        error = traceback.format_exc(limit=-8)
    found[module] = list(attempts) or ([f"import failed without importing torch:\n{error}"] if error else [])
print(json.dumps(found))
"""


def experiment_modules(root: Path, package: str) -> list[str]:
    """Every module of ``package`` (under ``root``, by its files: plain modules, packages by their
    ``__init__``, subpackages too) but the ``compute`` / ``compute_*`` ones and what lies under them."""
    folder = root.joinpath(*package.split("."))
    names = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if any(p == "compute" or p.startswith("compute_") for p in parts):
            continue
        names.append(".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)]))
    return names


def torch_imports(root: Path, modules: list[str]) -> dict[str, list[str]]:
    """What importing each of ``modules`` (from ``root``) with torch blocked tried: per module the import
    chains that reached torch or torchvision, or the traceback of an import that failed otherwise; empty
    where it imported without torch."""
    proc = subprocess.run(
        [sys.executable, "-c", BOUNDARY_PROBE, ",".join(BLOCKED), *modules],
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


EXPERIMENT_MODULES = experiment_modules(ROOT / "workflow", "cameval.experiments")


@pytest.fixture(scope="module")
def boundary() -> dict[str, list[str]]:
    """Every non-compute module of ``cameval.experiments`` imported with torch blocked (one interpreter)."""
    return torch_imports(ROOT / "workflow", EXPERIMENT_MODULES)


@pytest.mark.parametrize("module", EXPERIMENT_MODULES)
def test_the_non_compute_modules_of_every_experiment_import_without_torch(boundary, module):
    """Issue 28: an experiment's torch work is in its ``compute`` module(s); its rows, table, figure,
    claims and record — and the plain experiment modules — import with torch blocked."""
    assert not boundary[module], f"{module} imports torch:\n" + "\n".join(boundary[module])


def test_the_boundary_covers_every_experiment_and_no_compute_module():
    """The discovery the test above is parametrized by: each experiment of the registry, the package
    modules beside a compute module, and no compute module."""
    from cameval.experiments.registry import EXPERIMENTS

    assert {f"cameval.experiments.{name}" for name in EXPERIMENTS} <= set(EXPERIMENT_MODULES)
    assert {"cameval.experiments", "cameval.experiments.registry", "cameval.experiments.sanity.table"} <= set(
        EXPERIMENT_MODULES
    )
    assert not [m for m in EXPERIMENT_MODULES if "compute" in m.split(".")[-1]]


def test_the_boundary_check_sees_torch_and_the_chain_to_it(tmp_path):
    """The check on a package whose compute module imports torch (skipped), a module importing it
    directly, one through another module, one catching the ImportError, one in a function run at
    import, and one clean module."""
    pkg = tmp_path / "lab" / "exp"
    (pkg / "compute_more").mkdir(parents=True)
    for name, code in {
        "lab/__init__.py": "",
        "lab/exp/__init__.py": "import json\n",
        "lab/exp/compute.py": "import torch\n",
        "lab/exp/compute_more/__init__.py": "import torchvision\n",
        "lab/exp/heavy.py": "import os\nimport torch.nn\n",
        "lab/exp/via.py": "from lab.exp import heavy\n",
        "lab/exp/guarded.py": "try:\n    import torch\nexcept ImportError:\n    torch = None\n",
        "lab/exp/late.py": "def load():\n    import torchvision\n\n\nload()\n",
        "lab/exp/clean.py": "import json\n",
        "lab/exp/broken.py": "import no_such_module_here\n",
    }.items():
        (tmp_path / name).write_text(code)
    modules = experiment_modules(tmp_path, "lab.exp")
    assert modules == [f"lab.exp{m}" for m in ("", ".broken", ".clean", ".guarded", ".heavy", ".late", ".via")]
    found = torch_imports(tmp_path, modules)
    assert found["lab.exp"] == [] and found["lab.exp.clean"] == []
    assert found["lab.exp.heavy"] == ["lab.exp.heavy -> torch"]
    assert found["lab.exp.via"] == ["lab.exp.via -> lab.exp.heavy -> torch"]
    assert found["lab.exp.guarded"] == ["lab.exp.guarded -> torch"]
    assert found["lab.exp.late"] == ["lab.exp.late -> lab.exp.late.load() -> torchvision"]
    assert len(found["lab.exp.broken"]) == 1 and "no_such_module_here" in found["lab.exp.broken"][0]


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in (ROOT / "workflow/cameval/experiments").glob("*/compute.py"))
)
def test_only_the_compute_module_of_an_experiment_package_imports_torch(package):
    """The target shape of an experiment package: its torch work in ``compute.py``; rows, table,
    figure, claims and the record read files and start without it (at module level or in a function)."""
    folder = ROOT / "workflow/cameval/experiments" / package
    heavy = ("torch", "torchvision", "cameval.explain", "cameval.models", "cameval.heatmaps", "cameval.batches")
    for path in sorted(folder.glob("*.py")):
        found = [m for m in imported_modules(path) if m.split(".")[0] in heavy[:2] or m.startswith(heavy[2:])]
        if path.name == "compute.py":
            assert "torch" in found, path
        else:
            assert not found, f"{path.name} imports {found}"


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


def library_modules() -> dict[str, Path]:
    """``cameval``'s modules by dotted name (a package by its ``__init__.py``)."""
    mods = {}
    for path in (ROOT / "workflow/cameval").rglob("*.py"):
        parts = path.relative_to(ROOT / "workflow").with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def module_level_imports(name: str, path: Path, mods: dict[str, Path], deferred: bool = False) -> set[str]:
    """The library modules ``name`` imports when it is imported: its top-level ``import`` statements
    (inside ``if``/``try`` too), and with ``deferred`` the ones in functions as well; ``from a import b``
    is ``a.b`` where that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for a in node.names:
                    out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
            elif isinstance(node, (ast.If, ast.Try)) or (deferred and hasattr(node, "body")):
                for part in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    visit(part)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text()).body)
    return (out & mods.keys()) - {name}


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports from a module back to itself (depth-first search), or None."""
    done: set[str] = set()

    def walk(name: str, chain: list[str]) -> list[str] | None:
        if name in chain:
            return [*chain[chain.index(name) :], name]
        if name in done:
            return None
        for other in sorted(graph[name]):
            if cycle := walk(other, [*chain, name]):
                return cycle
        done.add(name)
        return None

    return next((cycle for name in sorted(graph) if (cycle := walk(name, []))), None)


def test_the_library_has_no_import_cycle():
    """No module of ``cameval`` imports itself through a chain of imports, deferred ones in functions
    included (a deferred import that only breaks a cycle at import time still ties the two modules)."""
    mods = library_modules()
    graph = {name: module_level_imports(name, path, mods, deferred=True) for name, path in mods.items()}
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the graph was read
    cycle = import_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_a_cycle(tmp_path):
    """The check above on a package of two modules importing each other (one inside an ``if``, one
    relative), beside a third that a function imports late."""
    pkg = tmp_path / "cameval"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cameval import b\n")
    (pkg / "b.py").write_text("import os\n\nif os:\n    from .a import thing\n")
    (pkg / "c.py").write_text("def late():\n    import cameval.a\n")
    mods = {name: pkg / f"{name.split('.')[-1]}.py" for name in ("cameval.a", "cameval.b", "cameval.c")}
    mods["cameval"] = pkg / "__init__.py"
    graph = {name: module_level_imports(name, path, mods) for name, path in mods.items()}
    assert graph == {"cameval": set(), "cameval.a": {"cameval.b"}, "cameval.b": {"cameval.a"}, "cameval.c": set()}
    assert import_cycle(graph) == ["cameval.a", "cameval.b", "cameval.a"]
    assert module_level_imports("cameval.c", mods["cameval.c"], mods, deferred=True) == {"cameval.a"}
    del graph["cameval.b"], mods["cameval.b"]
    graph["cameval.a"] = set()
    assert import_cycle(graph) is None


#: the most parameters (positional and keyword, ``self`` included) a library function takes (issue 28)
MAX_PARAMETERS = 10


def parameter_counts(source: str) -> dict[str, int]:
    """``{name: parameters}`` of every function and method defined in ``source`` (nested ones too):
    positional-only, positional and keyword-only parameters (``*args`` and ``**kwargs`` not counted)."""
    counts = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            counts[f"{node.name} (line {node.lineno})"] = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
    return counts


def test_no_library_function_takes_more_than_ten_parameters():
    """Signatures a reader can hold: values that travel together are one spec (a frozen dataclass)."""
    over = [
        f"{path.relative_to(ROOT)}: {name} takes {n}"
        for path in sorted((ROOT / "workflow/cameval").rglob("*.py"))
        for name, n in parameter_counts(path.read_text()).items()
        if n > MAX_PARAMETERS
    ]
    assert not over, f"more than {MAX_PARAMETERS} parameters: {over}"


def test_the_parameter_count_sees_every_kind_of_parameter():
    source = "\n".join(
        [
            "def f(a, /, b, c=1, *args, d, e=2, **kw):",
            "    def inner(x, y): ...",
            "class K:",
            "    def m(self, a, *, b): ...",
        ]
    )
    assert parameter_counts(source) == {"f (line 1)": 5, "inner (line 2)": 2, "m (line 4)": 3}


def hdf5_opens(source: str) -> list[int]:
    """Lines of ``source`` that call ``h5py.File(...)`` or a bare ``File(...)`` imported from h5py."""
    tree = ast.parse(source)
    bare = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "h5py"
        for alias in node.names
        if alias.name == "File"
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "File")
            or (isinstance(node.func, ast.Name) and node.func.id in bare)
        )
    ]


def test_every_hdf5_file_is_opened_by_open_h5():
    """No HDF5 file locks (cameval/hdf5.py says why): the library opens files only through ``open_h5``."""
    calls = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "workflow").rglob("*.py"))
        if path != ROOT / "workflow/cameval/hdf5.py"
        for line in hdf5_opens(path.read_text())
    ]
    assert not calls, f"h5py.File outside cameval.hdf5.open_h5: {calls}"


def test_the_hdf5_check_sees_both_spellings():
    source = "import h5py\nfrom h5py import File as F\nh5py.File('a')\nF('b', 'w')\nopen_h5('c')\n"
    assert hdf5_opens(source) == [3, 4]
