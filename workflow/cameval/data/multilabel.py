"""Multi-label manifests (ChestX-ray14, digits-multi): per-image findings and per-finding rows.

A multi-label manifest has, besides the usual columns, ``labels``: the ``|``-joined class
indices of every finding of the image (``""`` for none); ``label`` is ``-1``. Its boxes carry
the class they belong to. The localization experiments evaluate one row per (image, boxed
finding): :func:`explode_findings` makes those rows, with ``label`` set to the finding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cameval.errors import DataError


def is_multilabel(manifest: pd.DataFrame) -> bool:
    """Whether a manifest (as read by :func:`cameval.data.manifest.read_manifest`) is multi-label."""
    return "labels" in manifest.columns


def parse_labels(text) -> list[int]:
    """``"0|3|7"`` → ``[0, 3, 7]``; ``""`` → ``[]``."""
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text).strip()
    try:
        return [int(s) for s in text.split("|") if s.strip()]
    except ValueError as e:
        raise DataError(f"labels {text!r}: expected '|'-joined class indices such as '0|3|7'") from e


def multi_hot(manifest: pd.DataFrame, n_classes: int) -> np.ndarray:
    """``[n_rows, n_classes]`` float32 targets from the ``labels`` column."""
    y = np.zeros((len(manifest), n_classes), dtype=np.float32)
    for r, text in enumerate(manifest["labels"]):
        for c in parse_labels(text):
            if not 0 <= c < n_classes:
                raise DataError(f"labels {text!r}: class {c} outside 0..{n_classes - 1}")
            y[r, c] = 1.0
    return y


def explode_findings(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (image, boxed finding), images in order, findings by class index.

    ``label`` becomes the finding's class; ``boxes`` keeps all of the image's boxes (the
    experiments select the finding's own with :func:`cameval.experiments.gt_boxes_of`). Images
    without boxes give no row.
    """
    out = []
    for _, row in rows.iterrows():
        for cls in sorted({int(b[0]) for b in row["boxes"]}):
            r = row.copy()
            r["label"] = cls
            out.append(r)
    if not out:
        return rows.iloc[:0].copy()
    return pd.DataFrame(out).reset_index(drop=True)


def digits_multi_eval_rows(n_canvases: int, max_digits: int) -> int:
    """Evaluation rows of a digits-multi split: canvas ``i`` holds ``1 + i mod max_digits``
    digits of different classes, each boxed, so the rows are ``Σ_i (1 + i mod max_digits)``."""
    n, m = int(n_canvases), int(max_digits)
    full, rest = divmod(n, m)
    return full * m * (m + 1) // 2 + rest * (rest + 1) // 2
