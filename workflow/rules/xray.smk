# Table 5 and Appendix E: localization of findings on multi-label chest X-rays (or the digits-multi
# stand-in) -> results/metrics/xray/{dataset}/{model}.csv, results/tables/table5.*, figures.
import os

from cameval.data.chestxray import count_eval_rows
from cameval.data.multilabel import digits_multi_eval_rows

for _name, _d in config["datasets"].items():
    if _d["kind"] == "chestxray":
        for _key, _expected in (
            ("images", "the folder of ChestX-ray14 PNGs, e.g. 00000001_000.png"),
            ("data_entry", "NIH's Data_Entry_2017.csv"),
            ("bbox_list", "NIH's BBox_List_2017.csv"),
        ):
            if not os.path.exists(_d[_key]):
                raise ConfigError(f"datasets.{_name}.{_key}: no {_d[_key]} (expected {_expected})")
    if _d["kind"] in ("chestxray", "digits-multi") and _d["eval_split"] != "test":
        raise ConfigError(f"datasets.{_name}.eval_split: {_d['eval_split']!r} (expected test for kind {_d['kind']})")

_XRAY_ROWS = {}


def xray_eval_rows(dataset):
    """Evaluation rows (image, boxed finding) of a multi-label set, known at parse time."""
    d = config["datasets"][dataset]
    if d["kind"] == "digits-multi":
        return digits_multi_eval_rows(d["counts"]["test"], d["max_digits"])
    if dataset not in _XRAY_ROWS:
        _XRAY_ROWS[dataset] = count_eval_rows(d["bbox_list"], d.get("limit"))
    return _XRAY_ROWS[dataset]


if "table5" in config:
    _t5 = config["table5"]
    _require("table5.dataset", _t5["dataset"], config["datasets"])
    if config["datasets"][_t5["dataset"]]["kind"] not in ("chestxray", "digits-multi"):
        raise ConfigError(
            f"table5.dataset: {_t5['dataset']!r} is of kind "
            f"{config['datasets'][_t5['dataset']]['kind']} (expected chestxray or digits-multi)"
        )
    for _model in _t5["models"]:
        _require("table5.models", _model, config["models"])
        if "weights" in config["models"][_model] and not config["models"][_model].get("classes"):
            raise ConfigError(
                f"models.{_model}.classes: missing (expected the model's output order, e.g. "
                "CheXNet's 14 findings; findings are matched to outputs by name)"
            )
    for _key in ("cams", "pixels"):
        for _h in _t5[_key]:
            _require(f"table5.{_key}", _h, config["heatmaps"])
            if config["heatmaps"][_h]["targets"] != "label":
                raise ConfigError(
                    f"heatmaps.{_h}.targets: {config['heatmaps'][_h]['targets']!r} (expected "
                    "'label': Table 5 explains each row's ground-truth finding)"
                )


def xray_sets():
    return config["table5"]["cams"] + config["table5"]["pixels"]


LAYER_LABELS = {"last_dense_conv": "last dense conv", "block_relu": "block + ReLU"}


def xray_set_meta():
    out = {}
    for h in xray_sets():
        spec = config["heatmaps"][h]
        layer = spec.get("layer")
        out[h] = {
            "method": method_label(spec["method"]),
            "layer": LAYER_LABELS.get(layer, layer) if h in config["table5"]["cams"] else "input pixels",
        }
    return out


rule xray_localization:
    input:
        unpack(lambda w: {h: shards(w.dataset, w.model, h) for h in xray_sets()}),
        **{k: f"resources/data/{{dataset}}/{v}" for k, v in (("images", "images.h5"), ("manifest", "manifest.csv"))},
    output:
        "results/metrics/xray/{dataset}/{model}.csv",
    log:
        "logs/metrics/xray/{dataset}/{model}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        sets=xray_sets() if "table5" in config else [],
        box_threshold=config.get("table5", {}).get("box_threshold"),
        inbox_threshold=config.get("table5", {}).get("inbox_threshold"),
        reduce=config.get("table5", {}).get("reduce"),
        expected=lambda w: n_eval(w.dataset),
    script:
        "../scripts/xray_rows.py"


def table5_inputs(wildcards):
    t = config["table5"]
    files = {m: f"results/metrics/xray/{t['dataset']}/{m}.csv" for m in t["models"]}
    for m in t["models"]:
        if "train" in config["models"][m]:
            files[f"auroc__{m}"] = f"resources/models/{m}.json"
    return files


rule table5:
    input:
        unpack(table5_inputs),
    output:
        csv="results/tables/table5.csv",
        md="results/tables/table5.md",
    log:
        "logs/tables/table5.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("table5"),
        sets=xray_set_meta() if "table5" in config else {},
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table5.py"


rule table5_figure:
    input:
        "results/tables/table5.csv",
    output:
        report("results/figures/table5.png", caption="../report/table5.rst", category="Figures"),
    log:
        "logs/figures/table5.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    script:
        "../scripts/table5_figure.py"


def appendix_e_inputs(wildcards):
    t = config["table5"]
    files = dataset_files(t["dataset"])
    for m in t["models"]:
        for h in xray_sets():
            files[f"{m}__{h}"] = shards(t["dataset"], m, h)
    return files


rule appendix_e:
    input:
        unpack(appendix_e_inputs),
    output:
        report("results/figures/appendix_e.png", caption="../report/appendix_e.rst", category="Figures"),
    log:
        "logs/figures/appendix_e.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        titles=lambda w: {h: f"{v['method']}\n({v['layer']})" for h, v in xray_set_meta().items()},
        n_images=config.get("table5", {}).get("figure_images"),
        seed=config["seed"],
        reduce=config.get("table5", {}).get("reduce"),
        expected=lambda w: n_eval(config["table5"]["dataset"]),
    script:
        "../scripts/appendix_e.py"
