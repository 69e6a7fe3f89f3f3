"""Where every file of a run lies: the one place each artifact's path is written.

The rule files (through ``workflow/rules/common.smk``) and the library (the experiments' targets and
table inputs, the claims' and report's inputs) both ask a :class:`Layout` for a path, so a rule's
output and the file an experiment asks for cannot drift apart. Torch-free and Snakemake-free.

Two roots:

- ``results`` (config key ``results``, default ``results``): everything a run computes from its
  config: heatmap shards, metrics, tables, figures, the claims, the report's pages, the user-study
  kit. A second config run into another root leaves the first run's files alone.
- ``resources``: the datasets and trained or imported models, shared by every run (a model is the
  same file whichever tables read it).

Logs and benchmarks of the default root stay where they always were (``logs/``, ``benchmarks/``);
those of another root go under that root (``<root>/logs/``, ``<root>/benchmarks/``), so two runs
never write the same log and deleting a run's root deletes all of it.

Every argument defaults to its Snakemake wildcard (``"{dataset}"``, ``"{model}"``, …): called without
it, a method returns the pattern a rule's ``output:`` takes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cameval.errors import ConfigError

#: the default results root (config key ``results``; the schema's default)
RESULTS = "results"
#: the shared root of datasets and models
RESOURCES = "resources"
#: the environment variable through which the report's metadata template (``workflow/report/metadata.yaml``,
#: evaluated by Snakemake without the config) learns the run's results root; ``common.smk`` sets it
RESULTS_ENV = "CAMEVAL_RESULTS"

D, M, H = "{dataset}", "{model}", "{heatmap}"


@dataclass(frozen=True)
class Layout:
    """The file layout of one run: ``results`` its own root, ``resources`` the shared one."""

    results: str = RESULTS
    resources: str = RESOURCES

    # --- shared: datasets and models ------------------------------------------------------------

    def images(self, dataset: str = D) -> str:
        return f"{self.resources}/data/{dataset}/images.h5"

    def manifest(self, dataset: str = D) -> str:
        return f"{self.resources}/data/{dataset}/manifest.csv"

    def dataset_files(self, dataset: str = D) -> dict[str, str]:
        """A dataset's images and manifest, by the input names the jobs read them under."""
        return {"images": self.images(dataset), "manifest": self.manifest(dataset)}

    def weights(self, model: str = M) -> str:
        return f"{self.resources}/models/{model}.safetensors"

    def model_json(self, model: str = M) -> str:
        """A trained model's record: its metrics on validation and test (a multi-label model's AUROC)."""
        return f"{self.resources}/models/{model}.json"

    def model_curve(self, model: str = M) -> str:
        """A trained model's training curve."""
        return f"{self.resources}/models/{model}.curve.csv"

    # --- the run's own: under the results root --------------------------------------------------

    def shard(self, dataset: str = D, model: str = M, heatmap: str = H, shard="{shard}") -> str:
        """One shard of a heatmap set's maps of ``model`` on ``dataset``."""
        return f"{self.results}/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5"

    def metrics(self, kind: str, dataset: str = D, model: str = M, name: str | None = None, ext: str = "csv") -> str:
        """Per-image (or per-model) values of one experiment's stage ``kind``: ``metrics/<kind>/<dataset>/<model>``,
        one file per model, or per model and ``name`` (a heatmap or occlusion set)."""
        leaf = f"{model}/{name}" if name is not None else model
        return f"{self.results}/metrics/{kind}/{dataset}/{leaf}.{ext}"

    def accuracy(self, dataset: str = D, model: str = M) -> str:
        """A model's top-1 accuracy on a dataset's evaluation split (every table's notes)."""
        return self.metrics("accuracy", dataset, model, ext="json")

    def maps(self, kind: str, dataset: str = D, model: str = M) -> str:
        """An experiment's own cached maps (``sanity``, ``table7``)."""
        return f"{self.results}/maps/{kind}/{dataset}/{model}.h5"

    def attack(self, kind: str, dataset: str = D, model: str = M, shard=None) -> str:
        """Attacked images and their maps (``fgsm``: one file a model; ``one_pixel``: shards)."""
        leaf = f"{model}/shard-{shard}" if shard is not None else model
        return f"{self.results}/attacks/{kind}/{dataset}/{leaf}.h5"

    def table(self, name: str = "{table}", ext: str = "csv") -> str:
        """A table (``name``: ``table3``, or ``study/table3`` for the study's own results)."""
        return f"{self.results}/tables/{name}.{ext}"

    def page(self, name: str = "{table}") -> str:
        """A page of the report (a table's HTML, the claims', the landing page)."""
        return f"{self.results}/report/{name}.html"

    def table_files(self, name: str) -> list[str]:
        """A table's CSV, its Markdown and its page in the report."""
        return [self.table(name, "csv"), self.table(name, "md"), self.page(name)]

    def figure(self, name: str) -> str:
        return f"{self.results}/figures/{name}.png"

    def claims(self, ext: str) -> str:
        """The study's conclusions checked (``md``, ``csv``)."""
        return f"{self.results}/claims.{ext}"

    def user_study(self, name: str) -> str:
        """A file of the user-study kit (``survey.html``, ``key.csv``)."""
        return f"{self.results}/user_study/{name}"

    def report(self) -> str:
        """The report ``snakemake --report`` writes (``make report``)."""
        return f"{self.results}/report.html"

    # --- logs and benchmarks ---------------------------------------------------------------------

    def _beside(self, top: str) -> str:
        # the default root keeps the layout every run had; another root keeps its own beside its results
        return top if self.results == RESULTS else f"{self.results}/{top}"

    def log(self, *parts: str) -> str:
        """A job's log: ``logs/<parts>.log`` (another root: ``<root>/logs/<parts>.log``)."""
        return f"{self._beside('logs')}/{'/'.join(parts)}.log"

    def benchmark(self, *parts: str) -> str:
        """A job's benchmark: ``benchmarks/<parts>.tsv`` (another root: ``<root>/benchmarks/<parts>.tsv``)."""
        return f"{self._beside('benchmarks')}/{'/'.join(parts)}.tsv"


