"""The parse-time check of a heatmap set's ``params``, without importing torch.

:func:`cameval.explain.check_params` checks ``params`` against the signature of the method's
function (``cameval.explain.METHOD_FUNCTIONS``). Importing :mod:`cameval.explain` imports torch,
about half of the time of every ``snakemake -n`` (4 of 8 s here), only to read those signatures.
:func:`check_params` here gives the same answer from the source: it reads ``METHOD_FUNCTIONS``,
``_PASSED_BY_PIPELINE`` and ``_MINIMUM`` from ``cameval/explain/__init__.py`` and each function's
``def`` from its module with :mod:`ast`, builds the :class:`inspect.Signature` that
:func:`inspect.signature` would return (names, kinds, which have defaults, annotations as the strings
``from __future__ import annotations`` makes of them), and runs the one implementation of the check,
:func:`check_signature`, on it. Where the source cannot be read that way (a function not defined at
the top of a module of the package, a decorator that is not known to keep the signature, a module
without ``from __future__ import annotations``), it imports :mod:`cameval.explain` and asks it, so
the answer is always the same; ``tests/test_explain.py`` checks both ways agree for every method.
"""

from __future__ import annotations

import ast
import functools
import inspect
import numbers
from pathlib import Path

from cameval.errors import ConfigError

EXPLAIN = Path(__file__).resolve().parent / "explain"
#: decorators that keep the wrapped function's signature (functools.wraps): inspect follows them
SIGNATURE_KEEPING = {"torch.no_grad()", "torch.inference_mode()", "torch.enable_grad()"}
_NO_DEFAULT = inspect.Parameter.empty


class _Unreadable(Exception):
    """The source does not give the signature inspect would: ask cameval.explain instead."""


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            return node.value
    raise _Unreadable(f"no top-level {name} = ...")


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )


