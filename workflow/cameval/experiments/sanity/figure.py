"""The sanity experiment's figures: the cascade of maps (Adebayo et al.'s Figure 2) and the
similarity against the randomized layer."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval.experiments.sanity.rows import read_maps
from cameval.experiments.sanity.table import MEASURE_LABELS
from cameval.figures import as_rgb, colorbar, panel_grid, pyplot, save
from cameval.methods import set_label


def _shown(m: np.ndarray, map_kind: str) -> tuple[np.ndarray, str]:
    """A map as its method is usually shown: a CAM-type map divided by its max (jet), a pixel-type
    or random map's magnitude divided by its 99th percentile and clipped (gray)."""
    if map_kind == "cam":
        top = float(m.max())
        return (m / top if top > 0 else np.zeros_like(m)), "jet"
    top = float(np.percentile(np.abs(m), 99))
    return (np.clip(np.abs(m) / top, 0, 1) if top > 0 else np.zeros_like(m)), "gray"


def cascade_figure(maps_h5: str, path: str | os.PathLike, n_images: int = 2, model: str = "") -> None:
    """Rows: each of the first ``n_images`` images by each method; columns: the image, the unchanged
    model's map, then the map after each cascading randomization step (the layer named above)."""
    m = read_maps(maps_h5)
    mode = "cascading" if "cascading" in m["modes"] else next(iter(m["modes"]))
    stack, layers = m["modes"][mode], m["layers"][mode]
    n = min(n_images, len(m["ids"]))
    cols = ["image", "original", *[f"{k + 1}: {name}" for k, name in enumerate(layers)]]
    rows = [(i, c) for i in range(n) for c in range(len(m["columns"]))]
    fig, axes = panel_grid(len(rows), len(cols), (1.15 * len(cols) + 1.0, 1.15 * len(rows) + 1.2))
    handles = {}
    for r, (i, c) in enumerate(rows):
        column = m["columns"][c]
        method = m["methods"][column]
        axes[r, 0].imshow(as_rgb(m["images"][i]))
        axes[r, 0].set_ylabel(
            f"{set_label(column, method)}\nimage {i + 1}", fontsize=6, rotation=0, ha="right", va="center"
        )
        for k, hm in enumerate([m["original"][c, i], *(stack[s, c, i] for s in range(len(stack)))], start=1):
            shown, cmap = _shown(hm, m["kinds"][column])
            handles[cmap] = axes[r, k].imshow(shown, cmap=cmap, vmin=0, vmax=1)
        for k, title in enumerate(cols):
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
            if r == 0:
                axes[r, k].set_title(title, fontsize=6, rotation=45, ha="left", va="bottom")
    if "jet" in handles:
        colorbar(fig, handles["jet"], axes[:, :], "CAM-type map / its max", 7, location="bottom", shrink=0.35, pad=0.01)
    if "gray" in handles:
        colorbar(
            fig,
            handles["gray"],
            axes[:, :],
            "|pixel map| / its 99th percentile",
            7,
            location="bottom",
            shrink=0.35,
            pad=0.01,
        )
    fig.suptitle(f"{model}: {mode} randomization from the output down, class explained fixed", fontsize=9)
    save(fig, path)


def curves_figure(table: pd.DataFrame, path: str | os.PathLike, mode: str = "cascading") -> None:
    """One panel per (model, measure): mean similarity to the unchanged model's map against the
    cascading step (the layer randomized), one line per method with its 95 % interval band."""
    t = table[table["mode"] == mode]
    models = list(dict.fromkeys(t["model"]))
    measures = list(dict.fromkeys(t["measure"]))
    fig, axes = panel_grid(
        max(1, len(models)), max(1, len(measures)), (3.4 * max(1, len(measures)), 2.9 * max(1, len(models)) + 0.8)
    )
    colours = pyplot().get_cmap("tab10")
    sets = list(dict.fromkeys(t["set"]))
    lines = {}
    for r, model in enumerate(models):
        for c, measure in enumerate(measures):
            ax = axes[r, c]
            g = t[(t["model"] == model) & (t["measure"] == measure)]
            for j, column in enumerate(sets):
                d = g[g["set"] == column].sort_values("step")
                if d.empty:
                    continue
                colour = colours(j % 10)
                (line,) = ax.plot(d["step"], d["similarity"], marker="o", ms=3, color=colour, lw=1.2)
                ax.fill_between(d["step"], d["similarity_low"], d["similarity_high"], color=colour, alpha=0.15, lw=0)
                lines[set_label(column, d["method"].iloc[0])] = line
            steps = g.drop_duplicates("step").sort_values("step")
            ax.set_xticks(steps["step"])
            ax.set_xticklabels(steps["layer"], rotation=60, ha="right", fontsize=6)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.tick_params(axis="y", labelsize=7)
            ax.set_title(f"{model}: {MEASURE_LABELS.get(measure, measure)}", fontsize=8)
            if c == 0:
                ax.set_ylabel("similarity to the original map", fontsize=7)
            if r == len(models) - 1:
                ax.set_xlabel(f"layer randomized ({mode}, output → input)", fontsize=7)
    fig.legend(
        list(lines.values()), list(lines), loc="outside lower center", ncol=min(5, max(1, len(lines))), fontsize=7
    )
    save(fig, path)
