"""The user study's answers: the key, the answers exported by the survey page, the survey tool's raw
export, and their scores.

An answer is scored

    s = +p   if the better model is agent A,   s = -p   if it is agent B,

where p ∈ {2, 1, 0, -1, -2} is the preference for agent A of :data:`ANSWERS` (in that order).
So s > 0 means the rater judged the more accurate model (``better``) more reasonable.

Files:

- key CSV (``key.csv``): ``item, method, class, agent_a, agent_b``, one row per item; kept
  apart from what raters see.
- answers CSV: one row per rater, a rater id column first (``rater``), then one column per item
  in the key's row order holding the answer text (an empty cell: not answered).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from cameval.errors import DataError
from cameval.io import read_csv_strict

#: The study's five answers, verbatim, from "agent A clearly" to "agent B clearly".
ANSWERS = (
    "Agent A seems clearly the most reasonable",
    "Agent A seems slightly more reasonable than agent B",
    "Both agents seem equally reasonable",
    "Agent B seems slightly more reasonable than agent A",
    "Agent B seems clearly the most reasonable",
)
#: Preference for agent A of each answer: +2 … −2.
PREFERENCE_A = dict(zip(ANSWERS, (2, 1, 0, -1, -2), strict=True))
KEY_COLUMNS = ("item", "method", "class", "agent_a", "agent_b")


def read_key(path: str | os.PathLike) -> pd.DataFrame:
    """The key CSV as a DataFrame with :data:`KEY_COLUMNS` (strings), item ids unique.

    Read strictly (:func:`cameval.io.read_csv_strict`); a ``kit`` column, where present, holds
    the kit's id (one value for every row) that answers must carry.
    """
    header, rows = read_csv_strict(path, f"a key CSV with columns {', '.join(KEY_COLUMNS)}")
    missing = [c for c in KEY_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: key lacks columns {missing} (expected {', '.join(KEY_COLUMNS)})")
    key = pd.DataFrame([r for _, r in rows], columns=header, dtype=str)
    if key.empty:
        raise DataError(f"{path}: key has a header but no item (expected one row per item)")
    if key["item"].duplicated().any():
        raise DataError(f"{path}: items {sorted(key.loc[key['item'].duplicated(), 'item'])} appear more than once")
    if "kit" in key and key["kit"].nunique() != 1:
        raise DataError(f"{path}: column kit holds {sorted(set(key['kit']))} (expected one kit id for every item)")
    return key


def key_kit(key: pd.DataFrame) -> str | None:
    """The kit id a key carries (its ``kit`` column), or None for a key without one."""
    return str(key["kit"].iloc[0]) if "kit" in key else None


def read_answers(path: str | os.PathLike, key: pd.DataFrame, key_path: str | os.PathLike = "key") -> pd.DataFrame:
    """An answers CSV of the survey page as a frame ``rater, <items in the key's order>`` (strings).

    Layout: a header ``rater, kit, <item ids>`` (``kit`` only where the key has one) and one
    row per rater. Read strictly (a row with a field more or less than the header is an error,
    not a shift); the kit id of every row must be the key's; every item of the key has its
    column and no other column is there; rater ids are unique (a rater given twice is an error
    naming both lines).
    """
    path = Path(path)
    header, rows = read_csv_strict(
        path, f"answers exported by the survey page: rater, kit, {', '.join(key['item'][:2])}, ..."
    )
    if not rows:
        raise DataError(f"{path}: a header but no rater (expected one row per rater)")
    answers = pd.DataFrame([r for _, r in rows], columns=header, dtype=str)
    rater_col = header[0]
    kit = key_kit(key)
    if kit is not None:
        if "kit" not in answers:
            raise DataError(
                f"{path}: no kit column, but {key_path} belongs to kit {kit} (expected answers exported "
                "by that kit's survey page; answers without a kit id cannot be matched to its questions)"
            )
        for (line, _), got in zip(rows, answers["kit"], strict=True):
            if got != kit:
                raise DataError(
                    f"{path}: line {line}: answers of kit {got!r}, but {key_path} is kit {kit!r} (the kit "
                    "was rebuilt since: these answers are to other questions; score them with their own key)"
                )
    items = [c for c in header[1:] if c != "kit"]
    missing = [i for i in key["item"] if i not in items]
    if missing:
        raise DataError(
            f"{path}: no column for items {missing} of {key_path} (expected one column per item of the key)"
        )
    extra = [c for c in items if c not in set(key["item"])]
    if extra:
        raise DataError(f"{path}: columns {extra} are no items of {key_path}")
    first: dict[str, int] = {}
    for (line, _), rater in zip(rows, answers[rater_col], strict=True):
        if rater in first:
            raise DataError(
                f"{path}: lines {first[rater]} and {line} both hold rater {rater!r} (expected one row per rater: "
                "a rater counted twice would weigh twice in every mean and interval; delete one of them)"
            )
        first[rater] = line
    return answers[[rater_col, *key["item"]]].rename(columns={rater_col: "rater"})


def read_survey_export(path: str | os.PathLike, key: pd.DataFrame, key_path: str | os.PathLike = "key") -> pd.DataFrame:
    """The survey tool's raw response export (the study's: ``.xlsx``, or the same layout as ``.csv``)
    as a frame ``rater, <items in the key's order>``.

    Layout: a ``Timestamp`` column, then one column per question in the key's row order (the
    same header may stand twice, as the study's does for each image under both methods); each
    header is ``Both Predicted: {class}. ...``, checked against the key's class (ignoring case). Raters are
    named ``r01``, ``r02``, ... in row order; a row given twice (the same Timestamp and answers) is an
    error naming both rows. Such an export carries no kit id: it is read with its own key, explicitly.
    """
    path = Path(path)
    what = "the survey tool's export: Timestamp, then one column per question of the key"
    if path.suffix.lower() == ".xlsx":
        header, rows = _read_xlsx(path, what)
    else:
        header, rows = read_csv_strict(path, what, unique_header=False)
    questions = header[1:]
    if header[0].lower() != "timestamp":
        raise DataError(f"{path}: first column {header[0]!r} (expected {what})")
    if len(questions) != len(key):
        raise DataError(
            f"{path}: {len(questions)} question columns, but {key_path} has {len(key)} items "
            "(expected one column per item, in the key's order)"
        )
    for n, (text, cls) in enumerate(zip(questions, key["class"], strict=True), start=2):
        if not text.lower().startswith(f"both predicted: {cls}.".lower()):
            raise DataError(
                f"{path}: column {n} is headed {text!r}, but {key_path}'s item {key['item'].iloc[n - 2]} "
                f"is of class {cls!r} (expected 'Both Predicted: {cls}. ...')"
            )
    if not rows:
        raise DataError(f"{path}: a header but no rater (expected one row per rater)")
    first: dict[tuple, int] = {}
    for line, row in rows:
        cells = tuple(c.strip() for c in row)
        if cells in first:
            raise DataError(
                f"{path}: rows {first[cells]} and {line} are the same response (the same Timestamp and "
                "answers: a rater counted twice would weigh twice in every mean and interval; delete one of them)"
            )
        first[cells] = line
    width = len(str(len(rows)))
    return pd.DataFrame(
        [[f"r{k:0{max(2, width)}d}", *r[1:]] for k, (_, r) in enumerate(rows, start=1)],
        columns=["rater", *key["item"]],
        dtype=str,
    )


def _read_xlsx(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """``(header, rows)`` of an ``.xlsx``'s first sheet, every cell as text (empty: "")."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile/KeyError/InvalidFileException on a damaged file
        raise DataError(f"{path}: not a readable .xlsx ({type(err).__name__}: {err}; expected {what})") from None
    try:
        lines = [
            (n, ["" if v is None else str(v) for v in row])
            for n, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()
    lines = [(n, r) for n, r in lines if any(c.strip() for c in r)]
    if not lines:
        raise DataError(f"{path}: empty sheet (expected {what})")
    (_, header), rows = lines[0], lines[1:]
    for line, row in rows:
        if len(row) != len(header) and any(c.strip() for c in row[len(header) :]):
            raise DataError(f"{path}: row {line} has cells beyond the header's {len(header)} columns (expected {what})")
    return [h.strip() for h in header], [(line, (row + [""] * len(header))[: len(header)]) for line, row in rows]


def score_frame(
    answers: pd.DataFrame,
    key: pd.DataFrame,
    better: str,
    source: str | os.PathLike = "answers",
    key_path: str | os.PathLike = "key",
) -> pd.DataFrame:
    """Score a frame ``rater, <items>`` (:func:`read_answers`, :func:`read_survey_export`) against ``key``:
    one row per answered (rater, item) with ``rater, item, method, answer, score``."""
    sign = {}
    for row in key.itertuples(index=False):
        if better == row.agent_a:
            sign[row.item] = 1
        elif better == row.agent_b:
            sign[row.item] = -1
        else:
            raise DataError(
                f"{key_path}: item {row.item}: better={better!r} is neither agent A ({row.agent_a}) "
                f"nor agent B ({row.agent_b})"
            )
    method = dict(zip(key["item"], key["method"], strict=True))
    rows = []
    for _, rec in answers.iterrows():
        rater = str(rec["rater"])
        for item in key["item"]:
            text = str(rec[item]).strip()
            if not text:
                continue
            if text not in PREFERENCE_A:
                raise DataError(
                    f"{source}: rater {rater}, item {item}: unknown answer {text!r} (expected one of {list(ANSWERS)})"
                )
            rows.append(
                {
                    "rater": rater,
                    "item": item,
                    "method": method[item],
                    "answer": text,
                    "score": sign[item] * PREFERENCE_A[text],
                }
            )
    return pd.DataFrame(rows, columns=["rater", "item", "method", "answer", "score"])


def score_answers(answers_csv: str | os.PathLike, key_csv: str | os.PathLike, better: str = "vgg") -> pd.DataFrame:
    """Score every answer: one row per (rater, item) with ``rater, item, method, answer, score``.

    ``score`` ∈ {−2, …, 2}, positive when the rater prefers the model ``better`` (a name in the
    key's ``agent_a`` / ``agent_b`` columns). Empty cells (unanswered items) are left out. An
    answer text not among :data:`ANSWERS`, an item of the key without its column, a column that is
    no item of the key, answers of another kit, or ``better`` not one of an item's agents raise
    :class:`DataError`.
    """
    key = read_key(key_csv)
    return score_frame(read_answers(answers_csv, key, key_csv), key, better, answers_csv, key_csv)


def score_survey_export(export: str | os.PathLike, key_csv: str | os.PathLike, better: str) -> pd.DataFrame:
    """:func:`score_answers` for the survey tool's raw export (:func:`read_survey_export`)."""
    key = read_key(key_csv)
    return score_frame(read_survey_export(export, key, key_csv), key, better, export, key_csv)
