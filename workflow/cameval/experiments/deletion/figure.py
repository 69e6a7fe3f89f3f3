"""The deletion experiment's figures: mean deletion and insertion curves per method, and ROAD's
accuracy against the percentage removed."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from cameval.errors import DataError
from cameval.figures import panel_grid, pyplot, save
from cameval.hdf5 import open_h5
from cameval.methods import set_label
from cameval.metrics import bootstrap_ci


def read_curves(path: str | os.PathLike) -> dict:
    """The curves of :func:`cameval.experiments.deletion.compute.deletion_rows`, checked:
    ``{"columns", "methods", "step", "deletion": {column: [N, S]}, "insertion": {...}}``."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (expected the curves written by cameval.experiments.deletion.compute)")
    try:
        with open_h5(path, "r") as fh:
            columns = json.loads(fh.attrs["columns"])
            out = {"columns": columns, "methods": json.loads(fh.attrs["methods"]), "step": int(fh.attrs["step"])}
            for kind in ("deletion", "insertion"):
                out[kind] = {c: fh[f"{kind}/{c}"][()] for c in columns}
    except (OSError, KeyError) as e:
        raise DataError(f"{path}: damaged deletion curves file ({e}); delete it and rerun its rule") from e
    for kind in ("deletion", "insertion"):
        for c, a in out[kind].items():
            if a.ndim != 2 or not np.isfinite(a).all():
                raise DataError(f"{path}: {kind}/{c} is {list(a.shape)} or not finite (expected [images, steps + 1])")
    return out


def _band(curves: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The 95 % bootstrap interval of the mean curve, point by point (images resampled)."""
    bounds = np.array([bootstrap_ci(curves[:, j], n_boot=n_boot, seed=seed) for j in range(curves.shape[1])])
    return bounds[:, 0], bounds[:, 1]


def curves_figure(curves: dict[str, str], path: str | os.PathLike, n_boot: int = 1000, seed: int = 0) -> None:
    """Rows: the models (``curves``: ``{model: curves file}``); columns: deletion, insertion. The mean
    probability of the explained class against the fraction of pixels deleted / inserted, one line per
    method with its 95 % bootstrap band, the AUC in the legend."""
    fig, axes = panel_grid(len(curves), 2, (9.0, 2.9 * len(curves) + 0.3))
    colours = pyplot().get_cmap("tab10")
    for r, (model, file) in enumerate(curves.items()):
        c = read_curves(file)
        for k, kind in enumerate(("deletion", "insertion")):
            ax = axes[r, k]
            for j, column in enumerate(c["columns"]):
                a = c[kind][column]
                x = np.linspace(0, 1, a.shape[1])
                low, high = _band(a, n_boot, seed)
                mean = a.mean(axis=0)
                auc = float((mean.sum() - mean[0] / 2 - mean[-1] / 2) / (len(mean) - 1))
                style = {"ls": "--", "color": "0.3"} if column == "random" else {"color": colours(j % 10)}
                ax.plot(x, mean, lw=1.2, label=f"{set_label(column, c['methods'][column])} ({auc:.3f})", **style)
                ax.fill_between(x, low, high, color=style["color"], alpha=0.12, lw=0)
            ax.set_xlim(0, 1)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(
                f"fraction of pixels {'deleted (set to the mean)' if kind == 'deletion' else 'inserted into the blur'}",
                fontsize=8,
            )
            ax.set_ylabel("softmax probability of the class", fontsize=8)
            ax.set_title(f"{model}: {kind} (AUC in the legend)", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    save(fig, path)


def road_figure(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Per model (rows): ROAD accuracy against the percentage of pixels imputed, MoRF (left: most relevant
    first, lower is better) and LeRF (right: least relevant first, higher is better), one line per
    method with the table's 95 % intervals as bands."""
    ps = sorted({float(c[len("morf_p") :]) for c in table.columns if c.startswith("morf_p") and c.count("_") == 1})
    models = list(dict.fromkeys(table["model"]))
    fig, axes = panel_grid(len(models), 2, (9.0, 2.7 * len(models) + 0.3))
    colours = pyplot().get_cmap("tab10")
    for r, model in enumerate(models):
        for k, (order, title) in enumerate(
            (("morf", "MoRF: most relevant imputed first ↓"), ("lerf", "LeRF: least relevant imputed first ↑"))
        ):
            ax = axes[r, k]
            for j, (_, row) in enumerate(table[table["model"] == model].iterrows()):
                random = row["method"] == "random"
                colour = "0.3" if random else colours(j % 10)
                y = np.array([row[f"{order}_p{p:g}"] for p in ps], dtype=float)
                low = np.array([row[f"{order}_p{p:g}_low"] for p in ps], dtype=float)
                high = np.array([row[f"{order}_p{p:g}_high"] for p in ps], dtype=float)
                ax.plot(
                    ps,
                    y,
                    ls="--" if random else "-",
                    marker="o",
                    ms=3,
                    lw=1.1,
                    color=colour,
                    label=set_label(row["set"], row["method"]),
                )
                ax.fill_between(ps, low, high, color=colour, alpha=0.06, lw=0)
            ax.set_xlabel("pixels imputed (%)", fontsize=8)
            ax.set_ylabel("accuracy", fontsize=8)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{model}, {title}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[r, 1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle("ROAD (noisy linear imputation): accuracy after imputing pixels in each map's order", fontsize=9)
    save(fig, path)
