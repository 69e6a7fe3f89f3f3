# Config validation and the helpers every stage uses (no rules here).
import math
import os
import re

from snakemake.utils import validate

from cameval.errors import ConfigError

validate(config, workflow.source_path("../schemas/config.schema.yaml"), set_default=True)


def _require(key, value, allowed):
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not defined (expected one of {sorted(allowed)})")


for _name, _m in config["models"].items():
    _require(f"models.{_name}.dataset", _m["dataset"], config["datasets"])
    if ("train" in _m) == ("weights" in _m):
        raise ConfigError(f"models.{_name}: give exactly one of 'train' (train it here) or 'weights' (load them)")
for _exp in ("table1", "figure1", "table2", "table3", "fgsm"):
    _require(f"{_exp}.dataset", config[_exp]["dataset"], config["datasets"])
    for _model in config[_exp]["models"]:
        _require(f"{_exp}.models", _model, config["models"])
for _name, _d in config["datasets"].items():
    if _d["kind"] == "imagenet":
        for _key, _expected in (
            ("images", "a folder of ILSVRC2012_val_*.JPEG"),
            ("annotations", "a folder with one VOC XML per image, or LOC_val_solution.csv"),
            ("synsets", "LOC_synset_mapping.txt, one 'wnid name' line per class"),
        ):
            if not os.path.exists(_d[_key]):
                raise ConfigError(f"datasets.{_name}.{_key}: no {_d[_key]} (expected {_expected})")
for _method in config["table1"]["methods"]:
    _require("table1.methods", _method, config["heatmaps"])
_require("table2.heatmap", config["table2"]["heatmap"], config["heatmaps"])
for _key in ("gradcam", "guided_backprop"):
    _require(f"table3.{_key}", config["table3"][_key], config["heatmaps"])
for _occ in config["table3"]["occlusion"]:
    _require("table3.occlusion", _occ, config["heatmaps"])
    if config["heatmaps"][_occ]["method"] != "occlusion" or "patch" not in config["heatmaps"][_occ]["params"]:
        raise ConfigError(f"table3.occlusion: heatmaps.{_occ} must have method occlusion and params.patch")


def n_eval(dataset):
    """Images in the evaluation split of `dataset`, known from the config at parse time."""
    d = config["datasets"][dataset]
    if d["kind"] in ("digits-multi", "chestxray"):
        return xray_eval_rows(dataset)  # one row per (image, boxed finding): rules/xray.smk
    return d["counts"][d["eval_split"]] if d["kind"] == "digits" else d["limit"]


def n_shards(dataset, heatmap, n_images=None):
    n = n_eval(dataset) if n_images is None else min(n_images, n_eval(dataset))
    return math.ceil(n / config["heatmaps"][heatmap]["shard_size"])


def shard_rows(dataset, heatmap, shard):
    size = config["heatmaps"][heatmap]["shard_size"]
    return shard * size, min((shard + 1) * size, n_eval(dataset))


def shards(dataset, model, heatmap, n_images=None):
    """The shard files that cover the first `n_images` (default: all) evaluation images."""
    return expand(
        "results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5",
        dataset=dataset, model=model, heatmap=heatmap,
        shard=range(n_shards(dataset, heatmap, n_images)),
    )


def dataset_files(dataset):
    return {
        "images": f"resources/data/{dataset}/images.h5",
        "manifest": f"resources/data/{dataset}/manifest.csv",
    }


def names(section, keep=lambda entry: True):
    """Regex alternation of the keys of config[section] whose entries `keep` accepts."""
    keys = [k for k, v in config[section].items() if keep(v)]
    return "|".join(re.escape(k) for k in keys) or "(?!x)x"


def all_targets():
    tables = [f"results/tables/{t}.{ext}" for t in ("table1", "table2", "table3", "fgsm") for ext in ("csv", "md")]
    figures = [f"results/figures/{f}.png" for f in ("figure1", "appendix_b", "appendix_c")]
    if "table5" in config:
        tables += ["results/tables/table5.csv", "results/tables/table5.md"]
        figures += ["results/figures/table5.png", "results/figures/appendix_e.png"]
    return tables + figures
