"""Reliability suite: bad configs and params, damaged images, manifests, shards and checkpoints,
crashes mid-write, a full disk, failed jobs, and the documented command lines.

Each case provokes one failure and checks that it ends in cameval's error naming the file or key,
with nothing half-written left behind. What the user sees and what is left on disk are recorded;
when every case has run (``make test``), the table in ``docs/reliability.md`` is written from
those records, so the page shows what the suite measured.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import background
from background import long_run
from cameval.errors import DataError, WriteError
from conftest import TINY, TINY_CONFIG, clone, edited_tiny_dry_runs, outputs, snakemake_at

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"

#: case -> (area, how it is provoked). docs/reliability.md lists them in this order.
CASES = {
    "param_unknown": ("config", "`heatmaps.occlusion3.params: {strid: 2}` (a misspelled parameter)"),
    "param_missing": ("config", "`heatmaps.occlusion3.params` without `patch`"),
    "param_type": ("config", '`heatmaps.occlusion3.params.stride: "2"` (a string)'),
    "shard_size_negative": ("config", "`heatmaps.gradcam.shard_size: -1`"),
    "method_unknown": ("config", "`heatmaps.gradcam.method: gradcam3`"),
    "key_twice": ("config", "`answers: [...]` written again below the shipped `table4.answers: []`"),
    "seed_twice": ("config", "a second `seed:` at the end of the file"),
    "targets_classes": ("config", "`heatmaps.gradcam.targets: top50+label` with 10-class models"),
    "device_cuda": ("config", "`device: cuda` on a machine without a GPU (a local run, not a dry-run)"),
    "seed_negative": ("config", "`seed: -1`"),
    "eval_split_unknown": ("config", "`datasets.digits-loc.eval_split: tset`"),
    "images_per_model": ("config", "`table7.images: {mnist_net: 100}` without the other model"),
    "role_method": ("config", "`table4.guided_backprop: gradcam` (a Grad-CAM set in the Guided Backprop role)"),
    "model_dataset": ("config", "`table5.models: [A, vgg]` (vgg is trained on digits-loc, not digits-multi)"),
    "road_percentage": ("config", "`deletion.percentages: [20, 100]` (a percentage outside (0, 100))"),
    "deletion_step": ("config", "`deletion.step: 0` (a step below 1)"),
    "sanity_mode": ("config", "`sanity.modes: [cascade]` (an unknown randomization mode)"),
    "sanity_measure": ("config", "`sanity.measures: [pearson]` (an unknown similarity measure)"),
    "hog_cell": ("config", "`sanity.hog_cell: 24` on 32 px maps (a HOG cell larger than two cells a side allow)"),
    "sanity_set": ("config", "`sanity.methods: [gradcam, smoothgrad]` (a set the config's heatmaps lack)"),
    "deletion_model": ("config", "`deletion.models: [vgg, vgg19]` (a model the config lacks)"),
    "shuffled_twin": (
        "config",
        "`sanity.shuffled: {vgg: googlenet}` (not a shuffled-label model of vgg's architecture)",
    ),
    "twin_subset": (
        "config",
        "`models.vgg_shuffled.train.subset: 301` on tiny's 300 training images (a subset above the train split)",
    ),
    "answers_trailing_comma": ("answers", "one rater's row of `answers.csv` with a trailing comma (`sed '2s/$/,/'`)"),
    "answers_extra_field": ("answers", "a row with one field more than the header, in the middle of the file"),
    "answers_empty": ("answers", "an empty `answers.csv`"),
    "key_empty": ("answers", "an empty `key.csv`"),
    "answers_utf16": ("answers", "`answers.csv` saved as UTF-16 (decoded: scored as the UTF-8 file)"),
    "answers_cp1252": ("answers", "`answers.csv` saved as cp1252 (a rater id `José`)"),
    "answers_other_kit": ("answers", "answers exported by a kit rebuilt since (`table4.pool: 100`: another `kit` id)"),
    "answers_unknown": ("answers", "an answer that is not one of the five"),
    "export_questions": ("answers", "the survey tool's raw export with a question column less than its key"),
    "rows_deleted_eval": ("manifest", "3 rows of the evaluation split deleted from `manifest.csv`"),
    "rows_deleted_train": ("manifest", "3 rows of the train split deleted from `manifest.csv`"),
    "box_outside": ("manifest", "box `[8, 40, 40, 60, 60]` on a 32 px image"),
    "box_negative": ("manifest", "box `[3, -2, 5, 10, 12]` (negative coordinate)"),
    "box_reversed": ("manifest", "box `[3, 20, 5, 10, 12]` (x0 > x1)"),
    "id_duplicate": ("manifest", "two rows with the same id"),
    "split_unknown": ("manifest", "a row with split `tset`"),
    "label_range": ("manifest", "label 12 for a 10-class model"),
    "xml_box_reversed": ("images", "an ILSVRC XML box with `xmin > xmax`"),
    "images_chunk": ("images", "one gzip chunk of `images.h5` overwritten with junk"),
    "images_truncated": ("images", "`images.h5` cut to half its size"),
    "shard_nan_write": ("shard", "a NaN in the maps handed to `write_shard`"),
    "shard_nan_read": ("shard", "a NaN written into a shard's maps on disk"),
    "shard_rows": ("shard", "a shard whose `rows` attribute disagrees with its contents"),
    "shard_chunk": ("shard", "one chunk of a shard's maps overwritten with junk"),
    "shard_stale": ("shard", "a stale 8-row `shard-0.h5` beside new shards of `shard_size: 4` (Table 1's reader)"),
    "ckpt_pickle": ("checkpoint", "a `.pt` whose payload runs code when unpickled"),
    "ckpt_layout": ("checkpoint", "small_alexnet's state dict loaded into small_vgg"),
    "ckpt_shapes": ("checkpoint", "a 5-class small_vgg loaded as a 10-class one"),
    "ckpt_not_safetensors": ("checkpoint", "a text file named `model.safetensors`"),
    "kill_mid_write": ("crash", "`kill -9` of a writer half-way through `images.h5`, then the writer again"),
    "disk_full_csv": ("disk full", "`No space left on device` half-way through a CSV"),
    "disk_full_shard": ("disk full", "`No space left on device` half-way through a heatmap shard"),
    "disk_full_weights": ("disk full", "`No space left on device` half-way through a safetensors file"),
    "script_exception": ("logs", "a script that raises after `setup_logging(log)`"),
    "e2e_failed_job": ("workflow", "tiny run, then 3 rows deleted from `manifest.csv` and the run repeated"),
    "e2e_kill9": (
        "workflow",
        "`kill -9` of Snakemake and its job mid-run (Table 3's jobs), `--unlock`, then the same command",
    ),
    "e2e_report": (
        "workflow",
        "`snakemake --cores 2 all --configfile tests/configs/tiny.yaml --report results/report.html`",
    ),
}
SEEN: dict[str, tuple[str, str]] = {}


def _normalize(text: str, base: Path | None) -> str:
    if base is not None:
        text = text.replace(str(base), "<tmp>")
    text = text.replace(str(ROOT), ".")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # terminal colours
    text = re.sub(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/[^/\s]+", "<tmp>", text)
    text = re.sub(r"\.[A-Za-z0-9_]{8}\.tmp\b", ".*.tmp", text)  # mkstemp's random part
    return text


def record(case: str, seen: str, left: str, base: Path | None = None) -> None:
    """Keep what the user saw (first line of the message) and what was left on disk for ``case``."""
    assert case in CASES, case
    first = _normalize(str(seen).strip().splitlines()[0] if str(seen).strip() else "(nothing)", base)
    if len(first) > 260:
        first = first[:257] + "..."
    SEEN[case] = (first, _normalize(left, base))


def new_files(folder: Path, before: set[str]) -> list[str]:
    """Files under ``folder`` that were not in ``before`` (relative paths)."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and str(p.relative_to(folder)) not in before
    )


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*.tmp"))


