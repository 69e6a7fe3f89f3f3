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

from cameval.data.kinds import dataset_kind
from cameval.formatting import fmt, interval
from cameval.io import write_csv, write_text
from cameval.metrics import mean_ci, paired_compare
from cameval.paths import layout


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


# --- each model's accuracy, in every table's notes ----------------------------------------------

#: a table job's input holding a model's accuracy on its evaluation split (the ``model_accuracy`` rule)
ACCURACY_KEY = "accuracy__"


def accuracy_inputs(config: dict, models) -> dict[str, str]:
    """``{accuracy__<model>: <results>/metrics/accuracy/<dataset>/<model>.json}`` for the single-label models
    of ``models`` (a multi-label model has no top-1 accuracy): the inputs that put each model's accuracy
    in a table's notes."""
    out, paths = {}, layout(config)
    for m in models:
        dataset = config["models"][m]["dataset"]
        if not dataset_kind(config["datasets"][dataset], dataset).multilabel:
            out[f"{ACCURACY_KEY}{m}"] = paths.accuracy(dataset, m)
    return out


def split_accuracy(inputs) -> tuple[dict[str, str], dict[str, dict]]:
    """A table job's named inputs without the ``accuracy__<model>`` ones, and those read:
    ``{model: {..., "dataset": <its folder>}}`` (:func:`cameval.models.train.split_accuracy`'s JSON)."""
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    rest, accuracy = {}, {}
    for key, path in inputs.items():
        if key.startswith(ACCURACY_KEY):
            with open(path, encoding="utf-8") as f:
                accuracy[key.removeprefix(ACCURACY_KEY)] = {**json.load(f), "dataset": Path(path).parent.name}
        else:
            rest[key] = path
    return rest, accuracy


def accuracy_note(
    accuracy: dict[str, dict],
    reference: dict | None = None,
    lead: str = "Top-1 accuracy of each model on its whole evaluation split",
) -> str:
    """The sentence of a table's notes giving each model's top-1 accuracy on its whole evaluation split
    (``accuracy[model]``: :func:`split_accuracy`'s, its ``dataset`` named), and the study's where
    ``reference[model]["accuracy"]`` (in %) gives it, after ``lead``. The run stops at a model below
    its floor (``models.<name>.min_accuracy``)."""
    reference = reference or {}
    parts = []
    for model, a in accuracy.items():
        text = (
            f"{model}: {100 * a['acc']:.2f} % ({a['correct']} of the {a['n']} {a['split']} images of "
            f"{a.get('dataset', '?')})"
        )
        study = (reference.get(model) or {}).get("accuracy")
        if study is not None:
            text += f"; the study: {study:.2f} % on its test set"
        parts.append(text)
    return f"{lead}: " + "; ".join(parts) + "."
