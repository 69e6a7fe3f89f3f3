"""The Wilcoxon signed-rank test where scipy flips signs: ``scipy.stats.wilcoxon`` against
``cameval.metrics.wilcoxon_test``.

Up to 13 paired differences with a zero or a tie, scipy 1.17's ``method="auto"`` computes the exact
p-value as a permutation test over all 2**n sign flips, calling its statistic once per flip;
``wilcoxon_test`` runs the same ``permutation_test`` with the statistic vectorized. This draws
paired per-image values as the tables hold them (scores rounded to 2 decimals, so ties and zero
differences are common) for each n, checks that both give the same (statistic, p) exactly, and
prints the best-of-``--repeat`` time of each (the two taking turns) and their ratio::

    PYTHONPATH=workflow .venv/bin/python bench/wilcoxon.py
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import wilcoxon

from _timing import interleaved
from cameval.metrics import stats, wilcoxon_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| n | scipy.stats.wilcoxon | wilcoxon_test | ratio |\n|---|---|---|---|")
    for n in (6, 9, 11, 13):
        a = np.round(rng.beta(2, 5, n), 2)
        b = np.round(np.clip(a + rng.normal(0.05, 0.1, n), 0, 1), 2)
        b[0] = a[0]  # a zero difference: scipy's permutation path
        assert stats._sign_flip_case(a - b)
        ref = wilcoxon(a, b)
        assert wilcoxon_test(a, b) == (float(ref.statistic), float(ref.pvalue)), n
        t, _ = interleaved(
            {"scipy": lambda a=a, b=b: wilcoxon(a, b), "ours": lambda a=a, b=b: wilcoxon_test(a, b)}, opts.repeat
        )
        t_scipy, t_ours = t["scipy"], t["ours"]
        print(f"| {n} | {t_scipy * 1e3:.1f} ms | {t_ours * 1e3:.2f} ms | x{t_scipy / t_ours:.0f} |")


if __name__ == "__main__":
    main()
