"""Table 4: a blinded, randomized user study of two models' explanations, and its analysis.

The study (Nagy et al., Table 4 and Appendix D, after Selvaraju et al.'s "trust" experiment)
showed raters an image that two models ("agents") both classified correctly, each agent's
explanation by one method (Guided Backprop, or Guided Grad-CAM), and asked which agent seemed
more reasonable on a five-point scale. An answer is scored

    s = +p   if the better model is agent A,   s = -p   if it is agent B,

where p ∈ {2, 1, 0, -1, -2} is the preference for agent A of :data:`ANSWERS` (in that order).
So s > 0 means the rater judged the more accurate model (``better``) more reasonable.

Files:

- key CSV (``key.csv``): ``item, method, class, agent_a, agent_b``, one row per item; kept
  apart from what raters see.
- answers CSV: one row per rater, a rater id column first (``rater``), then one column per item
  in the key's row order holding the answer text (an empty cell: not answered).

:func:`summarize` gives per method the mean and the standard deviation (ddof = 1, as the study's
numbers are) of the scores, a 95 % percentile-bootstrap interval clustered by rater (raters are
resampled with replacement, every answer of a drawn rater comes along) and a paired test between
the two methods: the Wilcoxon signed-rank test on per-rater mean scores.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from PIL import Image

from cameval.claims import (
    FAILS,
    HOLDS,
    PAIRED_CRITERION,
    UNDECIDED,
    Claim,
    Context,
    Verdict,
    combine,
    paired_verdict,
    study_pair,
)
from cameval.data.classes import class_names as dataset_class_names
from cameval.data.images import ImageSet, read_manifest
from cameval.errors import ConfigError, DataError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.figures import deprocess_gradient
from cameval.formatting import fmt
from cameval.io import read_csv_strict, write_csv
from cameval.methods import labels
from cameval.metrics.stats import paired_compare, wilcoxon_test
from cameval.store import Expect, Shard, check_shards
from cameval.survey import render_survey

log = logging.getLogger(__name__)

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
METHOD_NAMES = labels("guided_backprop", "guided_gradcam")


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


def clustered_bootstrap_ci(
    scores: pd.DataFrame, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean score, resampling raters (with all their answers).

    Each resample draws R raters with replacement out of the R present and takes the mean of all
    the drawn raters' scores: ``Σ_r∈draw sum_r / Σ_r∈draw n_r``.
    """
    per = scores.groupby("rater")["score"].agg(["sum", "count"])
    if per.empty:
        return float("nan"), float("nan")
    sums, counts = per["sum"].to_numpy(float), per["count"].to_numpy(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per), size=(n_boot, len(per)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def paired_test(scores: pd.DataFrame, methods: tuple[str, str]) -> dict:
    """Wilcoxon signed-rank test (two-sided) between two methods on per-rater mean scores.

    Pairs are the raters who answered items of both methods; ``d_r = mean_r(m1) − mean_r(m2)``.
    Returns ``pairs``, ``statistic`` and ``p_value`` (:func:`cameval.metrics.stats.wilcoxon_test`:
    NaN with no pair, or when every d_r is 0).
    """
    per = scores.groupby(["rater", "method"])["score"].mean().unstack("method")
    if not all(m in per.columns for m in methods):
        return {"pairs": 0, "statistic": float("nan"), "p_value": float("nan")}
    per = per[list(methods)].dropna()
    statistic, p = wilcoxon_test(per[methods[0]].to_numpy(), per[methods[1]].to_numpy())
    return {"pairs": len(per), "statistic": statistic, "p_value": p}


SUMMARY_COLUMNS = [
    "method",
    "raters",
    "items",
    "answers",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "test",
    "pairs",
    "statistic",
    "p_value",
    "rater_mean",
    "rater_ci_low",
    "rater_ci_high",
    "p_vs_zero",
]


def summarize(
    scores: pd.DataFrame, methods: tuple[str, ...] | None = None, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Per method: raters, items, answers, mean, std (ddof = 1), 95 % rater-clustered bootstrap
    interval, and the paired Wilcoxon test between the first two methods (same on both rows);
    and on per-rater mean scores (each rater once): their mean, its bootstrap interval over raters
    and the Wilcoxon signed-rank test against 0 (``p_vs_zero``: do raters favour ``better``?).

    ``methods``: the order of the rows (default: as they first appear in ``scores``).
    """
    methods = tuple(methods) if methods is not None else tuple(dict.fromkeys(scores["method"]))
    test = (
        paired_test(scores, methods[:2])
        if len(methods) >= 2
        else {"pairs": 0, "statistic": float("nan"), "p_value": float("nan")}
    )
    rows = []
    for m in methods:
        s = scores[scores["method"] == m]
        low, high = clustered_bootstrap_ci(s, n_boot=n_boot, seed=seed)
        per_rater = s.groupby("rater")["score"].mean().to_numpy(float)
        vs0 = paired_compare(per_rater, None, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "rater_mean": vs0["mean"],
                "rater_ci_low": vs0["low"],
                "rater_ci_high": vs0["high"],
                "p_vs_zero": vs0["p_value"],
                "method": m,
                "raters": s["rater"].nunique(),
                "items": s["item"].nunique(),
                "answers": len(s),
                "mean": float(s["score"].mean()) if len(s) else float("nan"),
                "std": float(s["score"].std(ddof=1)) if len(s) > 1 else float("nan"),
                "ci_low": low,
                "ci_high": high,
                "test": f"Wilcoxon signed-rank, per-rater means, {methods[0]} vs {methods[1]}"
                if len(methods) >= 2
                else "",
                **test,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def table4(
    answer_files: list[str | os.PathLike],
    key_csv: str | os.PathLike,
    better: str,
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Table 4 from the answer files: ``(full, display, awaiting)``.

    With no answer file the table keeps one row per method of the key with empty numbers and
    ``status = awaiting answers`` (nothing is invented). ``reference[method] = {mean, std}``
    (the study's values) stand in their own columns.
    """
    reference = reference or {}
    key = read_key(key_csv)
    methods = tuple(dict.fromkeys(key["method"]))
    if answer_files:
        scores = pd.concat([score_answers(f, key_csv, better=better) for f in answer_files], ignore_index=True)
        dup = scores.duplicated(["rater", "item"])
        if dup.any():
            raise DataError(
                f"{list(map(str, answer_files))}: raters {sorted(set(scores.loc[dup, 'rater']))} "
                "appear in more than one answers file"
            )
        full = summarize(scores, methods, n_boot=n_boot, seed=seed)
        full["status"] = "answered"
    else:
        full = pd.DataFrame({c: [np.nan] * len(methods) for c in SUMMARY_COLUMNS})
        full["method"] = list(methods)
        full["status"] = "awaiting answers"
    full["study_mean"] = [reference.get(m, {}).get("mean") for m in full["method"]]
    full["study_std"] = [reference.get(m, {}).get("std") for m in full["method"]]
    display = []
    for _, r in full.iterrows():
        shown = {"method": METHOD_NAMES.get(r["method"], r["method"])}
        if answer_files:
            shown.update(
                {
                    "raters": int(r["raters"]),
                    "answers": int(r["answers"]),
                    "mean ± std [95 % CI]": f"{fmt(r['mean'])} ± {fmt(r['std'])} "
                    f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                    "Wilcoxon p": fmt(r["p_value"], 3),
                    "per-rater mean vs 0 [95 % CI], p": f"{fmt(r['rater_mean'])} [{fmt(r['rater_ci_low'])}, "
                    f"{fmt(r['rater_ci_high'])}], {fmt(r['p_vs_zero'], 3)}",
                }
            )
        else:
            shown["ours"] = "awaiting answers"
        if reference:
            shown["study mean ± std"] = f"{fmt(r['study_mean'], 4)} ± {fmt(r['study_std'], 4)}"
        display.append(shown)
    return full, pd.DataFrame(display), not answer_files


# --- the kit: stimuli, key and the survey page ------------------------------------------------------


def class_names(dataset: dict, num_classes: int) -> list[str]:
    """Names raters see: the dataset's (:func:`cameval.data.classes.class_names`), else ``digit k``."""
    return dataset_class_names(dataset) or [f"digit {k}" for k in range(num_classes)]


def sample_images(correct: list[str], n_images: int, seed: int) -> list[str]:
    """A seeded random sample (without replacement, in pool order) of ``n_images`` ids out of
    ``correct``; all of them, with a warning, when fewer are available."""
    if not correct:
        raise DataError(
            "user study: no image of the pool is classified correctly by both models "
            "(expected at least one; enlarge table4.pool)"
        )
    if len(correct) < n_images:
        log.warning(
            "user study: only %d images of the pool are classified correctly by both models, %d asked",
            len(correct),
            n_images,
        )
        n_images = len(correct)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(correct), size=n_images, replace=False))
    return [correct[i] for i in pick]


