"""Figure 1 / Appendix A: the methods side by side (Grad-CAM, Grad-CAM++, any further CAM-type sets of
``figure1.methods``, Guided Backprop, Guided Grad-CAM).

The package: :mod:`.compute` (the figure job: its panels from the shards, Guided Grad-CAM with
torch); this module holds the record and the config helpers its rule reads.
"""

from __future__ import annotations

from cameval.errors import ConfigError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models
from cameval.methods import label as method_label
from cameval.paths import layout

HEATMAPS = ("gradcam", "gradcampp", "guided_backprop")


def figure_sets(config: dict) -> list[tuple[str, str, str]]:
    """``(dataset, model, set)`` of Figure 1's panels: each model's Grad-CAM, Grad-CAM++, Guided
    Backprop and ``figure1.methods`` sets (the experiment's ``heatmaps``)."""
    return model_sets(config, "figure1", [*HEATMAPS, *config["figure1"]["methods"]])


def figure_inputs(config: dict) -> dict[str, str]:
    """The first shard of each of :func:`figure_sets`: ``{model}__{heatmap}``."""
    paths = layout(config)
    return {
        f"{model}__{heatmap}": paths.shard(dataset, model, heatmap, 0)
        for dataset, model, heatmap in figure_sets(config)
    }


def extra_labels(config: dict) -> dict[str, str]:
    """``{set: label}`` of the CAM-type sets of ``figure1.methods``, in order."""
    return {h: method_label(config["heatmaps"][h]["method"]) for h in config["figure1"]["methods"]}


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "figure1")
    missing = [h for h in HEATMAPS if h not in config["heatmaps"]]
    if missing:
        raise ConfigError(
            f"heatmaps: no set {', '.join(missing)} (expected sets named {', '.join(HEATMAPS)}, each of the method "
            "of its name: Figure 1 shows them; or leave figure1 out)"
        )
    f = config["figure1"]
    for h in f["methods"]:
        require("figure1.methods", h, config["heatmaps"])
        if h in HEATMAPS or f["methods"].count(h) > 1:
            raise ConfigError(
                f"figure1.methods: {h} (expected further CAM-type sets, each once; {', '.join(HEATMAPS)} are "
                "Figure 1's own columns)"
            )
        spec = config["heatmaps"][h]
        if min(spec.get("images") or f["images"], spec["shard_size"]) < f["images"]:
            raise ConfigError(
                f"figure1.methods: heatmaps.{h} holds fewer than figure1.images = {f['images']} images in its first "
                "shard (expected images and shard_size of at least that)"
            )


EXPERIMENT = Experiment(
    name="gallery",
    order=0,
    title="Figure 1 / App. A — the methods side by side",
    section="figure1",
    targets=lambda config: [layout(config).figure("figure1")],
    heatmaps=figure_sets,
    check=check,
)
