"""Sanity checks of the maps (Adebayo et al., NeurIPS 2018): model randomization and data randomization.

Each model's network is re-initialized layer by layer from the output down, cumulatively
(``cascading``) or one layer at a time (``independent``), by
:func:`cameval.metrics.randomized_models`; every method's map of the same class on the same images
is computed again on each copy and compared with the unchanged model's map (read from the heatmap
shards, never recomputed) by :func:`cameval.metrics.map_similarity`. The data randomization test
compares the maps with those of a twin of the same architecture trained on the training split's
labels shuffled (``models.<twin>.train.shuffle_labels: true``).

The package: :mod:`.compute` (the job's torch work: the randomized maps, cached), :mod:`.rows` (the
similarities per image), :mod:`.table`, :mod:`.figure`, :mod:`.claims`; this module holds the
record and the config helpers its rules read.
"""

from __future__ import annotations

from cameval import metrics
from cameval.data.kinds import dataset_kind
from cameval.errors import ConfigError
from cameval.experiments.record import Experiment, require, require_dataset_models, table_files
from cameval.experiments.sanity.claims import CLAIMS
from cameval.paths import layout

#: randomization modes and similarity measures (:func:`cameval.metrics.randomized_models`, ``map_similarity``)
MODES = ("cascading", "independent")
MEASURES = ("spearman_abs", "spearman", "ssim", "hog")
#: set names the experiment's own columns take
RESERVED = ("random", "guided_gradcam")
#: its figures (``<results>/figures/{name}.png``)
FIGURES = ("sanity_cascade", "sanity_curves")


def map_side(dataset: dict) -> int | None:
    """The smaller side of a dataset's images as the model sees them (known from the config), or None."""
    shape = dataset_kind(dataset).shape(dataset)
    return None if shape is None else min(shape[1:])


def check_sets(config: dict, section: str) -> None:
    """``config[section].methods``: heatmap sets of the config, each once, none named as the
    experiment's own columns (:data:`RESERVED`) unless it is that method; their methods and targets
    are checked with every role's (:mod:`cameval.config`)."""
    sets = config[section]["methods"]
    for h in sets:
        require(f"{section}.methods", h, config["heatmaps"])
        if sets.count(h) > 1 or (h in RESERVED and config["heatmaps"][h]["method"] != h):
            raise ConfigError(
                f"{section}.methods: {h} (expected heatmap sets, each once; {' and '.join(RESERVED)} name the "
                "experiment's own columns: the seeded random map, Guided Grad-CAM formed from Grad-CAM and "
                "Guided Backprop)"
            )
        n = config["heatmaps"][h].get("images")
        need = config[section]["images"]
        if n is not None and n < need:
            raise ConfigError(
                f"{section}.methods: heatmaps.{h}.images is {n}, below {section}.images {need} "
                f"(expected the set to cover the experiment's images: images: {need} or more)"
            )


def check(config: dict, shipped) -> None:
    s = config["sanity"]
    require_dataset_models(config, "sanity")
    check_sets(config, "sanity")
    side = map_side(config["datasets"][s["dataset"]])
    if side is not None and 2 * s["hog_cell"] > side:
        raise ConfigError(
            f"sanity.hog_cell: {s['hog_cell']} px is larger than the maps allow: {s['dataset']}'s maps are "
            f"{side} px a side (expected at most {side // 2}: HOG's 2×2-cell blocks need two cells a side)"
        )
    for measure in s["measures"]:  # the library's own checks of the maps' size (SSIM's window)
        metrics.check_measure(measure, s["hog_cell"], None if side is None else (side, side), where="sanity.measures")
    for model, twin in s["shuffled"].items():
        key = f"sanity.shuffled.{model}"
        if model not in s["models"]:
            raise ConfigError(
                f"{key}: {model} is not one of sanity.models {s['models']} (expected a model it evaluates)"
            )
        require(key, twin, config["models"])
        spec, real = config["models"][twin], config["models"][model]
        problems = []
        if not spec.get("train", {}).get("shuffle_labels"):
            problems.append(f"models.{twin} is not trained here with train.shuffle_labels: true")
        if spec["dataset"] != real["dataset"]:
            problems.append(f"it is trained on {spec['dataset']}, {model} on {real['dataset']}")
        if (spec["arch"], spec.get("build") or {}) != (real["arch"], real.get("build") or {}):
            problems.append(
                f"its arch {spec['arch']} {spec.get('build') or {}} is not {model}'s ({real['arch']} "
                f"{real.get('build') or {}})"
            )
        if problems:
            raise ConfigError(
                f"{key}: {twin}: " + "; ".join(problems) + f" (expected a model of {model}'s architecture trained "
                f"in the workflow on {real['dataset']} with shuffled labels: train: {{shuffle_labels: true, ...}})"
            )


def heatmap_sets(config: dict) -> list[tuple[str, str, str]]:
    s = config["sanity"]
    return [(s["dataset"], m, h) for m in s["models"] for h in s["methods"]]


def layers_of(config: dict, model: str, heatmap: str) -> str | None:
    """The layer a set explains on ``model`` (the set's, else the model's; None: the default)."""
    return config["heatmaps"][heatmap].get("layer") or config["models"][model].get("layer")


def table_inputs(config: dict) -> dict[str, str]:
    """Each model's similarity rows, and each twin's training record (``twin__<model>``)."""
    s, paths = config["sanity"], layout(config)
    files = {m: paths.metrics("sanity", s["dataset"], m) for m in s["models"]}
    files.update({f"twin__{m}": paths.model_json(t) for m, t in s["shuffled"].items()})
    return files


EXPERIMENT = Experiment(
    name="sanity",
    order=9,
    title="Sanity checks — model and data randomization (Adebayo et al. 2018)",
    section="sanity",
    targets=lambda config: [*table_files(config, "sanity"), *map(layout(config).figure, FIGURES)],
    tables=("sanity",),
    claims=CLAIMS,
    check=check,
    heatmaps=heatmap_sets,
)