def _load_maps(
    gbp_files: list[str],
    cam_files: list[str],
    pool: int,
    expected: dict | None = None,
    expect: dict[str, Expect] | None = None,
    made_by: list | None = None,
) -> dict:
    """Per image id of the first ``pool`` images: label, top-1 class, Guided Backprop [C,H,W] and
    the top-1 Grad-CAM [h,w] read from the cached shards, after checking that each set of shards
    covers its rows once (``expected["gbp"]``, ``expected["cam"]``: the rows the config implies)
    and was made from what ``expect["gbp"]``, ``expect["cam"]`` say (:class:`cameval.store.Expect`).
    ``made_by``: where given, each shard's digests (model, manifest rows, spec) are appended to it."""
    expected, expect = expected or {}, expect or {}
    check_shards(gbp_files, expected.get("gbp"), expect.get("gbp"))
    check_shards(cam_files, expected.get("cam"), expect.get("cam"))
    if made_by is not None:
        for f in (*gbp_files, *cam_files):
            with Shard(f) as s:
                made_by.append([s.attrs.get(k, "") for k in ("model_digest", "manifest_digest", "spec_digest")])
    out: dict = {}
    for f in gbp_files:
        with Shard(f) as s:
            for i, image_id in enumerate(s.ids):
                if len(out) < pool:
                    out[image_id] = {"label": int(s.labels[i]), "top1": int(s.targets[i, 0]), "gbp": s.maps[i, 0]}
    cams: dict = {}
    for f in cam_files:
        with Shard(f) as s:
            for i, image_id in enumerate(s.ids):
                if image_id in out and image_id not in cams:
                    if int(s.targets[i, 0]) != out[image_id]["top1"]:
                        raise DataError(
                            f"{f}: image {image_id}: Grad-CAM's first target {int(s.targets[i, 0])} is not "
                            f"the top-1 class {out[image_id]['top1']} of the Guided Backprop shard"
                        )
                    cams[image_id] = s.maps[i, 0]
    lost = [i for i in out if i not in cams]
    if lost:
        raise DataError(f"{cam_files}: no Grad-CAM for images {lost[:3]} (expected shards covering the pool)")
    for image_id, rec in out.items():
        rec["cam"] = cams[image_id]
    return out