def describe_left(folder: Path, before: set[str]) -> str:
    left = new_files(folder, before)
    return "nothing new" if not left else ", ".join(f"`{f}`" for f in left)


def write_table(seen: dict[str, tuple[str, str]]) -> bool:
    """docs/reliability.md from the records of every case (tests/conftest.py calls it at the session's
    end with :data:`SEEN`); False (nothing written) while one is missing."""
    if set(CASES) - set(seen):
        return False
    from cameval.io import write_text

    lines = [
        "# Reliability",
        "",
        "What happens when inputs are damaged, a config is wrong, a job is killed or the disk fills up.",
        "Each row is one case of `tests/test_reliability.py`; the last two columns are what the suite",
        "measured on its last complete run (`make test`), written here by the suite itself: the first",
        "line of the message the user sees, and the files left behind besides the inputs (`<tmp>` is the",
        "test's scratch folder). Every case ends in cameval's own error (`ConfigError`, `DataError`,",
        "`WriteError`) naming the file or config key, before anything half-written can remain.",
        "",
        "| area | case | what the user sees | left on disk |",
        "|---|---|---|---|",
    ]
    for case, (area, how) in CASES.items():
        message, left = seen[case]
        lines.append(f"| {area} | {how} | {message.replace('|', '/')} | {left.replace('|', '/')} |")
    lines += [
        "",
        "Conventions behind these rows (see `docs/architecture.md`): the config and every method's",
        "parameters are checked when the workflow is parsed; every reader checks what it reads",
        "(`cameval.data.images.read_manifest` / `check_manifest`, `ImageSet`, `cameval.store.Shard`,",
        "`cameval.models.read_state_dict` / `load_model`); every output is written to a temporary beside",
        "it and renamed when complete (`cameval.io.atomic_path`), and a temporary left by a killed job is",
        "removed by the next job that writes the same output; `cameval.logs.setup_logging` writes an",
        "uncaught exception, with its traceback, to the job's log.",
        "",
    ]
    write_text("\n".join(lines), DOC)
    return True


# --- small inputs in the real formats ------------------------------------------------------------

