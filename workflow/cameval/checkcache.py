"""The parse-time checks that need torch and the libraries, remembered between parses.

Two checks of the main process import what a parse otherwise never needs: a library method's
``params`` are checked against its signature (importing pytorch-grad-cam brings torchvision and
OpenCV: ~2.5 s here), and a model's default layer is found by building its architecture (torch:
~2 s). That was most of a ``snakemake -n``. A check that passed is remembered in a JSON file,
keyed by what it checked and by everything that could change its answer: the versions of torch,
torchvision, pytorch-grad-cam and captum, cameval's own source, and the file of your builder or
method (``package.module:function``). The next parse with the same key imports nothing for it.
A check that fails is never remembered, so every error is raised afresh, with its message.

The file is ``$CAMEVAL_CACHE/checks.json`` (default ``$XDG_CACHE_HOME/cameval``, else
``~/.cache/cameval``); deleting it only makes the next parse slower. Where it cannot be written
(a read-only home), nothing is remembered.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

from cameval.errors import ConfigError
from cameval.io import atomic_path
from cameval.methods import explains_layer, library, split_name

#: the distributions whose versions can change a remembered answer
DISTRIBUTIONS = ("torch", "torchvision", "grad-cam", "captum")
SOURCE = Path(__file__).resolve().parent


def cache_file() -> Path:
    """Where passed checks are remembered (see the module docstring)."""
    root = os.environ.get("CAMEVAL_CACHE")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cameval"
    return Path(root) / "checks.json"


@functools.cache
def fingerprint() -> str:
    """What every answer depends on: the libraries' versions and cameval's source, hashed."""
    h = hashlib.sha256()
    for dist in DISTRIBUTIONS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        h.update(f"{dist}={version};".encode())
    for path in sorted(SOURCE.rglob("*.py")):
        h.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def module_file(module: str) -> Path | None:
    """The source file of ``module`` (``package.sub.module``), found without importing anything;
    None where it is not a plain ``.py`` file of a package on the path."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    for base in spec.submodule_search_locations or ():
        path = Path(base, *rest)
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _load(path: Path) -> dict:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def remembered(kind: str, what, compute: Callable[[], object], modules: tuple[str, ...] = ()):
    """``compute()``, or the value it returned before for the same ``kind``, ``what`` (JSON) and
    files of ``modules`` under the same :func:`fingerprint`. An exception is never remembered; a
    module whose file cannot be found is computed every time."""
    files = []
    for module in modules:
        path = module_file(module)
        if path is None:
            return compute()
        files.append(hashlib.sha256(path.read_bytes()).hexdigest())
    text = json.dumps([kind, what, files, fingerprint()], sort_keys=True, default=repr)
    key = hashlib.sha256(text.encode()).hexdigest()
    path = cache_file()
    entries = _load(path)
    if key in entries:
        return entries[key]
    value = compute()
    entries[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(entries))
    except OSError:
        pass  # nowhere to remember it: the next parse checks again
    return value


def own_module(method: str) -> tuple[str, ...]:
    """Your own method's or builder's module (``package.module``), whose file an answer depends on."""
    parts = split_name(method)
    return (parts[0],) if parts and not parts[0].startswith("cameval.") else ()


def source_digest(name: str, key: str = "") -> str:
    """SHA-256 of the source file of a method or builder named ``package.module:function`` (your own,
    or one of cameval's named that way); ``""`` for the names of cameval's table and the libraries'
    (``pytorch_grad_cam:…``, ``captum:…``: their versions are not tracked here).

    Jobs that run your function carry this as a ``params`` value, so Snakemake reruns exactly them
    after an edit of that file ("params have changed"). An edit in another module your function
    imports is not seen. A module that cannot be found is a :class:`ConfigError` naming ``key``.
    """
    parts = split_name(name)
    if parts is None or library(name):
        return ""
    path = module_file(parts[0])
    if path is None:
        raise ConfigError(
            f"{key or name}: cannot find the source file of module {parts[0]} (expected a package importable "
            "from the workflow, with a .py file per module: pip install -e your package, or put it on PYTHONPATH)"
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_params(method: str, params: dict, key: str) -> None:
    """:func:`cameval.explain.check_params` for a library's or your own method, remembered."""

    def check() -> bool:
        from cameval.explain import check_params as check_imported  # noqa: PLC0415 - torch: on a miss only

        check_imported(method, params, key)
        return True

    remembered("params", [method, params], check, own_module(method))


def uses_layer(method: str) -> bool:
    """:func:`cameval.explain.uses_layer` without torch: from the name, or (your own function) its
    signature, remembered."""
    known = explains_layer(method)
    if known is not None:
        return known

    def ask() -> bool:
        from cameval.explain import uses_layer as asked  # noqa: PLC0415 - imports your module: on a miss only

        return asked(method)

    return bool(remembered("uses_layer", method, ask, own_module(method)))
