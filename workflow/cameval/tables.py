"""The machinery every table shares: Markdown rendering, the CSV + Markdown writer, and the columns of
a mean with its bootstrap interval or of a paired comparison. The tables themselves live with their
experiment (:mod:`cameval.experiments`).

Every number comes with a 95 % percentile-bootstrap interval over images; where the config gives
the study's and the original paper's values they stand in their own columns beside ours.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from cameval.formatting import fmt, interval
from cameval.io import write_csv, write_text
from cameval.metrics import mean_ci, paired_compare


def to_markdown(df: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (no extra dependency)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(fmt(row[c], digits) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_table(
    df: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    title: str,
    notes: list[str],
    display: pd.DataFrame | None = None,
    digits: int = 2,
) -> None:
    """Write the full table as CSV and a readable version (``display``) as Markdown."""
    write_csv(df, csv)
    body = to_markdown(display if display is not None else df, digits)
    write_text(f"# {title}\n\n{body}\n" + "".join(f"- {n}\n" for n in notes), md)


def stat_columns(
    rec: dict, shown: dict, key: str, label: str, values, n_boot: int, seed: int, digits: int = 3, std: bool = False
) -> None:
    s = mean_ci(np.asarray(values, dtype=float), n_boot=n_boot, seed=seed)
    rec.update({key: s["mean"], f"{key}_low": s["low"], f"{key}_high": s["high"]})
    if std:
        rec[f"{key}_std"] = s["std"]
        shown[label] = interval(s["mean"], s["low"], s["high"], digits, std=s["std"])
    else:
        shown[label] = interval(s["mean"], s["low"], s["high"], digits)


def paired_columns(rec: dict, shown: dict, key: str, label: str, a, b, n_boot: int, seed: int, digits: int = 3) -> None:
    """``a − b`` on the same images (:func:`cameval.metrics.paired_compare`): columns ``{key}``
    (mean difference), ``{key}_low``/``_high`` (paired bootstrap interval), ``{key}_p`` (Wilcoxon)."""
    c = paired_compare(np.asarray(a, dtype=float), np.asarray(b, dtype=float), n_boot=n_boot, seed=seed)
    rec.update({key: c["mean"], f"{key}_low": c["low"], f"{key}_high": c["high"], f"{key}_p": c["p_value"]})
    p = "–" if math.isnan(c["p_value"]) else f"{c['p_value']:.3g}"
    shown[label] = f"{interval(c['mean'], c['low'], c['high'], digits)}, p = {p}"


def aligned(df_a: pd.DataFrame, df_b: pd.DataFrame, col_a: str, col_b: str | None = None):
    """The values of ``col_a`` in ``df_a`` and ``col_b`` (default ``col_a``) in ``df_b`` on the
    images both hold (by ``id``, in ``df_a``'s order): the pairs of a paired comparison."""
    b = df_b.drop_duplicates("id").set_index("id")[col_b or col_a]
    keep = df_a["id"].isin(b.index)
    return df_a.loc[keep, col_a].astype(float).to_numpy(), b.loc[df_a.loc[keep, "id"]].astype(float).to_numpy()


def paired_key(a: str, b: str) -> str:
    """The column of the paired difference ``a − b`` in a table's CSV."""
    return f"{a}_minus_{b}"


def describe(values) -> dict:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
    }
