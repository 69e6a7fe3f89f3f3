"""What every figure shares: matplotlib (Agg), the colour map, map overlays, panel grids with
labelled axes and colorbars, and the atomic 200 dpi PNG writer. The figures themselves live with
their experiment (:mod:`cameval.experiments`)."""

from __future__ import annotations

import functools
import os

import numpy as np

from cameval.io import atomic_path

CMAP = "jet"


@functools.cache
def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, imported on first use: the workflow's parse and the
    table jobs read the experiment modules, which import this one, and draw nothing (~0.7 s saved)."""
    import matplotlib  # noqa: PLC0415  # (see the docstring)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415  # (see the docstring)

    return plt


def normalize(m: np.ndarray) -> np.ndarray:
    """Scale a map to [0, 1] by its max (CAMs are non-negative); an all-zero map stays zero."""
    m = np.asarray(m, dtype=np.float32)
    top = m.max()
    return m / top if top > 0 else np.zeros_like(m)


def deprocess_gradient(g: np.ndarray) -> np.ndarray:
    """A pixel-space gradient ``[C, H, W]`` as a displayable RGB image ``[H, W, C]`` in [0, 1]
    (zero-mean, 0.1 std around gray: the convention of the Guided Backprop and Grad-CAM code)."""
    g = np.asarray(g, dtype=np.float32).transpose(1, 2, 0)
    g = (g - g.mean()) / (g.std() + 1e-8) * 0.1 + 0.5
    return np.clip(g, 0, 1)


def overlay(ax, image: np.ndarray, hmap: np.ndarray, alpha: float = 0.5):
    ax.imshow(image)
    return ax.imshow(normalize(hmap), cmap=CMAP, alpha=alpha, vmin=0, vmax=1)


def save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=200, bbox_inches="tight", format=os.path.splitext(str(path))[1][1:] or "png")
    pyplot().close(fig)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A stored image ``[H, W, C]`` (C = 1 or 3) as ``[H, W, 3]`` for display."""
    image = np.asarray(image)
    return np.repeat(image, 3, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image


def panel_grid(rows: int, cols: int, figsize: tuple[float, float]):
    """A figure of ``rows`` × ``cols`` panels (always a 2-D array of axes), constrained layout."""
    return pyplot().subplots(rows, cols, figsize=figsize, squeeze=False, layout="constrained")


def tidy_row(axes, r: int, titles, fontsize: float = 9) -> None:
    """Row ``r`` of a panel grid without ticks; the first row carries the column ``titles``."""
    for c, title in enumerate(titles):
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
        if r == 0:
            axes[r, c].set_title(title, fontsize=fontsize)


def colorbar(fig, mappable, ax, label: str, label_size: float | None = None, **kwargs):
    """A colorbar of ``mappable`` beside ``ax`` (matplotlib's keywords: location, shrink, pad, …), labelled."""
    cbar = fig.colorbar(mappable, ax=ax, **kwargs)
    if label_size is None:
        cbar.set_label(label)
    else:
        cbar.set_label(label, fontsize=label_size)
    return cbar


def class_label(names, c: int, fallback: str = "class {}") -> str:
    """Class ``c`` by its name in ``names`` (:func:`cameval.data.kinds.class_names`), else ``fallback``."""
    return names[c] if names is not None else fallback.format(c)
