"""The sanity experiment's per-image similarities, read from its cached maps (:mod:`.compute`)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.errors import DataError
from cameval.hdf5 import open_h5

#: the mode of the data randomization test's rows (the twin trained on shuffled labels)
DATA = "data"


def read_maps(path: str | os.PathLike) -> dict:
    """The cache of :func:`cameval.experiments.sanity.compute.sanity_maps`, checked: ``ids``, ``rows``,
    ``targets``, ``images``, ``original`` [S, N, H, W], ``modes`` {mode: [K, S, N, H, W]}, ``data``
    (or None), ``columns``, ``methods``, ``layers`` {mode: [...]}, ``conv`` {mode: [...]}, ``twin``."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (expected the maps written by cameval.experiments.sanity.compute)")
    try:
        with open_h5(path, "r") as fh:
            missing = [k for k in ("ids", "rows", "targets", "images", "original") if k not in fh]
            if missing:
                raise DataError(f"{path}: not a sanity maps file, missing datasets {missing}")
            out = {
                "ids": [s.decode() if isinstance(s, bytes) else str(s) for s in fh["ids"][()]],
                "rows": fh["rows"][()],
                "targets": fh["targets"][()],
                "images": fh["images"][()],
                "original": fh["original"][()],
                "columns": json.loads(fh.attrs["columns"]),
                "methods": json.loads(fh.attrs["methods"]),
                "kinds": json.loads(fh.attrs["kinds"]),
                "twin": str(fh.attrs.get("twin", "")),
            }
            modes = json.loads(fh.attrs["modes"])
            out["modes"] = {m: fh[m][()] for m in modes}
            out["layers"] = {m: json.loads(fh.attrs[f"layers_{m}"]) for m in modes}
            out["conv"] = {m: json.loads(fh.attrs[f"conv_{m}"]) for m in modes}
            out["data"] = fh["data"][()] if "data" in fh else None
    except (OSError, KeyError) as e:
        raise DataError(f"{path}: damaged sanity maps file ({e}); delete it and rerun its rule") from e
    n, s = len(out["ids"]), len(out["columns"])
    arrays = [out["original"], *(a[k] for a in out["modes"].values() for k in range(len(a)))]
    if out["data"] is not None:
        arrays.append(out["data"])
    for a in arrays:
        if a.shape[:2] != (s, n) or not np.isfinite(a).all():
            raise DataError(
                f"{path}: maps of shape {list(a.shape)} or not finite "
                f"(expected [{s} columns, {n} images, H, W], finite)"
            )
    return out


def similarity_rows(path: str | os.PathLike, measures, hog_cell: int = 16) -> pd.DataFrame:
    """One row per (image, column, mode, step, measure): ``value`` = ``map_similarity`` of the
    unchanged model's map and the randomized copy's (mode ``cascading``/``independent``, ``step``
    1…K, ``layer`` the layer randomized at that step, ``last_conv`` true at the cascade's first
    convolution from the output down) or the shuffled-label twin's (mode ``data``, step 0, ``layer``
    the twin's name)."""
    m = read_maps(path)
    rows = []

    def add(mode, step, layer, last_conv, maps):
        for c, column in enumerate(m["columns"]):
            for i, image_id in enumerate(m["ids"]):
                a, b = m["original"][c, i], maps[c, i]
                for measure in measures:
                    kwargs = {"hog_cell": hog_cell} if measure == "hog" else {}
                    rows.append(
                        {
                            "id": image_id,
                            "target": int(m["targets"][i]),
                            "set": column,
                            "method": m["methods"][column],
                            "mode": mode,
                            "step": step,
                            "layer": layer,
                            "last_conv": last_conv,
                            "measure": measure,
                            "value": float(metrics.map_similarity(a, b, measure, **kwargs)),
                        }
                    )

    for mode, stack in m["modes"].items():
        first_conv = next((k for k, c in enumerate(m["conv"][mode]) if c), None)
        for k in range(len(stack)):
            add(mode, k + 1, m["layers"][mode][k], mode == "cascading" and k == first_conv, stack[k])
    if m["data"] is not None:
        add(DATA, 0, m["twin"], False, m["data"])
    return pd.DataFrame(rows)
