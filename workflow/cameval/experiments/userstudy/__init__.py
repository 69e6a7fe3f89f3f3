"""Table 4: a blinded, randomized user study of two models' explanations, and its analysis.

The study (Nagy et al., Table 4 and Appendix D, after Selvaraju et al.'s "trust" experiment)
showed raters an image that two models ("agents") both classified correctly, each agent's
explanation by one method (Guided Backprop, or Guided Grad-CAM), and asked which agent seemed
more reasonable on a five-point scale. How an answer is scored and the files of the study
(the key, the answers): :mod:`.answers`.

:func:`summarize` gives per method the mean and the standard deviation (ddof = 1, as the study's
numbers are) of the scores, a 95 % percentile-bootstrap interval clustered by rater (raters are
resampled with replacement, every answer of a drawn rater comes along) and a paired test between
the two methods: the Wilcoxon signed-rank test on per-rater mean scores.

The package: :mod:`.answers` (the key, the answers and the survey tool's export, scored),
:mod:`.table` (:func:`summarize`, Table 4), :mod:`.kit` (the stimuli's sample, maps and pictures),
:mod:`.compute` (the kit job's torch work: :func:`~.compute.build_kit` writes the key and the survey
page, :mod:`cameval.survey` renders it), :mod:`.claims`; this module holds the record, the config
helpers its rules read and the public API (``from cameval.experiments import userstudy``).
"""

from __future__ import annotations

import os

from cameval.errors import ConfigError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.experiments.userstudy.answers import (
    ANSWERS,
    read_answers,
    read_key,
    read_survey_export,
    score_answers,
    score_survey_export,
)
from cameval.experiments.userstudy.claims import CLAIMS
from cameval.experiments.userstudy.table import summarize, table4
from cameval.paths import layout

__all__ = [
    "ANSWERS",
    "EXPERIMENT",
    "better_of",
    "read_answers",
    "read_key",
    "read_survey_export",
    "score_answers",
    "score_survey_export",
    "summarize",
    "table4",
]


def better_of(config: dict) -> str:
    """The more accurate model of Table 4: ``table4.better``, else the first of ``table4.models``."""
    return config["table4"].get("better") or config["table4"]["models"][0]


def check(config: dict, shipped) -> None:
    t4 = config["table4"]
    require_dataset_models(config, "table4")
    if t4.get("better", t4["models"][0]) not in t4["models"]:
        raise ConfigError(f"table4.better: {t4['better']!r} is not one of table4.models {t4['models']}")
    for key in ("gradcam", "guided_backprop"):
        require(f"table4.{key}", t4[key], config["heatmaps"])
    for f in t4["answers"]:
        if not os.path.isfile(f):
            raise ConfigError(
                f"table4.answers: no file {f} (expected a CSV exported by {layout(config).user_study('survey.html')})"
            )


def targets(config: dict) -> list[str]:
    """The kit (the survey page raters see, the key kept from them), then Table 4."""
    paths = layout(config)
    return [paths.user_study("survey.html"), paths.user_study("key.csv"), *table_files(config, "table4")]


EXPERIMENT = Experiment(
    name="userstudy",
    order=4,
    title="Table 4 / App. D — user study",
    section="table4",
    targets=targets,
    heatmaps=lambda config: model_sets(
        config, "table4", [config["table4"]["guided_backprop"], config["table4"]["gradcam"]]
    ),
    tables=("table4",),
    claims=CLAIMS,
    check=check,
)
