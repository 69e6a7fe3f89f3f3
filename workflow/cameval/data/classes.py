"""Display names of a dataset's classes: one lookup for every table, figure and survey.

ImageNet's come from ``LOC_synset_mapping.txt`` (``wnid name[, synonym…]`` per line: the first
synonym, stripped; a line with only a wnid gives the wnid; any whitespace separates), CIFAR-10's
are its ten names; other datasets have none (None: callers print numbers or their own words).
"""

from __future__ import annotations

from pathlib import Path

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def synset_name(line: str) -> str:
    """The display name of one ``LOC_synset_mapping.txt`` line."""
    parts = line.split(maxsplit=1)
    return parts[1].split(",")[0].strip() if len(parts) > 1 else parts[0]


def class_names(spec: dict) -> list[str] | None:
    """Display names of the classes of a dataset (a ``datasets.<name>`` config entry), or None."""
    kind = spec.get("kind")
    if kind == "imagenet":
        return [synset_name(ln) for ln in Path(spec["synsets"]).read_text().splitlines() if ln.strip()]
    if kind == "torchvision" and spec.get("name") == "cifar10":
        return list(CIFAR10_CLASSES)
    return None
