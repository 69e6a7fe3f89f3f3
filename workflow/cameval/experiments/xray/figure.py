"""Table 5's figure (accuracy and in-box share per finding, per model) and Appendix E (a seeded
draw of rows, each set's map over the image with the finding's box)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.data.images import ImageSet
from cameval.data.manifest import gt_boxes_of, read_manifest
from cameval.errors import DataError
from cameval.figures import colorbar, overlay, panel_grid, pyplot, save, tidy_row
from cameval.store import Expect, Shard, check_shards

#: the y axis of each measure Table 5's figure draws (what the bar's height is, on which scale)
FIGURE_MEASURES = {
    "loc_study": ("localization accuracy (IoU rule, eq. 3)", "share of boxes localized (0–1)"),
    "inbox": ("in-box share of the strongest pixels", "share of pixels ≥ 85 % of max\ninside the box (0–1)"),
}


def table5_figure(full: pd.DataFrame, path: str | os.PathLike) -> None:
    """The study's localization figures: per model, accuracy (eq. 3) of each CAM set per finding
    and the in-box ratio of every set, with 95 % bootstrap intervals (error bars).

    A set with a value of 0 gets a thick tick on the axis in its colour; a set without a value (the
    measure does not apply to it, or no row of that finding) an "n/a" at the bar's place, so that
    a zero is never mistaken for a missing bar. One legend, below the panels."""
    plt = pyplot()
    models = list(dict.fromkeys(full["model"]))
    sets = list(dict.fromkeys(full["set"]))
    colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(sets)}
    n_findings = max(1, full["finding"].nunique())
    fig, axes = panel_grid(len(models), 2, (max(8.0, 0.8 * n_findings + 3.5), 3.0 * len(models) + 1.2))
    handles = {}
    for r, model in enumerate(models):
        sub = full[full["model"] == model]
        for c, (measure, (title, ylabel)) in enumerate(FIGURE_MEASURES.items()):
            ax = axes[r, c]
            d = sub[sub["measure"] == measure]
            findings = list(dict.fromkeys(sub["finding"]))
            labels = [name for name in sets if name in set(d["set"])]
            width = 0.8 / max(1, len(labels))
            for k, name in enumerate(labels):
                e = d[d["set"] == name].set_index("finding").reindex(findings)
                xs = np.arange(len(findings)) + (k - (len(labels) - 1) / 2) * width
                value = e["value"].to_numpy(dtype=float)
                err = np.vstack([value - e["low"].to_numpy(dtype=float), e["high"].to_numpy(dtype=float) - value])
                meta = d[d["set"] == name].iloc[0]
                label = f"{meta['method']} ({meta['layer']})"
                handles[label] = ax.bar(
                    xs,
                    np.nan_to_num(value),
                    width,
                    yerr=np.nan_to_num(err).clip(0),
                    capsize=2,
                    color=colours[name],
                    error_kw={"elinewidth": 0.8, "ecolor": "0.25"},
                    label=label,
                )
                for x, v in zip(xs, value, strict=True):
                    if np.isnan(v):
                        ax.text(x, 0.02, "n/a", rotation=90, ha="center", va="bottom", fontsize=7.5, color="0.3")
                    elif v == 0:
                        ax.plot(
                            [x - width / 2, x + width / 2],
                            [0, 0],
                            color=colours[name],
                            linewidth=3,
                            solid_capstyle="butt",
                            clip_on=False,
                            zorder=3,
                        )
            ax.set_xticks(np.arange(len(findings)), findings, rotation=45, ha="right", fontsize=9.5)
            ax.set_xlim(-0.6, len(findings) - 0.4)
            ax.set_ylim(0, 1.12)  # room above 1 for a full bar's error bar
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.tick_params(axis="y", labelsize=9.5)
            ax.axhline(1.0, color="0.8", linewidth=0.6, zorder=0)
            ax.set_ylabel(ylabel, fontsize=10)
            ax.set_xlabel("finding (all: every box)", fontsize=10)
            ax.set_title(f"model {model}: {title}", fontsize=11)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=min(3, max(1, len(handles))),
        fontsize=9.5,
        title="set: method (layer); error bars: 95 % bootstrap interval; n/a: no value; a thick line on the axis: 0",
        title_fontsize=9.5,
        frameon=False,
    )
    save(fig, path)


def appendix_e(
    images: str,
    manifest: str,
    sets: dict[str, dict[str, list[str]]],
    titles: dict[str, str],
    path: str | os.PathLike,
    n_images: int = 4,
    seed: int = 0,
    reduce: str = "abs_sum",
    expected: int | None = None,
    expect: dict[str, dict[str, Expect]] | None = None,
) -> None:
    """Appendix E: for a seeded draw of evaluation rows, the image with its ground-truth box(es),
    then each set's map overlaid (pixel maps reduced with ``reduce``), per model.

    ``sets[model][name]`` are the shards of heatmap set ``name``; ``titles[name]`` its column title;
    ``expected``: the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`);
    ``expect[model][name]``: what those shards must have been made from (:class:`cameval.store.Expect`).
    """
    man = read_manifest(manifest).set_index("id")
    models = list(sets)
    names = list(titles)
    for model, by_name in sets.items():
        for name, paths in by_name.items():
            check_shards(paths, expected, (expect or {}).get(model, {}).get(name))
    first = sets[models[0]][names[0]]
    ids, labels = [], []
    for p in first:
        with Shard(p) as s:
            ids += s.ids
            labels += [int(v) for v in s.labels]
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(ids), size=min(n_images, len(ids)), replace=False).tolist())

    def load(files: list[str], row: int) -> np.ndarray:
        for p in files:
            with Shard(p) as s:
                if row < len(s):
                    return np.asarray(s.maps[row, 0])
                row -= len(s)
        raise DataError(f"row beyond the shards {files}")

    n_rows = len(pick) * len(models)
    fig, axes = panel_grid(n_rows, 1 + len(names), (1.5 * (1 + len(names)) + 0.4, 1.55 * n_rows + 1.0))
    cols = ["image, its box", *(titles[name] for name in names)]
    im = None
    with ImageSet(images) as imgs:
        names_of = imgs.attrs.get("classes") or [str(c) for c in range(max(labels) + 1)]
        for a, row in enumerate(pick):
            image = imgs.uint8(np.array([man.at[ids[row], "index"]]))[0]
            h, w = image.shape[:2]
            gts = gt_boxes_of(man, ids[row], labels[row])
            for b, model in enumerate(models):
                r = a * len(models) + b
                axes[r, 0].imshow(image)
                axes[r, 0].set_ylabel(
                    f"model {model}\nimage {ids[row].split('/')[-1]}\nfinding {names_of[labels[row]]}", fontsize=9.5
                )
                for c, name in enumerate(names, start=1):
                    m = load(sets[model][name], row)
                    m = metrics.reduce_channels(m, reduce) if m.ndim == 3 else metrics.upsample_map(m, (h, w))
                    im = overlay(axes[r, c], image, m)
                for c in range(1 + len(names)):
                    for x0, y0, x1, y1 in gts:
                        axes[r, c].add_patch(
                            pyplot().Rectangle(
                                (x0 - 0.5, y0 - 0.5),
                                x1 - x0 + 1,
                                y1 - y0 + 1,
                                fill=False,
                                edgecolor="lime",
                                linewidth=1.2,
                            )
                        )
                tidy_row(axes, r, cols, fontsize=9.5)
    colorbar(
        fig,
        im,
        axes[:, 1:],
        "map of the finding, 0–1 of its max (pixel maps: Σ over channels of |attribution|)",
        label_size=10,
        location="bottom",
        shrink=0.6,
        pad=0.02,
    )
    fig.suptitle(
        "each row: a model, an evaluation image and one of its boxed findings (the class explained); "
        "green: that finding's ground-truth box",
        fontsize=9.5,
    )
    save(fig, path)
