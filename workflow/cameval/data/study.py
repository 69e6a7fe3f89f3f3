"""Readers of the study's published raw results (``resources/study/``, provenance in its README).

The study (Nagy, Nimara, Qian) published, beside its tables, the per-unit values they were
computed from. Each reader checks what it reads and names the file and line of anything
unexpected:

- :func:`read_values`: one number per line (Table 3's Spearman ρ per image, Table 5's in-box
  share per box), with the count the file must hold;
- :func:`read_published_values`: ``values.yaml``, every value the study printed (read strictly: a key
  given twice, a value that is not a finite number or null, a section of the wrong type are errors
  naming the file, the key and the line);
- :func:`read_one_pixel_attacks`: Table 6's successful one-pixel attacks, one row per attack.

The survey's raw export (Table 4) is read by :func:`cameval.experiments.userstudy.read_survey_export`.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cameval.config import StrictLoader
from cameval.errors import ConfigError, DataError
from cameval.io import read_text_strict

#: Table 3's files: method -> file under ``occlusion_45x45/`` (120 images, the same order in each)
TABLE3_FILES = {
    "guided_backprop": "guided_backprop.csv",
    "gradcam": "gradcam.csv",
    "guided_gradcam": "guided_gradcam.csv",
}
#: Table 5's models and methods -> the names in ``chest_xray/result_{model}_{method}_{threshold}.csv``
TABLE5_MODELS = {"A": "chexnet", "B": "covid_pretrained"}
TABLE5_METHODS = {
    "gradcam": "gradcam",
    "gradcampp": "gradcamplusplus",
    "integrated_gradients": "ig",
    "gradient_shap": "shap",
}


def read_values(
    path: str | os.PathLike, count: int | None = None, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """The numbers of a one-value-per-line file as float64 ``[n]``.

    A line that is not one finite number, a value outside ``[low, high]``, or a count other
    than ``count`` raise :class:`DataError` naming the file and the line.
    """
    what = "one number per line" + (f", {count} lines" if count is not None else "")
    lines = read_text_strict(path, what).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    values = []
    for n, line in enumerate(lines, start=1):
        try:
            v = float(line.strip())
        except ValueError:
            raise DataError(f"{path}: line {n}: {line.strip()!r} is not a number (expected {what})") from None
        if not math.isfinite(v):
            raise DataError(f"{path}: line {n}: {v} (expected a finite number)")
        if (low is not None and v < low) or (high is not None and v > high):
            raise DataError(f"{path}: line {n}: {v} lies outside [{low}, {high}]")
        values.append(v)
    if count is not None and len(values) != count:
        raise DataError(f"{path}: {len(values)} values, expected {count} (one per line)")
    return np.asarray(values, dtype=np.float64)


def read_table3(root: str | os.PathLike, images: int = 120) -> dict[str, np.ndarray]:
    """Table 3's Spearman ρ per image for each method of :data:`TABLE3_FILES` (values in [−1, 1])."""
    root = Path(root)
    return {m: read_values(root / f, count=images, low=-1.0, high=1.0) for m, f in TABLE3_FILES.items()}


def table5_file(root: str | os.PathLike, model: str, method: str, threshold: str = "0_85") -> Path:
    return Path(root) / f"result_{TABLE5_MODELS[model]}_{TABLE5_METHODS[method]}_{threshold}.csv"


def read_table5(root: str | os.PathLike, boxes: int = 984, threshold: str = "0_85") -> dict[str, dict[str, np.ndarray]]:
    """Table 5's in-box share per box: ``{model: {method: [boxes]}}`` (values in [0, 1])."""
    return {
        model: {
            m: read_values(table5_file(root, model, m, threshold), count=boxes, low=0.0, high=1.0)
            for m in TABLE5_METHODS
        }
        for model in TABLE5_MODELS
    }


#: the sections of ``values.yaml``, each a mapping
VALUE_SECTIONS = tuple(f"table{k}" for k in range(1, 8))


def read_published_values(path: str | os.PathLike) -> dict:
    """``values.yaml``: every value the study printed, table by table (a mapping keyed ``table1`` …
    ``table7``, each a mapping of mappings whose leaves are numbers).

    Read with the config's strict loader (:class:`cameval.config.StrictLoader`: a key given twice is
    refused, where plain YAML keeps the last one); every leaf must be a finite number or null (not
    ``n/a``, ``.nan``, a boolean or a list) and every section a mapping. Each error is a
    :class:`DataError` naming the file, the key and its line.
    """
    text = read_text_strict(path, "the study's published values (YAML)")
    loader = StrictLoader(text, str(path))
    try:
        node = loader.get_single_node()
        if node is None or not isinstance(node, yaml.MappingNode):
            raise DataError(f"{path}: expected a mapping with keys {', '.join(VALUE_SECTIONS)}")
        _check_values(loader, node, "", path)
        data = loader.construct_document(node)
    except ConfigError as e:
        raise DataError(str(e)) from None
    except yaml.YAMLError as e:
        raise DataError(f"{path}: not readable YAML ({e})") from None
    finally:
        loader.dispose()
    missing = [k for k in VALUE_SECTIONS if k not in data]
    if missing:
        raise DataError(f"{path}: no section {missing} (expected a mapping with keys {', '.join(VALUE_SECTIONS)})")
    return data


