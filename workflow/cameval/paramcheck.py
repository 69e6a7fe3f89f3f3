"""The one check of a method's ``params`` (a heatmap set's, Table 7's), torch-free.

A built-in method's parameters are data in the method table (:data:`cameval.methods.METHODS`), so
the parse-time check of a config reads them there and imports nothing. A library's method or your
own function declares its parameters by its signature: whoever imported it passes them in as
``accepted`` (:func:`cameval.explain.check_params` does, and :mod:`cameval.checkcache` remembers
its answer between parses).
"""

from __future__ import annotations

import inspect
import math
import numbers

from cameval.errors import ConfigError
from cameval.methods import ALIASES, METHODS, REQUIRED, Param


def param_of(p: inspect.Parameter) -> Param:
    """A library's or your own function's keyword argument as a :class:`~cameval.methods.Param`: its
    annotation as written (``int``, ``bool | None``; a type object by its name), its default."""
    annotation = "any" if p.annotation is p.empty else p.annotation
    kind = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return Param(p.name, kind, REQUIRED if p.default is p.empty else p.default)


def check_params(
    method: str, params, key: str = "params", accepted: dict[str, inspect.Parameter] | None = None
) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``params`` fit ``method``'s parameters.

    Every name must be a parameter of the method (a built-in one's from the method table; a library's
    or your own from ``accepted``, the keyword arguments its signature takes), every parameter
    without a default must be given, values typed ``int`` / ``float`` / ``bool`` / ``str`` must have
    that type (and be finite), integers at least their ``minimum``. A plain name that is not in the
    table is left to the method-name check, which names it."""
    if accepted is not None:
        declared = tuple(param_of(p) for p in accepted.values())
    else:
        found = METHODS.get(ALIASES.get(method, method))
        if found is None:
            return
        if found.params is None:  # pragma: no cover - every built-in method declares its params
            raise AssertionError(f"{method}: the method table declares no params")
        declared = found.params
    _check(method, {p.name: p for p in declared}, params, key, external=accepted is not None)


#: a library's or your own method's integer parameters named as ours are held to our minimum
_LEAST = {p.name: p.minimum for m in METHODS.values() for p in m.params or () if p.minimum is not None}


def _check(method: str, accepted: dict[str, Param], params, key: str, external: bool) -> None:
    if not isinstance(params, dict):
        raise ConfigError(f"{key}: expected a mapping of keyword arguments of {method}, got {params!r}")
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{key}: {method} takes no parameter {', '.join(map(repr, unknown))} "
            f"(expected some of {sorted(accepted) or 'none'})"
        )
    missing = sorted(n for n, p in accepted.items() if p.default is REQUIRED and n not in params)
    if missing:
        raise ConfigError(f"{key}: {method} needs {', '.join(map(repr, missing))}")
    for name, value in params.items():
        p = accepted[name]
        if p.type == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ConfigError(f"{key}.{name}: expected an integer, got {value!r}")
        if p.type == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ConfigError(f"{key}.{name}: expected a number, got {value!r}")
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise ConfigError(f"{key}.{name}: expected a finite number, got {value!r}")
        if p.type == "bool" and not isinstance(value, bool):
            raise ConfigError(f"{key}.{name}: expected true or false, got {value!r}")
        if p.type == "bool | None" and value is not None and not isinstance(value, bool):
            raise ConfigError(f"{key}.{name}: expected true, false or null, got {value!r}")
        if p.type == "str" and not isinstance(value, str):
            raise ConfigError(f"{key}.{name}: expected a string, got {value!r}")
        least = p.minimum if p.minimum is not None else _LEAST.get(name) if external else None
        if least is not None and isinstance(value, numbers.Integral) and value < least:
            raise ConfigError(f"{key}.{name}: expected an integer >= {least}, got {value!r}")