def _png(rgb: np.ndarray, size: int) -> bytes:
    """RGB [H, W, 3] in [0, 1] or uint8 as PNG bytes, the longer side scaled to ``size`` px."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    scale = size / max(im.size)
    im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def build_kit(
    gbp: dict[str, list[str]],
    gradcam: dict[str, list[str]],
    images: str,
    manifest: str,
    names: list[str],
    better: str,
    n_images: int,
    pool: int,
    methods: list[str],
    seed: int,
    key_path: str | os.PathLike,
    html_path: str | os.PathLike,
    question: str,
    title: str = "Which agent seems more reasonable?",
    size: int = 224,
    require_correct: bool = True,
    expected: dict | None = None,
    expect: dict[str, dict[str, Expect]] | None = None,
) -> pd.DataFrame:
    """Build the blinded kit from cached maps; write ``key_path`` and ``html_path``; return the key.

    ``gbp[model]`` / ``gradcam[model]``: the Guided Backprop and Grad-CAM shards covering the first
    ``pool`` evaluation images of each of the two models. Stimuli: a seeded random sample of
    ``n_images`` of the pool images both models classify correctly (top-1 = label); per image and
    method an item (``guided_backprop``: the gradient; ``guided_gradcam``: gradient × upsampled
    Grad-CAM, both shown as ``0.5 + 0.1 · (g − mean) / std``); agent A is each item's model drawn
    at random (seeded). ``require_correct=False`` (smoke tests only: barely trained models are right
    on almost no image) draws from every pool image and shows the label as the class.
    ``expected``: rows each model's Guided Backprop (``gbp``) and Grad-CAM (``cam``) shards hold;
    ``expect[model]["gbp"]``, ``expect[model]["cam"]``: what they must have been made from
    (:class:`cameval.store.Expect`). The kit's id covers the key, every picture and the digests
    (model file, manifest rows, spec) of every shard it was made from.
    """
    # torch here only: the table job of this module starts without it
    import torch  # noqa: PLC0415

    from cameval.explain.guided import combine_guided_gradcam  # noqa: PLC0415

    models = list(gbp)
    if len(models) != 2 or better not in models:
        raise DataError(f"user study: needs exactly two models with better={better!r} among them, got {models}")
    made_by: list = []
    maps = {m: _load_maps(gbp[m], gradcam[m], pool, expected, (expect or {}).get(m), made_by) for m in models}
    ids = [i for i in maps[models[0]] if i in maps[models[1]]]
    correct = [i for i in ids if all(maps[m][i]["top1"] == maps[m][i]["label"] for m in models)]
    log.info("user study: %d of %d pool images classified correctly by both %s", len(correct), len(ids), models)
    if not require_correct:
        log.warning("user study: require_correct is false: drawing from all %d pool images (smoke test only)", len(ids))
        correct = ids
    chosen = sample_images(correct, n_images, seed)
    rng = np.random.default_rng(seed + 1)
    index = read_manifest(manifest).set_index("id")["index"]
    pictures, items, key = {}, [], []
    with ImageSet(images) as imgs:
        for n, image_id in enumerate(chosen):
            pictures[f"img{n}"] = _png(imgs.uint8(np.array([index[image_id]]))[0], size)
            label = maps[models[0]][image_id]["label"]
            for method in methods:
                shown = {}
                for m in models:
                    g = torch.as_tensor(np.asarray(maps[m][image_id]["gbp"]))
                    if method == "guided_gradcam":
                        g = combine_guided_gradcam(
                            g[None], torch.as_tensor(np.asarray(maps[m][image_id]["cam"]))[None]
                        )[0]
                    elif method != "guided_backprop":
                        raise DataError(f"table4.methods: {method!r} (expected guided_backprop or guided_gradcam)")
                    shown[m] = _png(deprocess_gradient(g.numpy()), size)
                a, b = models if rng.random() < 0.5 else models[::-1]
                item = f"item{len(key) + 1:02d}"
                key.append(
                    {
                        "item": item,
                        "method": method,
                        "class": names[label],
                        "agent_a": a,
                        "agent_b": b,
                        "image_id": image_id,
                    }
                )
                items.append({"id": item, "image": f"img{n}", "class": names[label], "a": shown[a], "b": shown[b]})
    key_df = pd.DataFrame(key, columns=[*KEY_COLUMNS, "image_id"])
    # the kit's id: its key and every picture raters see; the page writes it into every exported row
    digest = hashlib.sha1(key_df.to_csv(index=False).encode())
    for it in items:
        digest.update(it["a"] + it["b"])
    for name in sorted(pictures):
        digest.update(pictures[name])
    digest.update(json.dumps(made_by).encode())
    key_df["kit"] = survey_id = digest.hexdigest()[:12]
    write_csv(key_df, key_path)
    render_survey(items, pictures, html_path, question=question, answers=ANSWERS, title=title, survey_id=survey_id)
    return key_df


# --- the claims ---------------------------------------------------------------------------------


def claim_user_study_not_significant(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        f"Wilcoxon signed-rank test between the methods on per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(no significant difference: holds), p < α (does not hold)"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    p = float(t["p_value"].iloc[0])
    numbers = (
        "; ".join(
            f"{r['method']}: mean {r['mean']:.2f} ± {r['std']:.2f} ({int(r['raters'])} raters)" for _, r in t.iterrows()
        )
        + f"; p = {p:.3g}"
    )
    if math.isnan(p):
        return Verdict(UNDECIDED, numbers, criterion)
    return Verdict(HOLDS if p >= ctx.alpha else FAILS, numbers, criterion)


def study_user_study_not_significant(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = study["table4"]
    r = t[(t["kind"] == "paired")].iloc[0]
    p = float(r["p_value"])
    return Verdict(
        HOLDS if p >= ctx.alpha else FAILS,
        f"Guided Grad-CAM − Guided Backprop on per-rater mean scores: Δ {r['mean']:.4f} "
        f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}], p = {p:.3g} ({int(r['n'])} raters)",
        f"Wilcoxon signed-rank test on the study's 36 raters' per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(holds), p < α (does not hold)",
    )


def claim_user_study_favours_better(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        "with each method, raters' per-rater mean scores (positive: the more accurate model judged more "
        f"reasonable) tested against 0: Wilcoxon signed-rank p < {ctx.alpha:g} with the 95 % interval over "
        "raters above 0 (holds) or below 0 (does not hold), else undecided; every method"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    if "p_vs_zero" not in t:
        return Verdict("not evaluated (Table 4 lacks the test against 0)", "", criterion)
    parts, numbers = [], []
    for _, r in t.iterrows():
        parts.append(paired_verdict(r["rater_mean"], r["rater_ci_low"], r["rater_ci_high"], r["p_vs_zero"], ctx.alpha))
        numbers.append(
            f"{r['method']}: per-rater mean {r['rater_mean']:.2f} [{r['rater_ci_low']:.2f}, "
            f"{r['rater_ci_high']:.2f}], p = {r['p_vs_zero']:.3g} ({int(r['raters'])} raters)"
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def study_user_study_favours_better(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    parts, numbers = [], []
    for m in ("guided_gradcam", "guided_backprop"):
        v, text = study_pair(study["table4"], m, None, ctx.alpha)
        parts.append(v)
        numbers.append(text)
    return Verdict(
        combine(parts),
        "; ".join(numbers),
        "with each method, the study's raters' per-rater mean scores (positive: VGG-16 judged more "
        "reasonable) against 0, " + PAIRED_CRITERION.format(unit="raters", alpha=ctx.alpha),
    )


def title(awaiting: bool) -> str:
    return "Table 4 — user study (blinded, randomized)" + (" — awaiting answers" if awaiting else "")


def notes(better: str, awaiting: bool) -> list[str]:
    """What Table 4 computed (``better``: the more accurate model)."""
    notes = [
        f"Score in -2..2 per answer, positive when the rater judged {better} (the more accurate model) more "
        "reasonable.",
        "Mean and standard deviation (ddof = 1) over all answers; 95 % bootstrap interval resampling raters; "
        "Wilcoxon signed-rank test (two-sided) between the methods on per-rater mean scores.",
    ]
    if awaiting:
        notes.insert(
            0, "Awaiting answers: no answers file is listed in table4.answers; the kit is in results/user_study/."
        )
    return notes


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
                f"table4.answers: no file {f} (expected a CSV exported by results/user_study/survey.html)"
            )


CLAIMS = (
    Claim(
        "user-study-not-significant",
        "In the user study the difference between Guided Backprop and Guided Grad-CAM is not significant.",
        "Table 4, App. D",
        ("table4",),
        claim_user_study_not_significant,
        on_study=study_user_study_not_significant,
    ),
    Claim(
        "user-study-favours-better",
        "With either method, raters judge the more accurate model (VGG-16) more reasonable.",
        "Table 4",
        ("table4",),
        claim_user_study_favours_better,
        on_study=study_user_study_favours_better,
    ),
)

EXPERIMENT = Experiment(
    name="userstudy",
    order=4,
    title="Table 4 / App. D — user study",
    section="table4",
    targets=lambda config: ["results/user_study/survey.html", "results/user_study/key.csv", *table_files("table4")],
    heatmaps=lambda config: model_sets(
        config, "table4", [config["table4"]["guided_backprop"], config["table4"]["gradcam"]]
    ),
    tables=("table4",),
    claims=CLAIMS,
    check=check,
)
