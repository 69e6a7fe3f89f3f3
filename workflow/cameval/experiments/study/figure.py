"""The figure of the study's reanalysed tables (``results/figures/study.png``)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval.experiments.study.table import LABELS
from cameval.figures import pyplot
from cameval.io import atomic_path


def study_figure(tables: dict[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """One panel per table: each method's mean with its 95 % interval, the study's printed value
    as a cross; and the paired differences with theirs, 0 marked."""
    fig, axes = pyplot().subplots(2, 3, figsize=(15, 7.5))
    ylabels = {
        "table3": "Spearman ρ with occlusion",
        "table4": "score (+: VGG-16 judged better)",
        "table5": "in-box share (> 0.85)",
    }
    for col, (name, df) in enumerate(tables.items()):
        for row, kinds in enumerate((("method",), ("paired", "against 0"))):
            ax = axes[row, col]
            d = df[df["kind"].isin(kinds)].reset_index(drop=True)
            labels = [
                (f"{r['model']}: " if name == "table5" else "")
                + (
                    LABELS.get(r["a"], r["a"])
                    if r["kind"] == "method"
                    else f"{LABELS.get(r['a'], r['a'])} − {LABELS.get(r['b'], r['b'])}"
                    if r["kind"] == "paired"
                    else f"{LABELS.get(r['a'], r['a'])} vs 0"
                )
                for _, r in d.iterrows()
            ]
            y = np.arange(len(d))
            ax.errorbar(
                d["mean"],
                y,
                xerr=[d["mean"] - d["ci_low"], d["ci_high"] - d["mean"]],
                fmt="o",
                color="tab:blue",
                capsize=3,
                label="ours, 95 % CI",
            )
            if row == 0:
                ax.scatter(
                    d["study_mean"].astype(float), y, marker="x", color="tab:red", zorder=3, label="study (printed)"
                )
            else:
                ax.axvline(0, color="0.5", lw=0.8)
            ax.set_yticks(y, labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(("mean " + ylabels[name]) if row == 0 else "paired difference (units as above)")
            ax.set_title(
                f"{name.replace('table', 'Table ')}: " + ("methods" if row == 0 else "paired comparisons"), fontsize=10
            )
            ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=9)
    fig.suptitle("The study's own raw results, reanalysed")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    pyplot().close(fig)