N_TEST = 8


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny digits image set (32 px; 12/6/8 images) and a random 10-class small_vgg."""
    from cameval.data.digits import make_digits_loc
    from cameval.models import build_model
    from cameval.models.registry import save_model

    root = tmp_path_factory.mktemp("source")
    make_digits_loc(
        root / "images.h5",
        root / "manifest.csv",
        size=32,
        counts={"train": 12, "val": 6, "test": N_TEST},
        clutter=1,
        seed=0,
    )
    torch.manual_seed(0)
    save_model(
        build_model("small_vgg", num_classes=10), root / "model.safetensors", "small_vgg", build={"num_classes": 10}
    )
    return root


@pytest.fixture
def data(source, tmp_path):
    """A private copy of the source files in ``tmp_path / "in"``; outputs go to ``tmp_path / "out"``."""
    d = tmp_path / "in"
    shutil.copytree(source, d)
    (tmp_path / "out").mkdir()
    return {
        "root": tmp_path,
        "images": d / "images.h5",
        "manifest": d / "manifest.csv",
        "weights": d / "model.safetensors",
        "out": tmp_path / "out",
    }


def shard_of(data, expected=N_TEST):
    from cameval.heatmaps import compute_shard

    out = data["out"] / "shard-0.h5"
    compute_shard(
        str(data["weights"]),
        str(data["images"]),
        str(data["manifest"]),
        str(out),
        split="test",
        start=0,
        stop=N_TEST,
        method="gradcam",
        targets="top1",
        batch_size=8,
        progress=False,
        expected=expected,
    )
    return out


def edit_manifest(path: Path, edit) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = edit(df)
    df.to_csv(path, index=False)


def first_row(df: pd.DataFrame, split: str) -> int:
    return int(np.flatnonzero(df["split"].to_numpy() == split)[0])


def expect_shard_error(data, case: str, match: str, expected=N_TEST):
    before = files_of(data["root"])
    with pytest.raises(DataError, match=match) as err:
        shard_of(data, expected)
    assert str(data["manifest"]) in str(err.value) or str(data["images"]) in str(err.value)
    assert not (data["out"] / "shard-0.h5").exists() and not temporaries(data["root"])
    record(case, err.value, describe_left(data["root"], before), data["root"])


def test_undamaged_inputs_give_a_shard(data):
    from cameval.store import Shard

    with Shard(shard_of(data)) as s:
        assert len(s) == N_TEST and np.isfinite(s.maps[:]).all()


# --- config: checked at parse time, naming the key -----------------------------------------------


def error_line(output: str, marker: str) -> str:
    """The first output line that mentions ``marker`` (the error the user reads)."""
    for line in output.splitlines():
        if marker in line and not line.lstrip().startswith("File "):
            return line.strip()
    return output.strip().splitlines()[-1] if output.strip() else ""


#: the bad configs: (case, an edit of the tiny config, what the error must say)
BAD_CONFIGS = [
    (
        "param_unknown",
        lambda c: c["heatmaps"]["occlusion3"]["params"].update(strid=2),
        "heatmaps.occlusion3.params: occlusion takes no parameter 'strid'",
    ),
    (
        "param_missing",
        lambda c: c["heatmaps"]["occlusion3"]["params"].pop("patch"),
        "heatmaps.occlusion3.params: occlusion needs 'patch'",
    ),
    (
        "param_type",
        lambda c: c["heatmaps"]["occlusion3"]["params"].update(stride="2"),
        "heatmaps.occlusion3.params.stride: expected an integer",
    ),
    ("shard_size_negative", lambda c: c["heatmaps"]["gradcam"].update(shard_size=-1), "shard_size"),
    ("method_unknown", lambda c: c["heatmaps"]["gradcam"].update(method="gradcam3"), "gradcam3"),
    (
        "targets_classes",
        lambda c: c["heatmaps"]["gradcam"].update(targets="top50+label"),
        "heatmaps.gradcam.targets: 'top50+label' asks for the top 50 classes, but model vgg (figure1) has 10",
    ),
    ("seed_negative", lambda c: c.update(seed=-1), "schema['properties']['seed']"),
    (
        "eval_split_unknown",
        lambda c: c["datasets"]["digits-loc"].update(eval_split="tset"),
        "datasets.digits-loc.eval_split: 'tset' is not a split",
    ),
    (
        "images_per_model",
        lambda c: c["table7"].update(images={"mnist_net": 100}),
        "table7.images: {'mnist_net': 100} has no number for ['googlenet']",
    ),
    (
        "role_method",
        lambda c: c["table4"].update(guided_backprop="gradcam"),
        "table4.guided_backprop: heatmaps.gradcam has method gradcam (expected a set of method guided_backprop)",
    ),
    (
        "model_dataset",
        lambda c: c["table5"].update(models=["A", "vgg"]),
        "table5.models: vgg is trained on digits-loc, not on table5.dataset digits-multi",
    ),
    (
        "road_percentage",
        lambda c: c["deletion"].update(percentages=[20, 100]),
        "['deletion']['properties']['percentages']",
    ),
    ("deletion_step", lambda c: c["deletion"].update(step=0), "['deletion']['properties']['step']"),
    ("sanity_mode", lambda c: c["sanity"].update(modes=["cascade"]), "['sanity']['properties']['modes']"),
    ("sanity_measure", lambda c: c["sanity"].update(measures=["pearson"]), "['sanity']['properties']['measures']"),
    ("hog_cell", lambda c: c["sanity"].update(hog_cell=24), "sanity.hog_cell: 24 px is larger than the maps allow"),
    (
        "sanity_set",
        lambda c: c["sanity"].update(methods=["gradcam", "smoothgrad"]),
        "sanity.methods: 'smoothgrad' is not defined",
    ),
    (
        "deletion_model",
        lambda c: c["deletion"].update(models=["vgg", "vgg19"]),
        "deletion.models: 'vgg19' is not defined",
    ),
    (
        "shuffled_twin",
        lambda c: c["sanity"].update(shuffled={"vgg": "googlenet"}),
        "sanity.shuffled.vgg: googlenet: models.googlenet is not trained here with train.shuffle_labels: true",
    ),
    (
        "twin_subset",
        lambda c: c["models"]["vgg_shuffled"]["train"].update(subset=301),
        "models.vgg_shuffled.train.subset: 301 is above the 300 images of datasets.digits-loc.counts.train",
    ),
]


@long_run
def bad_config_dry_runs(folder: Path) -> dict[str, tuple]:
    """Each of ``BAD_CONFIGS`` dry-run from the repository root (``conftest.edited_tiny_dry_runs``), in
    the background: 11 parses of seconds each that need not hold up the other tests."""
    return edited_tiny_dry_runs(folder, {case: edit for case, edit, _ in BAD_CONFIGS})


@pytest.mark.workflow
@pytest.mark.long_run("bad_config_dry_runs")
@pytest.mark.parametrize("case, edit, key", BAD_CONFIGS)
def test_bad_config_stops_the_dry_run_naming_the_key(case, edit, key):
    proc, folder = background.result("bad_config_dry_runs")[case]
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and key in out
    assert "Job stats" not in out  # stopped before planning a single job
    record(case, error_line(out, key), "nothing (stopped at parse time)", folder)


@pytest.mark.workflow
@pytest.mark.parametrize(
    "case, edit",
    [
        (
            "key_twice",
            lambda text: re.sub(
                r"^(  answers: \[\].*)$", r"\1\n  answers: [results/user_study/answers.csv]", text, flags=re.M
            ),
        ),
        ("seed_twice", lambda text: text + "seed: 3\n"),
    ],
)
def test_a_key_given_twice_stops_the_dry_run_naming_the_file_key_and_lines(tmp_path, case, edit):
    text = (ROOT / "config/config.yaml").read_text()
    path = tmp_path / "twice.yaml"
    path.write_text(edit(text))
    assert path.read_text() != text
    proc = snakemake_at(ROOT, "-n", "--cores", "2", "all", "--configfile", str(path))
    out = proc.stdout + proc.stderr
    seed_line = text.splitlines().index("seed: 0") + 1
    key = {
        "key_twice": "key table4.answers is given twice",
        "seed_twice": f"key seed is given twice, on lines {seed_line} and",
    }
    assert proc.returncode != 0 and f"{path}: {key[case]}" in out and "Job stats" not in out
    record(case, error_line(out, key[case]), "nothing (stopped at parse time)", tmp_path)


@pytest.mark.workflow
def test_cuda_without_a_gpu_stops_a_local_run_at_parse_time(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    root = clone(tmp_path / "cameval")
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["device"] = "cuda"
    (tmp_path / "cuda.yaml").write_text(yaml.safe_dump(cfg))
    before = files_of(root)
    proc = snakemake_at(root, "--cores", "1", "all", "--configfile", str(tmp_path / "cuda.yaml"))
    out = proc.stdout + proc.stderr
    key = "device: cuda, but torch sees no CUDA GPU"
    assert proc.returncode != 0 and key in out and "set `device: cpu`" in out
    left = [
        f for f in new_files(root, before) if not f.startswith(".snakemake/") and "__pycache__/" not in f
    ]  # Python's bytecode caches: not outputs
    assert left == [] and not (root / "resources/data").exists()
    record(
        "device_cuda", error_line(out, key), "nothing (stopped at parse time; Snakemake's own `.snakemake/`)", tmp_path
    )


# --- manifests ------------------------------------------------------------------------------------

# --- answer files of the user study -----------------------------------------------------------------

ANSWER = "Both agents seem equally reasonable"


@pytest.fixture
def answer_files(tmp_path):
    """A key of kit `k1` with four items and a two-rater export of that kit, as the survey page writes it."""
    key = tmp_path / "key.csv"
    key.write_text(
        "item,method,class,agent_a,agent_b,kit\n"
        + "".join(
            f"item0{i},{m},digit {i},vgg,alexnet,k1\n"
            for i, m in enumerate(["guided_backprop", "guided_backprop", "guided_gradcam", "guided_gradcam"], start=1)
        )
    )
    text = "rater,kit,item01,item02,item03,item04\n" + "".join(
        f"r{r},k1,{ANSWER},{ANSWER},{ANSWER},{ANSWER}\n" for r in (1, 2)
    )
    return key, text


@pytest.mark.parametrize(
    "case, edit, match",
    [
        (
            "answers_trailing_comma",
            lambda t: t.replace("\n", ",\n", 2).replace(",\n", "\n", 1),
            "line 2 has 7 fields, the header has 6",
        ),
        ("answers_extra_field", lambda t: t.replace("r1,k1,", "r1,k1,x,"), "line 2 has 7 fields, the header has 6"),
        ("answers_empty", lambda t: "", "empty file"),
        ("answers_other_kit", lambda t: t.replace(",k1,", ",k2,"), "answers of kit 'k2', but"),
        ("answers_unknown", lambda t: t.replace(ANSWER, "Agent A is better", 1), "unknown answer 'Agent A is better'"),
    ],
)
def test_a_malformed_answers_file_stops_table4_naming_file_and_line(tmp_path, answer_files, case, edit, match):
    from cameval.experiments import userstudy

    key, text = answer_files
    path = tmp_path / "answers.csv"
    path.write_text(edit(text))
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=re.escape(match)) as err:
        userstudy.table4([path], key, better="vgg")
    record(case, err.value, describe_left(tmp_path, before), tmp_path)


def test_an_empty_key_stops_table4_naming_it(tmp_path, answer_files):
    from cameval.experiments import userstudy

    _, text = answer_files
    (tmp_path / "answers.csv").write_text(text)
    (tmp_path / "key.csv").write_text("")
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"key.csv: empty file") as err:
        userstudy.table4([tmp_path / "answers.csv"], tmp_path / "key.csv", better="vgg")
    record("key_empty", err.value, describe_left(tmp_path, before), tmp_path)


def test_utf16_answers_are_decoded_and_cp1252_ones_refused_by_name(tmp_path, answer_files):
    from cameval.experiments import userstudy

    key, text = answer_files
    plain, utf16, cp = tmp_path / "plain.csv", tmp_path / "answers16.csv", tmp_path / "answers.csv"
    plain.write_text(text)
    utf16.write_bytes(text.encode("utf-16"))
    pd.testing.assert_frame_equal(userstudy.score_answers(utf16, key), userstudy.score_answers(plain, key))
    record("answers_utf16", "scored as the UTF-8 file (no error)", "nothing", tmp_path)
    cp.write_bytes(text.replace("r1,", "José,").encode("cp1252"))
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"answers.csv: byte \d+ is not UTF-8") as err:
        userstudy.score_answers(cp, key)
    record("answers_cp1252", err.value, describe_left(tmp_path, before), tmp_path)


def test_a_raw_export_with_a_question_less_than_its_key_is_refused(tmp_path):
    from cameval.experiments import userstudy

    study = ROOT / "resources" / "study" / "user_study"
    from openpyxl import load_workbook

    rows = [
        ["" if v is None else str(v) for v in r][:-1]
        for r in load_workbook(study / "Truthfulness of Visualization.xlsx", read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    ]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(",".join(f'"{c}"' for c in r) for r in rows) + "\n")
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"25 question columns, but .*key.csv has 26 items") as err:
        userstudy.score_survey_export(path, study / "key.csv", better="vgg")
    record("export_questions", err.value, describe_left(tmp_path, before), tmp_path)


def test_rows_deleted_from_the_evaluation_split_are_caught(data):
    def drop(df):
        rows = np.flatnonzero(df["split"].to_numpy() == "test")[:3]
        return df.drop(index=rows)

    edit_manifest(data["manifest"], drop)
    expect_shard_error(data, "rows_deleted_eval", r"5 rows with split 'test', the config says 8")


def test_rows_deleted_from_the_train_split_are_caught_before_training(data):
    from cameval.models.train import split_tensors

    edit_manifest(data["manifest"], lambda df: df.drop(index=np.flatnonzero(df["split"].to_numpy() == "train")[:3]))
    with pytest.raises(DataError, match=r"23 rows for the 26 images") as err:
        split_tensors(str(data["images"]), str(data["manifest"]), "train", 10)
    assert str(data["manifest"]) in str(err.value)
    # the heatmap job sees it too, although its own split is complete
    expect_shard_error(data, "rows_deleted_train", r"23 rows for the 26 images")


@pytest.mark.parametrize(
    "case, box, match",
    [
        ("box_outside", [8, 40, 40, 60, 60], r"reaches outside the 32x32 image \(expected x1 <= 31"),
        ("box_negative", [3, -2, 5, 10, 12], r"0 <= x0 <= x1"),
        ("box_reversed", [3, 20, 5, 10, 12], r"0 <= x0 <= x1"),
    ],
)
def test_boxes_outside_the_image_or_reversed_are_refused(data, case, box, match):
    def put(df):
        df.loc[first_row(df, "test"), "boxes"] = json.dumps([box])
        return df

    edit_manifest(data["manifest"], put)
    expect_shard_error(data, case, match)


def test_duplicate_ids_and_unknown_splits_are_refused(data):
    from cameval.data.images import read_manifest

    original = data["manifest"].read_text()

    def dup(df):
        df.loc[1, "id"] = df.loc[0, "id"]
        return df

    edit_manifest(data["manifest"], dup)
    with pytest.raises(DataError, match="duplicate ids"):
        read_manifest(data["manifest"])
    expect_shard_error(data, "id_duplicate", "duplicate ids")
    data["manifest"].write_text(original)

    def split(df):
        df.loc[first_row(df, "test"), "split"] = "tset"
        return df

    edit_manifest(data["manifest"], split)
    expect_shard_error(data, "split_unknown", r"unknown split\(s\) \['tset'\]")


def test_labels_beyond_the_models_classes_are_refused(data):
    def label(df):
        df.loc[first_row(df, "test"), "label"] = "12"
        return df

    edit_manifest(data["manifest"], label)
    expect_shard_error(data, "label_range", r"label >= 10")


# --- image sets -----------------------------------------------------------------------------------


def junk_chunk(path: Path, dataset: str, coord: tuple) -> None:
    """Overwrite the stored bytes of the chunk at ``coord`` with junk (the file stays a valid HDF5)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info_by_coord(coord)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset)
        f.write(b"\xff" * info.size)


