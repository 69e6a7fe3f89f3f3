"""The user study's public API (``from cameval import userstudy``, docs/architecture.md), kept stable:
the experiment itself lives in :mod:`cameval.experiments.userstudy`."""

from cameval.experiments.userstudy import (
    build_kit,
    read_answers,
    read_key,
    read_survey_export,
    score_answers,
    score_survey_export,
    summarize,
    table4,
)

__all__ = [
    "build_kit",
    "read_answers",
    "read_key",
    "read_survey_export",
    "score_answers",
    "score_survey_export",
    "summarize",
    "table4",
]
