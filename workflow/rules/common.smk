# Config validation and the helpers every stage uses (no rules here).
import math
import os
import re

from cameval import checkcache
from cameval.config import check_all, check_device, model_classes, shipped_from
from cameval.data.kinds import dataset_kind
from cameval.experiments.registry import CLAIMS_CATEGORY, EXPERIMENTS, built_tables, categories, category_of_table
from cameval.experiments.registry import enabled as enabled_experiments
from cameval.experiments.registry import heatmap_sets as experiment_heatmaps
from cameval.experiments.registry import targets as experiment_targets
from cameval.experiments.registry import table_setup as experiment_setup
from cameval.experiments.study import STUDY_TABLES
from cameval.paths import RESULTS_ENV, layout
from cameval.report import ranked_categories
from cameval.tables import accuracy_inputs

REPO = os.path.dirname(os.path.abspath(workflow.main_snakefile))
#: `shipped(path)`: `path` where it exists from the working directory, else the repository's file of that
#: relative path: files that ship with the workflow (resources/study/) also serve a run in another --directory
shipped = shipped_from(REPO)

# Every problem of the config in one pass, before any job (cameval.config.check_all; `python -m cameval
# check` runs the same): each config file again strictly (a key given twice is refused: Snakemake's
# loader keeps the last), the schema with its defaults set, the files the enabled experiments need,
# each experiment's checks, the methods' parameters, and, in the main process only (torch and your
# packages are imported there, not again in every cluster job; a passed check is remembered by
# cameval.checkcache), library methods' parameters and each model built on the meta device.
check_all(config, workflow.configfiles, shipped, imports=workflow.is_main_process)

#: where this run's files lie (cameval.paths, the one place each path is written): what it computes under
#: config["results"], datasets and models under resources/ (shared by every run)
PATHS = layout(config)
# the report's metadata template (workflow/report/metadata.yaml) is evaluated without the config
os.environ[RESULTS_ENV] = PATHS.results


def n_eval(dataset):
    """Rows of the evaluation split of `dataset`, known from the config at parse time (its kind's
    `eval_rows`, cameval.data.kinds: a multi-label set has one row per image and boxed finding)."""
    d = config["datasets"][dataset]
    return dataset_kind(d, dataset).eval_rows(d)


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
    return [PATHS.shard(dataset, model, heatmap, i) for i in range(n_shards(dataset, heatmap, n_images))]


def sets_read(experiment, dataset, model):
    """The heatmap sets `experiment` reads of `model` on `dataset`: its record's `heatmaps(config)`, the
    triples the bundles are made of too, so a rule's shard inputs and the bundles cannot disagree."""
    return [h for d, m, h in EXPERIMENTS[experiment].heatmaps(config) if (d, m) == (dataset, model)]


def read_shards(experiment, dataset, model, n_images=None, key="{set}"):
    """The shards of every set `experiment` reads of `model` on `dataset` (`sets_read`), each covering the
    first `n_images` (default: all), by input name `key` ({set}: the set's name; e.g. "set__{set}")."""
    return {key.format(set=h): shards(dataset, model, h, n_images) for h in sets_read(experiment, dataset, model)}


def per_attempt(base):
    """A resource that grows with the attempt: value = base × attempt.

    A job killed for memory or time (SLURM: OUT_OF_MEMORY, TIMEOUT) is retried (`retries` in
    profiles/slurm) with twice, then three times, its `mem_mb` / `runtime`. `base` is a number or
    a function of the wildcards.
    """

    def value(wildcards, attempt):
        return (base(wildcards) if callable(base) else base) * attempt

    return value


def dataset_files(dataset):
    return PATHS.dataset_files(dataset)


def names(section, keep=lambda entry: True):
    """Regex alternation of the keys of config[section] whose entries `keep` accepts."""
    keys = [k for k, v in config[section].items() if keep(v)]
    return "|".join(re.escape(k) for k in keys) or "(?!x)x"


def all_targets():
    """The targets of `all`: the registry's targets of every experiment this config has, and the claims."""
    return experiment_targets(config)


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
    """A model's config entry as its training or import job takes it: without `min_accuracy`, which is
    the accuracy job's (a changed floor re-checks the model, it does not retrain it), and with the digest
    of its builder's source (`builder_source`) where `arch` names one (`package.module:function`), so an
    edit of that file retrains (or re-imports) it."""
    spec = {k: v for k, v in config["models"][model].items() if k != "min_accuracy"}
    digest = checkcache.source_digest(spec["arch"], f"models.{model}.arch")
    return {**spec, "builder_source": digest} if digest else spec


def model_weights(model):
    return PATHS.weights(model)


def accuracy_floor(model):
    """`{"value": models.<model>.min_accuracy (default twice chance, 2 / classes), "default": not given}`;
    None for a multi-label model (no top-1 accuracy) and for a model trained on shuffled labels (the sanity
    experiment's twin: at chance on real labels by design; its fit to its shuffled labels is `sanity.min_fit`'s)."""
    dataset = model_dataset(model)
    if dataset_kind(config["datasets"][dataset], dataset).multilabel:
        return None
    spec = config["models"][model]
    if spec.get("train", {}).get("shuffle_labels"):
        return None
    if "min_accuracy" in spec:
        return {"value": spec["min_accuracy"], "default": False}
    return {"value": 2 / (model_classes(spec) or 10), "default": True}


def accepted(model):
    """`{"accuracy": its accuracy JSON}`: the input that makes a job reading `model`'s weights wait for the
    accuracy job, which stops the run where the model did not learn (none for a multi-label model)."""
    files = accuracy_inputs(config, [model])
    return {"accuracy": files[f"accuracy__{model}"]} if files else {}


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
    return dataset_kind(d, wildcards.dataset).raw_inputs(d)


def build_minutes(wildcards):
    """The dataset job's runtime in minutes (first attempt): its kind's `build_minutes`."""
    d = config["datasets"][wildcards.dataset]
    return dataset_kind(d, wildcards.dataset).build_minutes


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
