"""Table 5 and Appendix E: weakly supervised localization of findings (ChestX-ray14 or digits-multi).

The package: :mod:`.rows` (the measures per (image, boxed finding), read from the heatmap shards),
:mod:`.table` (Table 5 and its Markdown), :mod:`.figure` (Table 5's figure, Appendix E),
:mod:`.claims`; this module holds the record and the config helpers its rules read. Nothing in it
needs torch: every map is read from the shards.
"""

from __future__ import annotations

from cameval.data.kinds import MULTILABEL_KINDS, dataset_kind
from cameval.errors import ConfigError
from cameval.experiments.record import Experiment, model_sets, require, table_files
from cameval.experiments.xray.claims import CLAIMS
from cameval.methods import label as method_label
from cameval.paths import layout


def sets(config: dict) -> list[str]:
    """The heatmap sets Table 5 evaluates: its CAM sets, then its pixel sets."""
    return config["table5"]["cams"] + config["table5"]["pixels"]


LAYER_LABELS = {"last_dense_conv": "last dense conv", "block_relu": "block + ReLU"}


def set_meta(config: dict) -> dict[str, dict[str, str]]:
    """Per heatmap set of Table 5: its method's label and the layer it is read at, as the table prints them."""
    out = {}
    for h in sets(config):
        spec = config["heatmaps"][h]
        layer = spec.get("layer")
        out[h] = {
            "method": method_label(spec["method"]),
            "layer": LAYER_LABELS.get(layer, layer) if h in config["table5"]["cams"] else "input pixels",
        }
    return out


def table_inputs(config: dict) -> dict[str, str]:
    """Per model its rows, and a trained model's test AUROC (``auroc__<model>``)."""
    t, paths = config["table5"], layout(config)
    files = {m: paths.metrics("xray", t["dataset"], m) for m in t["models"]}
    for m in t["models"]:
        if "train" in config["models"][m]:
            files[f"auroc__{m}"] = paths.model_json(m)
    return files


def check(config: dict, shipped) -> None:
    t5 = config["table5"]
    require("table5.dataset", t5["dataset"], config["datasets"])
    dataset = config["datasets"][t5["dataset"]]
    if not dataset_kind(dataset, t5["dataset"]).multilabel:
        raise ConfigError(
            f"table5.dataset: {t5['dataset']!r} is of kind {dataset['kind']} "
            f"(expected a multi-label kind: {' or '.join(MULTILABEL_KINDS)})"
        )
    for model in t5["models"]:
        require("table5.models", model, config["models"])
        if "weights" in config["models"][model] and not config["models"][model].get("classes"):
            raise ConfigError(
                f"models.{model}.classes: missing (expected the model's output order, e.g. "
                "CheXNet's 14 findings; findings are matched to outputs by name)"
            )
    for key in ("cams", "pixels"):
        for h in t5[key]:
            require(f"table5.{key}", h, config["heatmaps"])
            if config["heatmaps"][h]["targets"] != "label":
                raise ConfigError(
                    f"heatmaps.{h}.targets: {config['heatmaps'][h]['targets']!r} (expected "
                    "'label': Table 5 explains each row's ground-truth finding)"
                )


EXPERIMENT = Experiment(
    name="xray",
    order=5,
    title="Table 5 / App. E — medical localization",
    section="table5",
    targets=lambda config: [*table_files(config, "table5"), *map(layout(config).figure, ("table5", "appendix_e"))],
    heatmaps=lambda config: model_sets(config, "table5", sets(config)),
    tables=("table5",),
    claims=CLAIMS,
    check=check,
)
