"""The one registry of the study's experiments (see :mod:`cameval.experiments`).

Kept apart from the package's ``__init__`` so that a job importing one experiment
(``from cameval.experiments import occlusion``) loads that module alone, not all ten with
matplotlib, scipy and openpyxl; the workflow's parse and the claims job import this registry.
"""

from __future__ import annotations

from cameval.claims import Claim
from cameval.experiments import (
    faithfulness,
    fgsm,
    gallery,
    localization,
    occlusion,
    pointing,
    sensitivity,
    study,
    userstudy,
    xray,
)
from cameval.experiments.record import Experiment

#: every experiment by name, in the order of the study's artifacts (the claims and tables keep it)
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        gallery.EXPERIMENT,
        localization.EXPERIMENT,
        pointing.EXPERIMENT,
        occlusion.EXPERIMENT,
        fgsm.EXPERIMENT,
        userstudy.EXPERIMENT,
        xray.EXPERIMENT,
        sensitivity.EXPERIMENT,
        faithfulness.EXPERIMENT,
        study.EXPERIMENT,
    )
}

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
    return [t for e in enabled(config) for t in e.targets(config)] + ["results/claims.md", "results/claims.csv"]


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