def _check_values(loader: yaml.SafeLoader, node: yaml.Node, key: str, path) -> None:
    """Raise :class:`DataError` naming ``path``, the key and its line unless ``node`` is a mapping of
    mappings whose leaves are finite numbers or null (the top level's values: mappings)."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            name = loader.construct_object(k)
            sub = f"{key}.{name}" if key else str(name)
            if not key and not isinstance(v, yaml.MappingNode):
                raise DataError(
                    f"{path}: section {sub} on line {v.start_mark.line + 1} is a "
                    f"{_node_kind(v)} (expected a mapping of models or methods to values)"
                )
            _check_values(loader, v, sub, path)
        return
    if isinstance(node, yaml.SequenceNode):
        raise DataError(f"{path}: {key} on line {line} is a list (expected a mapping or a number)")
    value = loader.construct_object(node)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{path}: {key} on line {line} is {value!r} (expected a finite number, or null where none)")
    if not math.isfinite(value):
        raise DataError(f"{path}: {key} on line {line} is {value} (expected a finite number, or null where none)")


def _node_kind(node: yaml.Node) -> str:
    return {yaml.SequenceNode: "list", yaml.ScalarNode: "single value"}.get(type(node), "mapping")


#: How the study's ``[x, y, r, g, b]`` name the pixel: ``row-col`` (x is the row, y the column)
#: is what the study's code does (``img[:, x, y] = …`` on a ``[C, H, W]`` tensor and
#: ``heatmap[x, y]`` on an ``[H, W]`` map); ``col-row`` reads them the other way round.
ONE_PIXEL_CONVENTIONS = ("row-col", "col-row")


def read_one_pixel_attacks(
    path: str | os.PathLike, size: int | tuple[int, int] = 224, xy: str = "row-col", images: int | None = None
) -> pd.DataFrame:
    """The study's one-pixel attacks (``one_pixel/results_{VGG16,GoogLeNet}.csv``): one row per
    attack with ``index`` (0-based, into the evaluation split), ``row``, ``col`` (on the
    ``size`` input, ``[y, x]`` indexing of the map) and ``r, g, b`` (0–255), and ``line``.

    The file: a header ``index,value``, then per attack the image's index and ``"[x, y, r, g, b]"``
    (integers); ``xy`` says which of x, y is the row (:data:`ONE_PIXEL_CONVENTIONS`). A value that
    is not five integers, a pixel outside ``size``, a colour outside 0–255, an index below 0 (or
    not below ``images``) or an image listed twice raise :class:`DataError` naming file and line.
    """
    if xy not in ONE_PIXEL_CONVENTIONS:
        raise DataError(f"{path}: pixel convention {xy!r} (expected one of {ONE_PIXEL_CONVENTIONS})")
    h, w = (size, size) if isinstance(size, int) else size
    expected = "a header 'index,value', then one 'index,\"[x, y, r, g, b]\"' line per attack"
    text = read_text_strict(path, expected)
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header != ["index", "value"]:
        raise DataError(f"{path}: line 1: header {header} (expected {expected})")
    out, seen = [], {}
    for fields in reader:
        n = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != 2:
            raise DataError(f"{path}: line {n}: {len(fields)} fields (expected 2: index and value)")
        try:
            index = int(fields[0].strip())
        except ValueError:
            raise DataError(f"{path}: line {n}: index {fields[0]!r} is not an integer") from None
        if index < 0 or (images is not None and index >= images):
            raise DataError(
                f"{path}: line {n}: index {index} outside 0..{'' if images is None else images - 1} "
                "(0-based images of the evaluation split)"
            )
        if index in seen:
            raise DataError(f"{path}: line {n}: image {index} is listed twice (first on line {seen[index]})")
        seen[index] = n
        value = fields[1].strip()
        if not (value.startswith("[") and value.endswith("]")):
            raise DataError(f"{path}: line {n}: value {value!r} is not a list '[x, y, r, g, b]'")
        try:
            numbers = [int(v.strip()) for v in value[1:-1].split(",")]
        except ValueError:
            raise DataError(f"{path}: line {n}: value {value!r} is not five integers [x, y, r, g, b]") from None
        if len(numbers) != 5:
            raise DataError(f"{path}: line {n}: value {value!r} has {len(numbers)} numbers (expected 5: x, y, r, g, b)")
        x, y, *rgb = numbers
        row, col = (x, y) if xy == "row-col" else (y, x)
        if not (0 <= row < h and 0 <= col < w):
            raise DataError(
                f"{path}: line {n}: pixel (x, y) = ({x}, {y}) outside the {h}×{w} input "
                f"(read as row {row}, column {col}: {xy})"
            )
        if not all(0 <= c <= 255 for c in rgb):
            raise DataError(f"{path}: line {n}: colour {rgb} outside 0..255")
        out.append({"index": index, "row": row, "col": col, "r": rgb[0], "g": rgb[1], "b": rgb[2], "line": n})
    if not out:
        raise DataError(f"{path}: no attack listed (expected {expected})")
    return pd.DataFrame(out)
