"""Where display names of a dataset's classes come from (the lookup every table, figure and survey
uses is :func:`cameval.data.kinds.class_names`).

ImageNet's come from ``LOC_synset_mapping.txt`` (``wnid name[, synonym…]`` per line: the first
synonym, stripped; a line with only a wnid gives the wnid; any whitespace separates), CIFAR-10's
are its ten names; other datasets have none (None: callers print numbers or their own words).
"""

from __future__ import annotations

import os
from pathlib import Path

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def synset_name(line: str) -> str:
    """The display name of one ``LOC_synset_mapping.txt`` line."""
    parts = line.split(maxsplit=1)
    return parts[1].split(",")[0].strip() if len(parts) > 1 else parts[0]


def synset_names(path: str | os.PathLike) -> list[str]:
    """The display names of the classes of a ``LOC_synset_mapping.txt``, in its line order."""
    return [synset_name(ln) for ln in Path(path).read_text().splitlines() if ln.strip()]