def results_root(config: dict) -> str:
    """The results root of ``config`` (its ``results`` key, normalized), or the default where the key is
    absent (a config not validated against the schema, as some callers of the library pass)."""
    return os.path.normpath(config.get("results", RESULTS))


def layout(config: dict) -> Layout:
    """The :class:`Layout` of a run of ``config``."""
    return Layout(results=results_root(config))


def from_environment() -> Layout:
    """The :class:`Layout` of the run whose workflow this process parsed (``common.smk`` sets
    :data:`RESULTS_ENV`), for what Snakemake evaluates without the config: the report's metadata."""
    return Layout(results=os.environ.get(RESULTS_ENV, RESULTS))


def check_root(config: dict) -> None:
    """``results`` names a folder of its own: not the shared resources, nor above them, nor a pattern."""
    root = results_root(config)
    if any(c in root for c in "{}") or root in (".", ".."):
        raise ConfigError(f"results: {config['results']!r} (expected a folder name such as results or results-b)")
    here, where = os.path.abspath(os.curdir), os.path.abspath(root)
    if here == where or here.startswith(where.rstrip(os.sep) + os.sep):
        raise ConfigError(
            f"results: {config['results']!r} is {where}, which holds the workflow itself (expected a folder "
            "of its own, such as results-b or /scratch/me/results-b)"
        )
    shared = os.path.normpath(RESOURCES)
    if root == shared or root.startswith(shared + os.sep) or shared.startswith(root + os.sep):
        raise ConfigError(
            f"results: {config['results']!r} overlaps {RESOURCES}/, where the shared datasets and models lie "
            "(expected a folder of its own, such as results-b)"
        )
    if root in ("logs", "benchmarks", "config", "workflow"):
        raise ConfigError(f"results: {config['results']!r} is a folder of the workflow (expected e.g. results-b)")