def test_a_damaged_chunk_of_images_names_the_file(data):
    from cameval.data.images import read_manifest

    row = int(read_manifest(data["manifest"]).query("split == 'test'")["index"].iloc[0])
    junk_chunk(data["images"], "images", (row, 0, 0, 0))
    expect_shard_error(data, "images_chunk", r"images at rows .* cannot be read .*damaged")


def test_a_truncated_image_set_names_the_file(data):
    size = data["images"].stat().st_size
    with open(data["images"], "r+b") as f:
        f.truncate(size // 2)
    expect_shard_error(data, "images_truncated", r"not a readable HDF5 image set")


def test_a_reversed_box_in_an_ilsvrc_xml_stops_the_build_naming_the_xml(tiny_imagenet, tmp_path):
    from cameval.data.imagenet import build_imagenet

    xml = tmp_path / "bbox_val"
    shutil.copytree(tiny_imagenet["xml"], xml)
    one = xml / "ILSVRC2012_val_00000001.xml"
    one.write_text(one.read_text().replace("<xmin>100</xmin>", "<xmin>450</xmin>"))
    before = files_of(tmp_path)
    with pytest.raises(
        DataError,
        match=r"ILSVRC2012_val_00000001.xml: box \['n01443537', 450, 60, 399, 299\] "
        r"is reversed",
    ) as err:
        build_imagenet(
            tmp_path / "out/images.h5",
            tmp_path / "out/manifest.csv",
            tiny_imagenet["images"],
            xml,
            tiny_imagenet["synsets"],
            progress=False,
        )
    record("xml_box_reversed", err.value, describe_left(tmp_path, before), tmp_path)


# --- heatmap shards -------------------------------------------------------------------------------


def small_shard(path: Path, n: int = 4, rows=None, maps=None):
    from cameval.store import write_shard

    rng = np.random.default_rng(0)
    maps = rng.random((n, 1, 4, 4)) if maps is None else maps
    write_shard(
        path,
        ids=[f"im{i}" for i in range(n)],
        labels=np.zeros(n),
        targets=np.zeros((n, 1)),
        scores=rng.random((n, 3)),
        maps=maps,
        attrs={"rows": rows or [0, n], "method": "gradcam"},
    )
    return path


def test_non_finite_maps_are_refused_on_writing_and_on_reading(tmp_path):
    from cameval.store import Shard

    maps = np.ones((4, 1, 4, 4))
    maps[2, 0, 1, 1] = np.nan
    with pytest.raises(DataError, match=r"maps of ids \['im2'\] are not finite") as err:
        small_shard(tmp_path / "nan.h5", maps=maps)
    assert not list(tmp_path.iterdir())
    record("shard_nan_write", err.value, describe_left(tmp_path, set()), tmp_path)

    path = small_shard(tmp_path / "shard-0.h5")
    with h5py.File(path, "r+") as f:
        f["maps"][1, 0, 0, 0] = np.inf
    before = files_of(tmp_path)
    with Shard(path) as s:
        np.testing.assert_array_equal(s.maps[0].shape, (1, 4, 4))
        with pytest.raises(DataError, match=r"shard-0.h5: maps\[1\] hold NaN or inf") as err:
            s.maps[1]
    record("shard_nan_read", err.value, describe_left(tmp_path, before), tmp_path)


def test_a_shard_whose_rows_disagree_with_its_contents_is_refused(tmp_path):
    from cameval.store import Shard

    path = small_shard(tmp_path / "shard-1.h5", n=5, rows=[8, 16])
    with pytest.raises(DataError, match=r"rows=\[8, 16\] promises 8 images, the shard holds 5") as err:
        Shard(path)
    record("shard_rows", err.value, describe_left(tmp_path, {"shard-1.h5"}), tmp_path)


def test_a_damaged_shard_chunk_names_the_shard(tmp_path):
    from cameval.store import Shard

    path = small_shard(tmp_path / "shard-0.h5")
    junk_chunk(path, "maps", (2, 0, 0, 0))
    with Shard(path) as s:
        s.maps[1]
        with pytest.raises(DataError, match=r"shard-0.h5: maps\[2, :1\] cannot be read") as err:
            s.maps[2, :1]
    record("shard_chunk", err.value, describe_left(tmp_path, {"shard-0.h5"}), tmp_path)


def test_a_stale_shard_beside_new_ones_stops_the_reader_naming_both_files(tmp_path):
    from cameval.experiments.localization import localization_rows

    def rows(path, start, stop):
        n = stop - start
        write_shard(
            path,
            ids=[f"im{i}" for i in range(start, stop)],
            labels=np.arange(start, stop) % 10,
            targets=np.zeros((n, 5)),
            scores=np.zeros((n, 10)),
            maps=np.ones((n, 5, 4, 4)),
            attrs={"rows": [start, stop], "method": "gradcam", "input_size": [32, 32]},
        )

    from cameval.store import write_shard

    rows(tmp_path / "shard-0.h5", 0, 8)  # written with shard_size 8, before the config said 4
    rows(tmp_path / "shard-1.h5", 4, 8)
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"shard-1.h5: rows \[\('im4', 4\), .* are also in .*shard-0.h5") as err:
        localization_rows([str(tmp_path / f"shard-{i}.h5") for i in (0, 1)], str(tmp_path / "manifest.csv"), expected=8)
    record("shard_stale", err.value, describe_left(tmp_path, before), tmp_path)


