"""Build a dataset from its config entry, by its kind's builder (:mod:`cameval.data.kinds`)."""

from __future__ import annotations

from cameval.data.kinds import dataset_kind


def build_dataset(spec: dict, images: str, manifest: str, seed: int = 0, name: str = "digits-loc") -> dict:
    """Build the dataset described by ``spec`` (the config entry ``datasets.<name>``) into ``images``
    (``images.h5``) and ``manifest`` (``manifest.csv``); returns its builder's summary. Generated image
    sets of kind ``digits`` carry ``name`` in their image ids; an unknown kind is a ConfigError naming
    ``datasets.<name>.kind`` and the known kinds."""
    return dataset_kind(spec, name).build(spec, images, manifest, seed=seed, name=name)
