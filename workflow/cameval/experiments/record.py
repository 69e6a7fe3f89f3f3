"""The record each experiment module declares (``EXPERIMENT``), and the checks they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cameval.claims import Claim
from cameval.errors import ConfigError
from cameval.paths import layout


def _no_check(config: dict, shipped: Callable[[str], str]) -> None:
    return None


def _no_heatmaps(config: dict) -> list[tuple[str, str, str]]:
    return []


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study: what ``rule all``, the report and the claims know of it.

    - ``name``: its library module ``cameval/experiments/{name}.py`` and rule file
      ``workflow/rules/{name}.smk``;
    - ``order``: its place among the experiments (the study's table number: Table 3 is 3, its
      appendices between); the registry, the report and the claims list experiments in this order;
    - ``title``: the study's artifacts it reproduces, the report's category for its tables and figures;
    - ``section``: its config section; the experiment is built where the config has it;
    - ``targets(config)``: the files ``rule all`` asks of it (tables, figures, report pages);
    - ``tables``: the tables it writes to ``<results>/tables/{table}.csv``; the first is the one its
      claims read (and the claims job's input);
    - ``claims``: the study's conclusions it checks (:class:`cameval.claims.Claim`);
    - ``check(config, shipped)``: what the schema cannot say about its section (names that must
      exist, files that must be there; ``shipped`` resolves a path that ships with the repository),
      raising :class:`cameval.errors.ConfigError`;
    - ``heatmaps(config)``: the ``(dataset, model, set)`` whose heatmap shards its rules read, from
      the shared heatmaps stage (which computes each model's first shards in one job where the
      config says ``heatmap_bundles: true``); its rules take their shard inputs from these same
      triples (``read_shards`` in ``workflow/rules/common.smk``).
    """

    name: str
    order: float
    title: str
    section: str
    targets: Callable[[dict], list[str]]
    tables: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()
    check: Callable[[dict, Callable[[str], str]], None] = field(default=_no_check)
    heatmaps: Callable[[dict], list[tuple[str, str, str]]] = field(default=_no_heatmaps)

    def enabled(self, config: dict) -> bool:
        return self.section in config

    @property
    def table(self) -> str | None:
        return self.tables[0] if self.tables else None


def require(key: str, value, allowed) -> None:
    """``value`` (config key ``key``) must be one of ``allowed`` (a dict's keys, or a list)."""
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not defined (expected one of {sorted(allowed)})")


def require_dataset_models(config: dict, section: str) -> None:
    """``config[section]``'s dataset and models are defined in the config."""
    require(f"{section}.dataset", config[section]["dataset"], config["datasets"])
    for model in config[section]["models"]:
        require(f"{section}.models", model, config["models"])


def model_sets(config: dict, section: str, sets) -> list[tuple[str, str, str]]:
    """``(dataset, model, set)`` for each of ``config[section]``'s models and each of ``sets``: the
    heatmaps a section with one ``dataset`` reads (an :class:`Experiment`'s ``heatmaps``)."""
    s = config[section]
    return [(s["dataset"], model, h) for model in s["models"] for h in sets]


def table_files(config: dict, table: str) -> list[str]:
    """A table's CSV, its Markdown and its page in the report, under ``config``'s results root."""
    return layout(config).table_files(table)