# --- checkpoints ----------------------------------------------------------------------------------


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_payload_is_refused_without_running_it(tmp_path):
    from cameval.models.registry import read_state_dict

    marker = tmp_path / "pwned"
    torch.save({"state_dict": {"w": _Payload(marker)}}, tmp_path / "evil.pt")
    with pytest.raises(DataError, match=r"evil.pt is not a state dict loadable with weights_only=True") as err:
        read_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()
    record("ckpt_pickle", err.value, describe_left(tmp_path, {"evil.pt"}) + " (the payload never ran)", tmp_path)


@pytest.mark.parametrize(
    "case, other, match",
    [
        ("ckpt_layout", ("small_alexnet", 10), r"does not fit SmallVGG: missing \['features"),
        ("ckpt_shapes", ("small_vgg", 5), r"wrong shapes \['classifier"),
    ],
)
def test_checkpoints_of_another_layout_or_shape_are_refused(tmp_path, case, other, match):
    from cameval.models import build_model, load_weights

    torch.save(build_model(other[0], num_classes=other[1]).state_dict(), tmp_path / "other.pt")
    with pytest.raises(DataError, match=match) as err:
        load_weights(build_model("small_vgg", num_classes=10), str(tmp_path / "other.pt"))
    assert "other.pt" in str(err.value)
    record(case, err.value, describe_left(tmp_path, {"other.pt"}), tmp_path)