def _signature(tree: ast.Module, name: str) -> inspect.Signature:
    """The signature inspect.signature gives the top-level function ``name`` of ``tree``."""
    if not _future_annotations(tree):
        raise _Unreadable("annotations are objects, not strings, without the __future__ import")
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(defs) != 1:
        raise _Unreadable(f"{name}: not one top-level def")
    fn = defs[0]
    if any(ast.unparse(d) not in SIGNATURE_KEEPING for d in fn.decorator_list):
        raise _Unreadable(f"{name}: decorated")
    a, P = fn.args, inspect.Parameter

    def param(arg: ast.arg, kind, has_default: bool) -> inspect.Parameter:
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else P.empty
        return P(arg.arg, kind, default=... if has_default else _NO_DEFAULT, annotation=annotation)

    positional = [(x, P.POSITIONAL_ONLY) for x in a.posonlyargs] + [(x, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    first_default = len(positional) - len(a.defaults)
    params = [param(x, kind, i >= first_default) for i, (x, kind) in enumerate(positional)]
    if a.vararg is not None:
        params.append(param(a.vararg, P.VAR_POSITIONAL, False))
    params += [param(x, P.KEYWORD_ONLY, d is not None) for x, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg is not None:
        params.append(param(a.kwarg, P.VAR_KEYWORD, False))
    return inspect.Signature(params)


@functools.cache
def _read() -> tuple[dict[str, inspect.Signature] | None, tuple[str, ...], dict[str, int]]:
    """(method -> signature, or None where the source cannot be read; _PASSED_BY_PIPELINE; _MINIMUM)."""
    init = _parse(EXPLAIN / "__init__.py")
    passed = tuple(ast.literal_eval(_assigned(init, "_PASSED_BY_PIPELINE")))
    minimum = dict(ast.literal_eval(_assigned(init, "_MINIMUM")))
    try:
        table = _assigned(init, "METHOD_FUNCTIONS")
        if not isinstance(table, ast.Dict):
            raise _Unreadable("METHOD_FUNCTIONS is not a dict display")
        imported = {
            (alias.asname or alias.name): (node.module, alias.name)
            for node in init.body
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cameval.explain.")
            for alias in node.names
        }
        trees = {"": init}
        signatures = {}
        for key, value in zip(table.keys, table.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.Name)):
                raise _Unreadable("METHOD_FUNCTIONS: not 'name': function")
            module, name = imported.get(value.id, ("", value.id))
            if module not in trees:
                sub = module.removeprefix("cameval.explain.")
                path = EXPLAIN / (sub.replace(".", "/") + ".py")
                if "." in sub or not path.exists():
                    raise _Unreadable(f"{module}: not a module file of cameval.explain")
                trees[module] = _parse(path)
            signatures[key.value] = _signature(trees[module], name)
    except _Unreadable:
        signatures = None
    return signatures, passed, minimum


def signatures() -> dict[str, inspect.Signature] | None:
    """method -> the signature of its function, read from the source (None where it cannot be)."""
    return _read()[0]


def check_params(method: str, params: dict, key: str = "params") -> None:
    """:func:`cameval.explain.check_params`, without importing torch where the source allows."""
    sigs, passed, minimum = _read()
    if sigs is None:
        from cameval.explain import check_params as check  # noqa: PLC0415 (imports torch: only where needed)

        return check(method, params, key)
    if method not in sigs:
        return
    check_signature(method, sigs[method], params, key, passed, minimum)


def check_signature(
    method: str, sig: inspect.Signature, params, key: str, passed: tuple[str, ...], minimum: dict[str, int]
) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``params`` fit ``sig``, the signature of
    ``method``'s function; the names in ``passed`` are the pipeline's own arguments, ``minimum`` the
    smallest allowed value of integer params. The rules: :func:`check_accepted`."""
    accepted = {
        n: p
        for n, p in sig.parameters.items()
        if n not in passed and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    check_accepted(method, accepted, params, key, minimum)


def _annotation(p: inspect.Parameter) -> str:
    """A parameter's annotation as written: ``int``, ``bool | None`` (a type object by its name)."""
    return p.annotation.__name__ if isinstance(p.annotation, type) else str(p.annotation)


def check_accepted(
    method: str, accepted: dict[str, inspect.Parameter], params, key: str, minimum: dict[str, int]
) -> None:
    """The one check of a method's ``params`` against the keyword arguments it ``accepted``: every
    name known, every argument without a default given, values annotated ``int`` / ``float`` /
    ``bool`` of that type, the integers of ``minimum`` at least that; a :class:`ConfigError` naming
    ``key`` otherwise. Native methods (:func:`check_signature`) and library ones
    (:func:`cameval.explain.check_params`) both end here."""
    if not isinstance(params, dict):
        raise ConfigError(f"{key}: expected a mapping of keyword arguments of {method}, got {params!r}")
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{key}: {method} takes no parameter {', '.join(map(repr, unknown))} "
            f"(expected some of {sorted(accepted) or 'none'})"
        )
    missing = sorted(n for n, p in accepted.items() if p.default is p.empty and n not in params)
    if missing:
        raise ConfigError(f"{key}: {method} needs {', '.join(map(repr, missing))}")
    for name, value in params.items():
        kind = _annotation(accepted[name])
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ConfigError(f"{key}.{name}: expected an integer, got {value!r}")
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ConfigError(f"{key}.{name}: expected a number, got {value!r}")
        if kind == "bool" and not isinstance(value, bool):
            raise ConfigError(f"{key}.{name}: expected true or false, got {value!r}")
        if kind == "bool | None" and value is not None and not isinstance(value, bool):
            raise ConfigError(f"{key}.{name}: expected true, false or null, got {value!r}")
        if name in minimum and isinstance(value, numbers.Integral) and value < minimum[name]:
            raise ConfigError(f"{key}.{name}: expected an integer >= {minimum[name]}, got {value!r}")
