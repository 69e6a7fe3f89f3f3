"""Deletion and insertion (Petsiuk et al., BMVC 2018, RISE) and ROAD (Rong et al., ICML 2022) of
every method's maps, read from the heatmap shards.

Per model and image: the target's softmax probability as the pixels are deleted (set to the
dataset's mean) or inserted (into RISE's blur of the image) in the map's order, and its AUC
(:func:`cameval.metrics.deletion_curves`, ``insertion_curves``, ``curve_auc``); the model's accuracy
after the most (MoRF) or least (LeRF) relevant p % of the pixels are imputed by noisy linear
imputation (:func:`cameval.metrics.road`). Each model on its own dataset (the MNIST network on
real MNIST answers the study's Table 7 question with the field's tests).

The package: :mod:`.compute` (the job's torch work), :mod:`.table`, :mod:`.figure`, :mod:`.claims`;
this module holds the record and the config helpers its rules read.
"""

from __future__ import annotations

from cameval.errors import ConfigError
from cameval.experiments.deletion.claims import CLAIMS
from cameval.experiments.record import Experiment, require, table_files
from cameval.experiments.sanity import check_sets, map_side
from cameval.paths import layout

#: its figures (``<results>/figures/{name}.png``)
FIGURES = ("deletion_curves", "road")


def check(config: dict, shipped) -> None:
    d = config["deletion"]
    for model in d["models"]:
        require("deletion.models", model, config["models"])
    check_sets(config, "deletion")
    if d["step"] is not None:
        for model in d["models"]:
            dataset = config["models"][model]["dataset"]
            side = map_side(config["datasets"][dataset])
            if side is not None and d["step"] > side * side:
                raise ConfigError(
                    f"deletion.step: {d['step']} pixels a step is more than {model}'s images hold "
                    f"({dataset}: {side}×{side}; expected 1 to {side * side})"
                )


def heatmap_sets(config: dict) -> list[tuple[str, str, str]]:
    d = config["deletion"]
    return [(config["models"][m]["dataset"], m, h) for m in d["models"] for h in d["methods"]]


def table_inputs(config: dict) -> dict[str, str]:
    """Each model's per-image rows."""
    paths = layout(config)
    return {m: paths.metrics("deletion", config["models"][m]["dataset"], m) for m in config["deletion"]["models"]}


def curve_inputs(config: dict) -> dict[str, str]:
    """Each model's curves."""
    paths = layout(config)
    return {
        m: paths.metrics("deletion", config["models"][m]["dataset"], m, ext="h5") for m in config["deletion"]["models"]
    }


EXPERIMENT = Experiment(
    name="deletion",
    order=10,
    title="Deletion, insertion and ROAD (Petsiuk et al. 2018, Rong et al. 2022)",
    section="deletion",
    targets=lambda config: [*table_files(config, "deletion"), *map(layout(config).figure, FIGURES)],
    tables=("deletion",),
    claims=CLAIMS,
    check=check,
    heatmaps=heatmap_sets,
)