def test_a_file_that_is_not_safetensors_names_its_path(tmp_path):
    from cameval.models import load_model
    from cameval.models.registry import read_state_dict

    path = tmp_path / "model.safetensors"
    path.write_text("this is not a safetensors file, but it is long enough to have a header" * 3)
    with pytest.raises(DataError, match="not a readable safetensors file") as err:
        read_state_dict(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="not a readable safetensors file") as err:
        load_model(path)
    assert str(path) in str(err.value)
    record("ckpt_not_safetensors", err.value, describe_left(tmp_path, {"model.safetensors"}), tmp_path)


# --- crashes and a full disk ----------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from cameval.data.images import ImageSetWriter
    path, stop = sys.argv[1], sys.argv[2] == "stop"
    with ImageSetWriter(path, 8, 16, 16, [0.5] * 3, [0.5] * 3) as w:
        for i in range(8):
            w.write(i, np.full((16, 16, 3), i, np.uint8), f"im{i}")
            if stop and i == 3:
                print("half", flush=True)
                time.sleep(60)
""")


def test_a_writer_killed_mid_write_leaves_only_a_temporary_that_the_next_writer_removes(tmp_path):
    from cameval.data.images import ImageSet

    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    out = tmp_path / "data" / "images.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    proc = subprocess.Popen([sys.executable, str(script), str(out), "stop"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "half"
    finally:
        proc.kill()  # SIGKILL: no finally block, no atexit runs in the writer
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    killed = temporaries(tmp_path / "data")
    assert len(killed) == 1 and killed[0].startswith(".images.h5.")
    subprocess.run([sys.executable, str(script), str(out), "go"], check=True, env=env, timeout=120)
    assert temporaries(tmp_path / "data") == []
    with ImageSet(out) as s:
        np.testing.assert_array_equal(s.uint8(slice(None))[:, 0, 0, 0], np.arange(8))
    record(
        "kill_mid_write",
        "(the writer dies; the rerun succeeds and logs that it removed the leftover)",
        f"after the kill: `{killed[0]}` only; after the rerun: `images.h5`, no temporary",
        tmp_path,
    )


def _no_space(path=None):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def test_a_full_disk_while_writing_a_csv_leaves_no_half_written_file(tmp_path, monkeypatch):
    from cameval.io import write_csv

    target = tmp_path / "results" / "table1.csv"
    write_csv(pd.DataFrame({"a": [1]}), target)
    old = target.read_bytes()
    real = pd.DataFrame.to_csv

    def half_then_full(self, path, **kwargs):
        real(self.iloc[: len(self) // 2], path, **kwargs)
        raise _no_space(str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_full)
    with pytest.raises(WriteError, match=r"table1.csv: could not be written .*No space left") as err:
        write_csv(pd.DataFrame({"a": range(100)}), target)
    assert target.read_bytes() == old and temporaries(tmp_path) == []
    record("disk_full_csv", err.value, "the previous `table1.csv`, unchanged; no temporary", tmp_path)


def test_a_full_disk_while_writing_a_shard_leaves_nothing(tmp_path, monkeypatch):
    real = h5py.Group.create_dataset
    calls = []

    def full_on_third(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError("Can't write data (file write failed: errno = 28, error message = 'No space left on device')")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", full_on_third)
    with pytest.raises(WriteError, match=r"shard-0.h5: could not be written") as err:
        small_shard(tmp_path / "shard-0.h5")
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []
    record("disk_full_shard", err.value, describe_left(tmp_path, set()), tmp_path)


def test_a_full_disk_while_writing_weights_leaves_nothing(tmp_path, monkeypatch):
    import cameval.models.registry as registry
    from cameval.models import build_model

    def half_then_full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 1000)
        raise _no_space(filename)

    monkeypatch.setattr(registry, "save_file", half_then_full)
    with pytest.raises(WriteError, match=r"vgg.safetensors: could not be written") as err:
        registry.save_model(build_model("small_vgg", num_classes=10), tmp_path / "vgg.safetensors", "small_vgg")
    assert list(tmp_path.iterdir()) == []
    record("disk_full_weights", err.value, describe_left(tmp_path, set()), tmp_path)


def test_an_exception_in_a_script_is_logged_with_its_traceback(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from cameval.data.images import read_manifest
        from cameval.logs import setup_logging
        setup_logging(sys.argv[1])
        read_manifest(sys.argv[2])
    """)
    )
    log = tmp_path / "logs" / "job.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    proc = subprocess.run(
        [sys.executable, str(script), str(log), str(tmp_path / "nowhere.csv")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and 'job.py", line 6' in text
    assert f"DataError: {tmp_path / 'nowhere.csv'}: no such manifest" in text
    record(
        "script_exception",
        text.splitlines()[0].split(" ", 2)[2],
        "`logs/job.log` with the message and the traceback (exit status 1)",
        tmp_path,
    )


# --- documented commands, from the repository root -----------------------------------------------


def documented_commands() -> list[tuple[str, str]]:
    """Every `snakemake` / `make` command line in the code blocks of README.md and config/README.md."""
    found = []
    for doc in ("README.md", "config/README.md"):
        blocks = re.findall(r"```[a-z]*\n(.*?)```", (ROOT / doc).read_text(), re.S)
        for block in blocks:
            for line in block.splitlines():
                cmd = line.split("#", 1)[0].strip()
                if re.match(r"^(\.venv/bin/)?snakemake\s|^make\s", cmd):
                    found.append((doc, cmd))
    return found


def test_the_docs_hold_the_commands_a_user_needs():
    cmds = [c for _, c in documented_commands()]
    assert "make all" in cmds and "make test" in cmds and "make report" in cmds
    assert any("config/paper.yaml" in c and "profiles/slurm" in c for c in cmds)
    assert any("--report" in c for c in cmds)
    for _, cmd in documented_commands():
        words = cmd.split()
        if "--configfile" in words:  # it takes several values: nothing but config files may follow
            assert all(w.endswith((".yaml", ".yml")) for w in words[words.index("--configfile") + 1 :]), cmd


@pytest.fixture(scope="module")
def imagenet_override(tmp_path_factory, paper_fixtures):
    """A config file that points config/paper.yaml at the tiny ILSVRC and ChestX-ray14 fixtures and
    the CheXNet-layout checkpoints (merged after it)."""
    path = tmp_path_factory.mktemp("override") / "paper-fixtures.yaml"
    path.write_text(yaml.safe_dump(paper_fixtures))
    return path


def as_dry_run(cmd: str, override: Path) -> list[str]:
    """``cmd`` as run by the test: this interpreter's snakemake, ``-n``, the fixture after paper.yaml."""
    words = cmd.split()
    if words[0].endswith("snakemake"):
        words = [sys.executable, "-m", "snakemake", "-n", *words[1:]]
    if "config/paper.yaml" in words:
        words.insert(words.index("config/paper.yaml") + 1, str(override))
    return words


@pytest.fixture(scope="module")
def dry_run_once():
    """``run(words)``: the dry-run ``words`` from the repository root, run once for the module (several
    documented commands come to the same dry-run: `make all` and `make report`, the READMEs' copies)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    done: dict[tuple[str, ...], subprocess.CompletedProcess] = {}

    def run(words: list[str]) -> subprocess.CompletedProcess:
        if tuple(words) not in done:
            done[tuple(words)] = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
        return done[tuple(words)]

    return run


@pytest.mark.workflow
@pytest.mark.parametrize("doc, cmd", documented_commands())
def test_every_documented_command_runs_from_the_repository_root(doc, cmd, imagenet_override, dry_run_once):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    if cmd.startswith("make "):
        proc = subprocess.run(["make", "-n", *cmd.split()[1:]], cwd=ROOT, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # what make would run: its snakemake command, dry-run (the report is built by the e2e test)
        runs = [line for line in proc.stdout.splitlines() if "bin/snakemake " in line and "--report" not in line]
        for line in runs:
            words = line.split()
            words = [sys.executable, "-m", "snakemake", "-n", *words[1:]]
            sub = dry_run_once(words)
            assert sub.returncode == 0, f"{line}:\n{sub.stdout[-2000:]}\n{sub.stderr[-2000:]}"
        return
    if "--report" in cmd:
        pytest.skip("builds the report of finished results: see test_report_of_the_tiny_run_builds")
    proc = dry_run_once(as_dry_run(cmd, imagenet_override))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{doc}: {cmd}\n{out[-3000:]}"
    assert "No validator found" not in out
    assert "Job stats" in out or "Nothing to be done" in out


# --- the workflow end to end: the session's shared tiny run (tests/conftest.py) --------------------

#: the kill -9 run's targets: Table 3, whose 9 jobs build the digits set, train VGG and compute its
#: Grad-CAM, guided-backprop and occlusion shards (the tiny config's `all` has 90)
KILL9 = ["--cores", "2", "results/tables/table3.csv", "--configfile", TINY_CONFIG]


def planned_outputs(dry_run: str) -> set[str]:
    """The output files of every job a dry-run lists."""
    return {f for line in re.findall(r"^\s+output: (.*)$", dry_run, re.M) for f in line.split(", ")}


@pytest.mark.workflow
@pytest.mark.e2e
def test_report_of_the_tiny_run_builds(tiny_run, tiny_report):
    report = tiny_report
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 50_000
    for name in ("figure1.png", "appendix_b.png", "appendix_c.png"):
        assert name in html, name
    record(
        "e2e_report",
        f"exit status 0; `results/report.html` ({report.stat().st_size // 1000} kB) holds the three figures",
        "the report, no temporary",
        tiny_run,
    )
    assert temporaries(tiny_run) == []


@long_run
def kill9_table3(folder: Path) -> dict:
    """Table 3's jobs of the tiny config in a fresh clone, ``kill -9``'d (Snakemake and its jobs) as
    soon as a job is seen writing an output, then the same command again (``--unlock`` first if
    Snakemake says the directory is locked): what was planned, seen and left at each step."""
    root = clone(folder / "cameval")
    fresh = set(outputs(root))  # what a clone holds before any run (the study's shipped files)
    plan = snakemake_at(root, "-n", *KILL9)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(root / "workflow")}
    proc = background.popen(
        [sys.executable, "-m", "snakemake", *KILL9],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen, deadline = [], time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        seen = temporaries(root / "resources") + temporaries(root / "results")
        if seen:  # a job is writing an output right now
            break
        time.sleep(0.02)
    background.kill(proc)  # Snakemake and every job it started
    left_after_kill = temporaries(root)
    first = snakemake_at(root, *KILL9)
    locked = first.returncode != 0 and "cannot be locked" in first.stdout + first.stderr
    unlocked = None
    if locked:
        unlocked = snakemake_at(root, "--unlock", "--cores", "1", "--configfile", TINY_CONFIG)
        first = snakemake_at(root, *KILL9)
    return {
        "root": root,
        "fresh": fresh,
        "plan": plan.stdout,
        "seen": seen,
        "left_after_kill": left_after_kill,
        "locked": locked,
        "unlocked": unlocked,
        "rerun": first,
    }


@pytest.mark.workflow
@pytest.mark.e2e
@pytest.mark.long_run("kill9_table3")
def test_kill9_mid_run_then_rerun_gives_identical_results_and_no_leftovers(tiny_run):
    done = background.result("kill9_table3")
    root, fresh, seen, left_after_kill, locked = (
        done[k] for k in ("root", "fresh", "seen", "left_after_kill", "locked")
    )
    planned = planned_outputs(done["plan"])
    assert "resources/models/vgg.safetensors" in planned and "results/tables/table3.csv" in planned
    assert any(f.startswith("results/heatmaps/") for f in planned)
    assert seen, "no job was caught writing: nothing to test"
    if locked:
        assert done["unlocked"].returncode == 0, done["unlocked"].stdout[-3000:] + done["unlocked"].stderr[-3000:]
    first = done["rerun"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert temporaries(root) == []
    a, b = outputs(tiny_run), outputs(root)
    made = set(b) - fresh
    assert made == planned  # every output of Table 3's jobs, and nothing else
    assert made <= a.keys()  # the same files the uninterrupted run of `all` wrote, compared below
    for name in sorted(made):
        if name.startswith("results/tables/"):
            assert a[name].read_bytes() == b[name].read_bytes(), name
        elif name.endswith(".h5"):
            with h5py.File(a[name]) as fa, h5py.File(b[name]) as fb:
                keys = []  # every dataset, in groups too (Table 7's class maps are grouped by method)
                fa.visititems(lambda key, obj, keys=keys: keys.append(key) if isinstance(obj, h5py.Dataset) else None)
                assert keys, name
                for key in keys:
                    np.testing.assert_array_equal(fa[key][()], fb[key][()], err_msg=f"{name}:{key}")
        elif name.endswith(".safetensors"):
            from safetensors.numpy import load_file

            ta, tb = load_file(a[name]), load_file(b[name])
            assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta), name
    seen_text = ", ".join(f"`{s}`" for s in left_after_kill) or "nothing"
    record(
        "e2e_kill9",
        (
            "the rerun stops: `Directory cannot be locked` (Snakemake's own message); after "
            "`snakemake --unlock` the same command finishes"
            if locked
            else "the rerun finishes"
        ),
        f"after the kill: {_normalize(seen_text, root)}; after the rerun: no temporary; tables byte-identical "
        f"to an uninterrupted run's, images, weights and every shard's tensors equal",
        root,
    )


@pytest.mark.workflow
@pytest.mark.e2e
def test_a_failed_job_says_why_in_its_log(tiny_copy):
    root = tiny_copy  # the finished shared run, copied: this test damages an input
    manifest = root / "resources/data/digits-loc/manifest.csv"
    edit_manifest(manifest, lambda df: df.drop(index=np.flatnonzero(df["split"].to_numpy() == "test")[:3]))
    proc = snakemake_at(root, *TINY)
    assert proc.returncode != 0
    logs = sorted(p for p in (root / "logs").rglob("*.log") if "DataError" in p.read_text())
    assert logs, "no log holds the error"
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and str(manifest.relative_to(root)) in text
    message = next(line for line in text.splitlines() if "DataError" in line and "CRITICAL" in line)
    # which of the jobs that read the manifest fail before Snakemake stops depends on its scheduling
    record(
        "e2e_failed_job",
        f"`{logs[0].parent.relative_to(root)}/<job>.log`: " + message.split(" ", 3)[3],
        "the failed job's outputs removed by Snakemake; no temporary; tables of the earlier run kept",
        root,
    )
    assert temporaries(root) == [] and (root / "results/tables/table1.csv").exists()
