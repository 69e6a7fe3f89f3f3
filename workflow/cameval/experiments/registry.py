"""The one registry of the study's experiments (see :mod:`cameval.experiments`).

Kept apart from the package's ``__init__`` so that a job importing one experiment
(``from cameval.experiments import occlusion``) loads that module alone, not all ten with
matplotlib, scipy and openpyxl; the workflow's parse and the claims job import this registry.
"""

from __future__ import annotations

import importlib
import pkgutil

import cameval.experiments
from cameval.claims import Claim
from cameval.experiments.record import Experiment
from cameval.paths import layout

#: modules of the package that are not experiments
_NOT_EXPERIMENTS = {"record", "registry"}


def _discover() -> dict[str, Experiment]:
    """Every module of :mod:`cameval.experiments` declaring an ``EXPERIMENT``, by its ``order``: a new
    experiment is found from its module alone, no list to extend."""
    found = []
    for info in pkgutil.iter_modules(cameval.experiments.__path__):
        if info.name in _NOT_EXPERIMENTS:
            continue
        module = importlib.import_module(f"cameval.experiments.{info.name}")
        record = getattr(module, "EXPERIMENT", None)
        if not isinstance(record, Experiment) or record.name != info.name:
            raise TypeError(
                f"cameval/experiments/{info.name}.py: expected EXPERIMENT = Experiment(name={info.name!r}, …)"
            )
        found.append(record)
    return {e.name: e for e in sorted(found, key=lambda e: (e.order, e.name))}


#: every experiment by name, in the order of the study's artifacts (the claims and tables keep it)
EXPERIMENTS: dict[str, Experiment] = _discover()

#: every experiment's claims, in registry order
CLAIMS: list[Claim] = [c for e in EXPERIMENTS.values() for c in e.claims]

#: the report's category of the claims page (a shared stage, not an experiment)
CLAIMS_CATEGORY = "Claims — the study's conclusions checked"


def enabled(config: dict) -> list[Experiment]:
    """The experiments this configuration builds (those whose config section it has)."""
    return [e for e in EXPERIMENTS.values() if e.enabled(config)]


def built_tables(config: dict) -> list[str]:
    """The tables the claims read in this configuration: each enabled experiment's first table."""
    return [e.table for e in enabled(config) if e.table]


def targets(config: dict) -> list[str]:
    """What ``rule all`` builds: every enabled experiment's targets, then the claims."""
    paths = layout(config)
    return [t for e in enabled(config) for t in e.targets(config)] + [paths.claims("md"), paths.claims("csv")]


def heatmap_sets(config: dict) -> dict[tuple[str, str], list[str]]:
    """The heatmap sets the enabled experiments read, by ``(dataset, model)``: each set once, in the
    order first asked (the shared heatmaps stage's bundles, one job per pair)."""
    out: dict[tuple[str, str], list[str]] = {}
    for e in enabled(config):
        for dataset, model, heatmap in e.heatmaps(config):
            sets = out.setdefault((dataset, model), [])
            if heatmap not in sets:
                sets.append(heatmap)
    return out


def categories() -> dict[str, str]:
    """The report's category of each experiment, by name."""
    return {name: e.title for name, e in EXPERIMENTS.items()}


def category_of_table(table: str) -> str:
    """The report's category of ``results/tables/{table}.csv``: its experiment's title (else the name)."""
    return next((e.title for e in EXPERIMENTS.values() if table in e.tables), table)


def check(config: dict, shipped) -> None:
    """Every enabled experiment's checks of its config section (what the schema cannot say)."""
    for e in enabled(config):
        e.check(config, shipped)


def table_setup(config: dict, table: str) -> dict:
    """On which data and models ``table`` (a config section with ``models``) is computed (a table
    over several datasets names each)."""
    models = config[table]["models"]
    datasets = (
        [config[table]["dataset"]]
        if "dataset" in config[table]
        else sorted({config["models"][m]["dataset"] for m in models})
    )
    return {"dataset": ", ".join(datasets), "models": models}
