"""Confidence intervals over images: a percentile bootstrap (Efron & Tibshirani, 1993, ch. 13).

Every number in the tables is a statistic of per-image values; its interval comes from
resampling the images (rows) with replacement ``n_boot`` times and taking the
``(1 - level)/2`` and ``(1 + level)/2`` percentiles of the resampled statistic. Rows holding NaN
are dropped first; the seed makes the interval reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK = 4_000_000  # resampled values held at once


def _rows(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr[None]
    keep = ~np.isnan(arr) if arr.ndim == 1 else ~np.isnan(arr).reshape(len(arr), -1).any(axis=1)
    return arr[keep]


def bootstrap_ci(
    values, stat: Callable = np.mean, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of ``stat(values)``, resampling rows.

    ``values``: 1-D per-image values (or 2-D, rows = images, when ``stat`` reduces an array to a
    number). NaN rows are dropped; no rows left gives ``(nan, nan)``. ``stat`` is called as
    ``stat(samples, axis=1)`` on a batch of 1-D resamples when it accepts ``axis`` (numpy
    reductions do), otherwise once per resample. Deterministic for a given ``seed``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level: {level}, expected a value in (0, 1)")
    arr = _rows(values)
    n = len(arr)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = []
    per = max(1, _CHUNK // max(1, arr[0].size * n))
    for start in range(0, n_boot, per):
        idx = rng.integers(0, n, size=(min(per, n_boot - start), n))
        samples = arr[idx]
        out = None
        if arr.ndim == 1:
            try:
                out = np.asarray(stat(samples, axis=1), dtype=np.float64)
            except TypeError:
                out = None
            if out is not None and out.shape != (len(idx),):
                out = None
        if out is None:
            out = np.array([stat(s) for s in samples], dtype=np.float64)
        boots.append(out)
    b = np.concatenate(boots)
    low, high = np.percentile(b, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def mean_ci(values, n_boot: int = 1000, level: float = 0.95, seed: int = 0, ddof: int = 1) -> dict:
    """Mean, standard deviation and the bootstrap interval of the mean of 1-D ``values``.

    Returns ``{"mean", "std", "low", "high", "n"}`` with ``n`` the number of non-NaN values and
    ``std`` the sample standard deviation (``ddof=1``; NaN when ``n <= ddof``). Empty: NaNs and
    ``n = 0``.
    """
    arr = _rows(values)
    if arr.ndim != 1:
        raise ValueError(f"values: shape {arr.shape}, expected 1-D per-image values")
    n = len(arr)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    std = float(arr.std(ddof=ddof)) if n > ddof else float("nan")
    low, high = bootstrap_ci(arr, np.mean, n_boot=n_boot, level=level, seed=seed)
    return {"mean": float(arr.mean()), "std": std, "low": low, "high": high, "n": int(n)}


def wilcoxon_test(a, b=None) -> tuple[float, float]:
    """The two-sided Wilcoxon signed-rank test of paired ``a`` and ``b`` (``b=None``: ``a`` against 0):
    ``(statistic, p_value)``. The one Wilcoxon of the pipeline; every table and claim calls it.

    ``scipy.stats.wilcoxon`` on ``d = a − b`` with scipy's defaults: zero differences dropped
    (``zero_method="wilcox"``), the exact distribution for small samples without ties, the normal
    approximation otherwise, NaN propagated. One edge rule: **no non-zero difference** (no pair, or
    every ``d_i = 0``) gives ``(nan, nan)`` — there is nothing to rank, and scipy's own answer there
    depends on its version (1.17: ``p = 1`` with a division warning; older versions raise). Where at
    least one difference is non-zero the result is scipy's, small samples included: a single
    non-zero difference gives ``(0, 1)``, since no sample that small can be significant.
    """
    a = np.asarray(a, dtype=np.float64)
    d = a if b is None else a - np.asarray(b, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"paired values: shape {d.shape}, expected 1-D differences")
    if not np.count_nonzero(d):
        return float("nan"), float("nan")
    # deferred: scipy.stats costs ~1 s to import, and the workflow's parse reads every module that
    # formats a table (through this one) without testing anything
    from scipy import stats  # noqa: PLC0415

    if _sign_flip_case(d):
        return _wilcoxon_by_sign_flips(d, stats)
    res = stats.wilcoxon(d)
    return float(res.statistic), float(res.pvalue)


#: scipy's rule (1.17, ``method="auto"``): up to this many differences with a zero or a tie, the
#: p-value is the exact one over all 2**n sign flips (``PermutationMethod``; 2**13 < its 9999)
_SIGN_FLIP_MAX = 13


def _sign_flip_case(d: np.ndarray) -> bool:
    """Whether ``scipy.stats.wilcoxon(d)`` takes its permutation path: few, finite differences with
    a zero among them or a tie among their absolute values."""
    if d.size > _SIGN_FLIP_MAX or not np.isfinite(d).all():
        return False
    nonzero = np.abs(d[d != 0])
    return nonzero.size < d.size or np.unique(nonzero).size < nonzero.size


def _wilcoxon_by_sign_flips(d: np.ndarray, stats) -> tuple[float, float]:
    """``scipy.stats.wilcoxon(d)`` where it runs ``permutation_test`` over the 2**n sign flips, with
    the statistic vectorized: scipy's own statistic goes through ``apply_along_axis`` one flip at a
    time (~1.4 s for n = 13, Table 5's paired tests of the tiny config ~60 s). The ranks of ``|d|``
    (zeros dropped, ties averaged) do not change under a sign flip, so ``R+`` of a flip is the sum
    of the fixed ranks where it is positive; ranks are half-integers, so every sum is exact and the
    null distribution, hence the p-value, is scipy's to the bit (tests/test_metrics.py)."""
    ranks = np.zeros_like(d)
    nonzero = d != 0
    ranks[nonzero] = stats.rankdata(np.abs(d[nonzero]))

    def r_plus(x, axis=-1):
        return np.sum((x > 0) * ranks, axis=axis)

    res = stats.permutation_test(
        (d,),
        r_plus,
        permutation_type="samples",
        vectorized=True,
        n_resamples=9999,
        alternative="two-sided",
        axis=-1,
    )
    statistic = min(float(r_plus(d)), float(np.sum((d < 0) * ranks)))
    return statistic, float(res.pvalue)


def paired_compare(a, b, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """Paired comparison of two measurements on the same units (images, raters, boxes).

    ``d_i = a_i − b_i`` over the pairs where both are present (a NaN on either side drops the
    pair); ``b=None`` compares ``a`` against 0. Returns

    - ``n``: pairs; ``mean``: ``mean(d)``; ``low``, ``high``: the paired percentile-bootstrap
      interval of ``mean(d)`` (pairs resampled together, :func:`bootstrap_ci` on ``d``);
    - ``statistic``, ``p_value``: the two-sided Wilcoxon signed-rank test on ``d``
      (:func:`wilcoxon_test`: NaN where no difference is non-zero).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.zeros_like(a) if b is None else np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values: shapes {a.shape} and {b.shape}, expected two 1-D arrays of one length")
    keep = ~(np.isnan(a) | np.isnan(b))
    d = a[keep] - b[keep]
    out = {
        "n": int(d.size),
        "mean": float(d.mean()) if d.size else float("nan"),
    }
    out["low"], out["high"] = bootstrap_ci(d, np.mean, n_boot=n_boot, level=level, seed=seed)
    out["statistic"], out["p_value"] = wilcoxon_test(d)
    return out
