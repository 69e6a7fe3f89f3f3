"""The study's own results, reanalysed (``results/tables/study/``): Tables 3, 4 and 5 recomputed
from the per-unit values the study published, with the intervals and paired tests it lacked.

The package: :mod:`.table` (its rows, read from the study's raw files, its long-form tables with
intervals and paired tests, their notes: :func:`~cameval.experiments.study.table.reanalysis`) and
:mod:`.figure` (one panel per table); this module holds the record and the raw files its rule reads.
The claims read these tables for their verdict *on the study's own results* (:mod:`cameval.claims`).
"""

from __future__ import annotations

import os

from cameval.data.study import TABLE3_FILES, TABLE5_METHODS, TABLE5_MODELS, table5_file
from cameval.errors import ConfigError
from cameval.experiments.record import Experiment
from cameval.paths import layout

#: the study's tables reanalysed (``results/tables/study/{table}.csv``), read by the claims
STUDY_TABLES = ("table3", "table4", "table5")


def study_files(root: str) -> dict:
    """The raw files of the study's results the reanalysis reads (config ``study.root``, resolved)."""
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


def check(config: dict, shipped) -> None:
    for files in study_files(shipped(config["study"]["root"])).values():
        for path in [files] if isinstance(files, str) else files:
            if not os.path.isfile(path):
                raise ConfigError(
                    f"study.root: no file {path} (expected the study's published results as shipped "
                    "in resources/study/, see its README)"
                )


def targets(config: dict) -> list[str]:
    paths = layout(config)
    files = [paths.table(f"study/{t}", ext) for t in STUDY_TABLES for ext in ("csv", "md")]
    return files + [paths.figure("study")] + [paths.page(f"study/{t}") for t in STUDY_TABLES]


EXPERIMENT = Experiment(
    name="study",
    order=8,
    title="The study's own results — Tables 3–5 recomputed from its raw data",
    section="study",
    targets=targets,
    check=check,
)
