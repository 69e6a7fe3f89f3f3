"""Table 4's kit: the torch work of the job (Guided Grad-CAM formed from the cached Guided Backprop
and Grad-CAM maps), the blinded key and the survey page. The only module of the package that
imports torch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.errors import DataError
from cameval.experiments.userstudy.answers import ANSWERS, KEY_COLUMNS
from cameval.experiments.userstudy.kit import load_maps, sample_images, to_png
from cameval.explain.guided import combine_guided_gradcam
from cameval.figures import deprocess_gradient
from cameval.io import write_csv
from cameval.store import Expect
from cameval.survey import render_survey

log = logging.getLogger(__name__)


#: what an item can show: the gradient, or the gradient times the upsampled Grad-CAM
KIT_METHODS = ("guided_backprop", "guided_gradcam")


@dataclass(frozen=True)
class KitSpec:
    """What the kit shows (config ``table4``): ``n_images`` images drawn (seeded by ``seed``) among the
    first ``pool`` evaluation images that both models classify correctly (top-1 = label; with
    ``require_correct=False``, smoke tests only: barely trained models are right on almost no image,
    among every pool image, showing the label as the class); per image an item for each of
    ``methods`` (:data:`KIT_METHODS`), its two agents' pictures at ``size``×``size`` pixels; agent A
    drawn at random (seed + 1). ``better``: the model expected to be judged more reasonable; the page
    asks ``question`` under ``title``."""

    better: str
    n_images: int
    pool: int
    methods: tuple[str, ...]
    seed: int
    question: str
    title: str = "Which agent seems more reasonable?"
    size: int = 224
    require_correct: bool = True

    def __post_init__(self):
        for method in self.methods:
            if method not in KIT_METHODS:
                raise DataError(f"table4.methods: {method!r} (expected guided_backprop or guided_gradcam)")


@dataclass(frozen=True)
class KitShards:
    """The cached maps a kit is made from, per model: ``gbp[model]`` / ``gradcam[model]`` the Guided
    Backprop and Grad-CAM shards covering the first ``pool`` evaluation images; ``expected``: the rows
    each model's Guided Backprop (``gbp``) and Grad-CAM (``cam``) shards hold; ``expect[model]["gbp"]``,
    ``expect[model]["cam"]``: what they must have been made from (:class:`cameval.store.Expect`)."""

    gbp: dict[str, list[str]]
    gradcam: dict[str, list[str]]
    expected: dict | None = None
    expect: dict[str, dict[str, Expect]] | None = None


def build_kit(
    spec: KitSpec,
    shards: KitShards,
    images: str,
    manifest: str,
    names: list[str],
    key_path: str | os.PathLike,
    html_path: str | os.PathLike,
) -> pd.DataFrame:
    """Build the blinded kit of ``spec`` from the cached maps ``shards``; write ``key_path`` and
    ``html_path``; return the key. ``names``: the dataset's class names (the items' class).

    Per image and method an item (``guided_backprop``: the gradient; ``guided_gradcam``: gradient ×
    upsampled Grad-CAM, both shown as ``0.5 + 0.1 · (g − mean) / std``). The kit's id covers the key,
    every picture and the digests (model file, manifest rows, spec) of every shard it was made from.
    """
    gbp, gradcam, better, pool, seed = shards.gbp, shards.gradcam, spec.better, spec.pool, spec.seed
    models = list(gbp)
    if len(models) != 2 or better not in models:
        raise DataError(f"user study: needs exactly two models with better={better!r} among them, got {models}")
    made_by: list = []
    maps = {
        m: load_maps(gbp[m], gradcam[m], pool, shards.expected, (shards.expect or {}).get(m), made_by) for m in models
    }
    ids = [i for i in maps[models[0]] if i in maps[models[1]]]
    correct = [i for i in ids if all(maps[m][i]["top1"] == maps[m][i]["label"] for m in models)]
    log.info("user study: %d of %d pool images classified correctly by both %s", len(correct), len(ids), models)
    if not spec.require_correct:
        log.warning("user study: require_correct is false: drawing from all %d pool images (smoke test only)", len(ids))
        correct = ids
    chosen = sample_images(correct, spec.n_images, seed)
    rng = np.random.default_rng(seed + 1)
    index = read_manifest(manifest).set_index("id")["index"]
    pictures, items, key = {}, [], []
    with ImageSet(images) as imgs:
        for n, image_id in enumerate(chosen):
            pictures[f"img{n}"] = to_png(imgs.uint8(np.array([index[image_id]]))[0], spec.size)
            label = maps[models[0]][image_id]["label"]
            for method in spec.methods:
                shown = {}
                for m in models:
                    g = torch.as_tensor(np.asarray(maps[m][image_id]["gbp"]))
                    if method == "guided_gradcam":
                        g = combine_guided_gradcam(
                            g[None], torch.as_tensor(np.asarray(maps[m][image_id]["cam"]))[None]
                        )[0]
                    shown[m] = to_png(deprocess_gradient(g.numpy()), spec.size)
                a, b = models if rng.random() < 0.5 else models[::-1]
                item = f"item{len(key) + 1:02d}"
                key.append(
                    {
                        "item": item,
                        "method": method,
                        "class": names[label],
                        "agent_a": a,
                        "agent_b": b,
                        "image_id": image_id,
                    }
                )
                items.append({"id": item, "image": f"img{n}", "class": names[label], "a": shown[a], "b": shown[b]})
    key_df = pd.DataFrame(key, columns=[*KEY_COLUMNS, "image_id"])
    # the kit's id: its key and every picture raters see; the page writes it into every exported row
    digest = hashlib.sha1(key_df.to_csv(index=False).encode())
    for it in items:
        digest.update(it["a"] + it["b"])
    for name in sorted(pictures):
        digest.update(pictures[name])
    digest.update(json.dumps(made_by).encode())
    key_df["kit"] = survey_id = digest.hexdigest()[:12]
    write_csv(key_df, key_path)
    render_survey(
        items, pictures, html_path, question=spec.question, answers=ANSWERS, title=spec.title, survey_id=survey_id
    )
    return key_df
