"""Table 3 and Appendix B: rank correlation of Guided Backprop, Grad-CAM and Guided Grad-CAM with occlusion.

The package: :mod:`.compute` (the job's torch work: the per-image Spearman ρ with the occlusion map, from
cached shards), :mod:`.table` (the table with intervals and paired differences, its notes), :mod:`.figure`
(Appendix B), :mod:`.claims` (the claims it decides, on this run and on the study's own per-image ρ); this
module holds the record and the config helpers its rules read.
"""

from __future__ import annotations

from cameval.errors import ConfigError
from cameval.experiments.occlusion.claims import CLAIMS
from cameval.experiments.occlusion.table import TABLE3_METHODS
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.methods import label as method_label
from cameval.paths import layout

#: the columns of Table 3's rows that a set of ``table3.methods`` may not be named
RESERVED = ("id", "class", "occlusion", *TABLE3_METHODS)


def extra_labels(config: dict) -> dict[str, str]:
    """``{set: label}`` of the heatmap sets of ``table3.methods``, in order."""
    return {h: method_label(config["heatmaps"][h]["method"]) for h in config["table3"]["methods"]}


def map_sets(config: dict) -> dict[str, str]:
    """The heatmap set read for each compared column of the rows: ``gradcam``, ``guided_backprop``
    (their roles) and every set of ``table3.methods`` (by its own name)."""
    t = config["table3"]
    return {"gradcam": t["gradcam"], "guided_backprop": t["guided_backprop"], **{h: h for h in t["methods"]}}


def table_inputs(config: dict) -> dict[str, str]:
    """The per-image rows Table 3 aggregates: ``{model}__{occlusion}`` -> its CSV."""
    t, paths = config["table3"], layout(config)
    return {
        f"{model}__{occ}": paths.metrics("rankcorr", t["dataset"], model, occ)
        for model in t["models"]
        for occ in t["occlusion"]
    }


def patches(config: dict) -> dict[str, int]:
    """The patch size of each occlusion heatmap set of Table 3."""
    return {k: config["heatmaps"][k]["params"]["patch"] for k in config["table3"]["occlusion"]}


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table3")
    for key in ("gradcam", "guided_backprop"):
        require(f"table3.{key}", config["table3"][key], config["heatmaps"])
    for occ in config["table3"]["occlusion"]:
        require("table3.occlusion", occ, config["heatmaps"])
        if config["heatmaps"][occ]["method"] != "occlusion" or "patch" not in config["heatmaps"][occ]["params"]:
            raise ConfigError(f"table3.occlusion: heatmaps.{occ} must have method occlusion and params.patch")
    t = config["table3"]
    for h in t["methods"]:
        require("table3.methods", h, config["heatmaps"])
        if h in RESERVED or h in (t["gradcam"], t["guided_backprop"]) or t["methods"].count(h) > 1:
            raise ConfigError(
                f"table3.methods: {h} (expected further sets, each once, none of {list(RESERVED)} nor "
                "table3.gradcam / table3.guided_backprop, which Table 3 reads already)"
            )
        n = config["heatmaps"][h].get("images")
        if n is not None and n < t["images"]:
            raise ConfigError(
                f"table3.methods: heatmaps.{h}.images is {n}, below table3.images {t['images']} "
                f"(expected the set to cover Table 3's images: images: {t['images']} or more)"
            )


EXPERIMENT = Experiment(
    name="occlusion",
    order=3,
    title="Table 3 / App. B — rank correlation with occlusion",
    section="table3",
    targets=lambda config: [*table_files(config, "table3"), layout(config).figure("appendix_b")],
    heatmaps=lambda config: model_sets(config, "table3", [*config["table3"]["occlusion"], *map_sets(config).values()]),
    tables=("table3",),
    claims=CLAIMS,
    check=check,
)
