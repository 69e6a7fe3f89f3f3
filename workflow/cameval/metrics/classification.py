"""Multi-label classification quality: AUROC per class and its mean (what CheXNet papers report)."""

from __future__ import annotations

import numpy as np


def auroc(scores, positive) -> float:
    """Area under the ROC curve of ``scores`` for the binary labels ``positive``.

    Mann–Whitney form with average ranks for ties:
    ``AUC = (Σ_{i positive} rank_i − n₊(n₊+1)/2) / (n₊ n₋)``, i.e. the probability that a random
    positive scores above a random negative (ties count one half). NaN when either class is
    absent.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(positive).reshape(-1).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores: {s.shape[0]} values, positive: {y.shape[0]}; expected one label per score")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # deferred: scipy.stats costs ~1 s to import, and every training job reaches this module (through
    # cameval.models.multilabel), while only the multi-label ones call it
    from scipy.stats import rankdata  # noqa: PLC0415

    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def mean_auroc(scores, targets) -> tuple[float, list[float]]:
    """``(mean over classes, per-class AUROC)`` for scores and multi-hot targets ``[N, C]``;
    classes with only positives or only negatives are NaN and left out of the mean."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(targets)
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(f"scores {s.shape} and targets {t.shape}: expected the same [N, C] shape")
    per = [auroc(s[:, c], t[:, c]) for c in range(s.shape[1])]
    ok = [a for a in per if not np.isnan(a)]
    return (float(np.mean(ok)) if ok else float("nan")), per
