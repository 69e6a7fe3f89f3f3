"""Numbers as tables, claims and figures print them: once, here.

``fmt`` prints a value (``–`` where it is missing), ``interval`` a value with its 95 % interval
``v [low, high]`` or, with ``std``, ``v ± std [low, high]`` (also a mean with its range,
``mean ± std [min, max]``).
"""

from __future__ import annotations

import math

import numpy as np

MISSING = "–"


def fmt(value, digits: int = 2, missing: str = MISSING) -> str:
    """``value`` at ``digits`` decimals if it is a float, as given otherwise; ``missing`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:.{digits}f}" if isinstance(value, (float, np.floating)) else str(value)


def interval(value, low, high, digits: int = 2, std=None, missing: str = MISSING) -> str:
    """``value [low, high]``, or ``value ± std [low, high]`` where ``std`` is given."""
    spread = "" if std is None else f" ± {fmt(std, digits, missing)}"
    return f"{fmt(value, digits, missing)}{spread} [{fmt(low, digits, missing)}, {fmt(high, digits, missing)}]"


def row_interval(row, col: str, digits: int = 2, low: str = "{}_low", high: str = "{}_high") -> str:
    """The interval of column ``col`` of a table row (columns ``{col}_low``, ``{col}_high`` by default),
    every value read as a float (NaN prints ``nan``): the numbers a claim quotes."""
    values = (float(row[col]), float(row[low.format(col)]), float(row[high.format(col)]))
    return interval(*values, digits=digits, missing="nan")
