"""The study's MNIST and CIFAR-10 (Table 7) through torchvision, as image sets.

``torchvision.datasets.MNIST`` / ``CIFAR10`` download into ``root`` when ``download`` is true and
verify the files' MD5 checksums (torchvision's ``check_integrity``); offline, the files must
already be there, else a :class:`DataError` names the folder and the files expected. The
official training set is cut into train and val by a seeded permutation (``val`` images), the
official test set is ``test``; only its first ``limit`` images are kept (the evaluation split).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from cameval.data.images import ImageSetWriter
from cameval.data.manifest import MANIFEST_COLUMNS, write_manifest
from cameval.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: name -> (torchvision class, channels, files expected under root, default mean, std)
SETS = {
    "mnist": ("MNIST", 1, "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz)", (0.1307,), (0.3081,)),
    "cifar10": (
        "CIFAR10",
        3,
        "cifar-10-batches-py/ (data_batch_1..5, test_batch) or cifar-10-python.tar.gz",
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
    ),
}


def load_torchvision_split(name: str, root: str, train: bool, download: bool):
    """``(images uint8 [n, H, W, C], labels int64 [n])`` of torchvision's ``name`` split."""
    import torchvision  # noqa: PLC0415  # torchvision: the table jobs import cameval.data

    if name not in SETS:
        raise ConfigError(f"datasets.*.name: {name!r} is not one of {', '.join(SETS)}")
    cls, channels, files, _, _ = SETS[name]
    try:
        ds = getattr(torchvision.datasets, cls)(root=root, train=train, download=download)
    except Exception as err:  # offline download, missing or corrupt files
        raise DataError(
            f"datasets.*.root: {os.path.abspath(root)}: no usable {cls} "
            f"({type(err).__name__}: {err}); expected {files} there, or download: true when online"
        ) from err
    data = ds.data.numpy() if hasattr(ds.data, "numpy") else np.asarray(ds.data)
    if data.ndim == 3:
        data = data[..., None]
    labels = np.asarray(ds.targets, dtype=np.int64)
    if data.shape[-1] != channels:
        raise DataError(f"{root}: {cls} has {data.shape[-1]} channels, expected {channels}")
    return data.astype(np.uint8), labels


def build_from_entry(entry: dict, path_h5, path_manifest, *, seed: int, name: str) -> dict:
    """The ``torchvision`` kind's builder (:mod:`cameval.data.kinds`): the set of config entry ``entry``
    (its ``name`` is torchvision's set, ``mnist`` or ``cifar10``; the dataset's key ``name`` is not used)."""
    return build_torchvision(
        path_h5,
        path_manifest,
        name=entry["name"],
        root=entry["root"],
        download=entry["download"],
        limit=entry["limit"],
        val=entry["val"],
        seed=seed,
        mean=entry.get("mean"),
        std=entry.get("std"),
    )


def build_torchvision(
    path_h5,
    path_manifest,
    name: str,
    root: str,
    download: bool = True,
    limit: int = 10000,
    val: int = 5000,
    seed: int = 0,
    mean=None,
    std=None,
) -> dict:
    """Write MNIST or CIFAR-10 as ``images.h5`` + manifest (train, val, then the first ``limit`` test images)."""
    _, channels, _, mean0, std0 = SETS[name] if name in SETS else (None, 0, None, None, None)
    train_x, train_y = load_torchvision_split(name, root, True, download)
    test_x, test_y = load_torchvision_split(name, root, False, download)
    mean = list(mean)[:channels] if mean is not None and len(mean) >= channels else list(mean0)
    std = list(std)[:channels] if std is not None and len(std) >= channels else list(std0)
    perm = np.random.default_rng(seed).permutation(len(train_x))
    parts = {"train": perm[val:], "val": perm[:val], "test": np.arange(min(limit, len(test_x)))}
    total = sum(len(v) for v in parts.values())
    rows, offset = [], 0
    h, w = train_x.shape[1:3]
    with ImageSetWriter(path_h5, total, h, w, mean, std, attrs={"dataset": name, "kind": "torchvision"}) as writer:
        for split, idx in parts.items():
            x, y = (test_x, test_y) if split == "test" else (train_x, train_y)
            ids = [f"{name}/{split}/{i:06d}" for i in idx]
            for c0 in range(0, len(idx), 5000):
                writer.write_many(offset + c0, x[idx[c0 : c0 + 5000]], ids[c0 : c0 + 5000])
            rows += [
                {"id": ids[k], "split": split, "index": offset + k, "label": int(y[i]), "source": int(i), "boxes": []}
                for k, i in enumerate(idx)
            ]
            offset += len(idx)
    write_manifest(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), path_manifest)
    log.info("%s: %s images from %s", name, {k: len(v) for k, v in parts.items()}, root)
    return {"counts": {k: int(len(v)) for k, v in parts.items()}}
