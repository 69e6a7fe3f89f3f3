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
from cameval.errors import ConfigError, DataError, WriteError
from cameval.hdf5 import open_h5
from conftest import TINY, TINY_CONFIG, clone, edited_tiny_dry_runs, outputs, snakemake_at
from helpers import attack_shard_arrays, digits_with_small_vgg

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
    "name_slash": ("config", "a model named `v/g` (a `/` in a name: a path and a wildcard)"),
    "name_collision": ("config", "models `vgg-1` and `vgg_1` side by side (one rule name once normalized)"),
    "set_twice": ("config", "`table1.methods` naming `gradcam` twice"),
    "arch_too_small": ("config", "torchvision's `alexnet` on the 32 px digits, in `table1.models`"),
    "arch_channels": ("config", "`mnist_net` (1 channel, 28 px) on the 3-channel digits, in `table1.models`"),
    "weights_folder": ("config", "`models.mnist_net.weights` naming a folder"),
    "num_classes_low": ("config", "`models.vgg.num_classes: 5` on the 10 digits"),
    "fill_nan": ("config", "`heatmaps.occlusion3.params.fill: .nan`"),
    "many_at_once": (
        "config",
        "`seed: -1`, a misspelled `table1.thresold`, `fill: .nan` and a missing `models.mnist_net.weights` file "
        "in one config",
    ),
    "paper_one_pass": (
        "config",
        "`config/paper.yaml` on a machine without ILSVRC, ChestX-ray14 or the CheXNet checkpoints "
        "(`python -m cameval check` and the dry-run)",
    ),
    "model_below_floor": (
        "workflow",
        "the shipped example (`examples/`) at the tiny scale with `models.mine.min_accuracy: 0.9` for its "
        "one-epoch network",
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
    "shard_foreign": ("cache", "another model's Grad-CAM shard copied over this model's (Table 1's reader)"),
    "shard_other_set": ("cache", "the `gradcampp` shard copied over the same model's `gradcam` one (Table 1's reader)"),
    "shard_bitflip": ("cache", "one bit flipped in a shard's `labels` on disk"),
    "shard_label": (
        "cache",
        "a shard's label rewritten through HDF5 (its checksum with it) to another than the manifest's",
    ),
    "attack_nan": ("cache", "NaN in an attack shard's `cam_before` (Table 6's reader)"),
    "attack_truncated": ("cache", "an attack shard cut to half its size"),
    "own_source_edit": ("cache", "the source of the tiny config's builder `cameval.models.small:small_resnet` edited"),
    "map_shape_cam": ("method", "an own `kind: cam` method returning `[N, 5]`"),
    "map_shape_pixel": ("method", "an own `kind: pixel` method returning `[N, 3, 16, 16]` for 32×32 inputs"),
    "values_twice": ("study", "a second `table3:` in the study's `values.yaml`"),
    "values_na": ("study", "`mean: n/a` in the study's `values.yaml`"),
    "values_list": ("study", "`table4:` given as a list in the study's `values.yaml`"),
    "export_rater_twice_xlsx": ("study", "one rater's row duplicated in the survey export (`.xlsx`)"),
    "export_rater_twice_csv": ("study", "one rater's row duplicated in the survey export's `.csv` form"),
    "answers_rater_twice": ("answers", "a rater id given twice in the kit's `answers.csv`"),
    "ckpt_pickle": ("checkpoint", "a `.pt` whose payload runs code when unpickled"),
    "ckpt_layout": ("checkpoint", "small_alexnet's state dict loaded into small_vgg"),
    "ckpt_shapes": ("checkpoint", "a 5-class small_vgg loaded as a 10-class one"),
    "ckpt_not_safetensors": ("checkpoint", "a text file named `model.safetensors`"),
    "ckpt_crc": ("checkpoint", "a `torch.save` zip with one byte of a tensor's storage flipped (a bad CRC)"),
    "ckpt_modules_list": ("checkpoint", "a pickled module whose `_modules` is a list"),
    "ckpt_cycle": ("checkpoint", "a pickled module that is its own child"),
    "ckpt_stride0": ("checkpoint", "a 1 KB `.pt` holding a (20000, 20000) stride-0 view (1.6 GB as a copy)"),
    "kill_mid_write": ("crash", "`kill -9` of a writer half-way through `images.h5`, then the writer again"),
    "disk_full_csv": ("disk full", "`No space left on device` half-way through a CSV"),
    "disk_full_shard": ("disk full", "`No space left on device` half-way through a heatmap shard"),
    "disk_full_weights": ("disk full", "`No space left on device` half-way through a safetensors file"),
    "script_exception": ("logs", "a script that raises after `setup_logging(log)`"),
    "e2e_failed_job": ("workflow", "tiny run, then 3 rows deleted from `manifest.csv` and the run repeated"),
    "e2e_foreign_then_fixed": (
        "workflow",
        "tiny run, resnet's Grad-CAM++ shard copied over googlenet's, Table 1 asked for; then the shard deleted "
        "and the same command again",
    ),
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
        "(`cameval.data.manifest.read_manifest` / `check_manifest`, `ImageSet`, `cameval.store.Shard`,",
        "`cameval.models.read_state_dict` / `load_model`); every cached file records the digests of its",
        "model file, manifest rows and spec, each dataset with a checksum, and its readers compare them with",
        "what they combine it with (`cameval.store.Expect`); every output is written to a temporary beside",
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
    # `other`: another model's weights, the same architecture
    return digits_with_small_vgg(tmp_path_factory.mktemp("source"), test=N_TEST, models={"model": 0, "other": 1})


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
        "other": d / "other.safetensors",
        "out": tmp_path / "out",
    }


def shard_of(data, expected=N_TEST):
    from cameval.heatmaps import ShardJob, compute_shard

    out = data["out"] / "shard-0.h5"
    compute_shard(
        str(data["weights"]),
        str(data["images"]),
        str(data["manifest"]),
        str(out),
        ShardJob("gradcam", "top1", "test", 0, N_TEST, batch_size=8, expected=expected),
        progress=False,
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
    ("seed_negative", lambda c: c.update(seed=-1), "seed: -1 is less than the minimum of 0"),
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
        "deletion.percentages[1]: 100 is greater than or equal to the maximum of 100",
    ),
    ("deletion_step", lambda c: c["deletion"].update(step=0), "deletion.step: 0 is less than the minimum of 1"),
    (
        "sanity_mode",
        lambda c: c["sanity"].update(modes=["cascade"]),
        "sanity.modes[0]: 'cascade' (expected one of cascading, independent)",
    ),
    (
        "sanity_measure",
        lambda c: c["sanity"].update(measures=["pearson"]),
        "sanity.measures[0]: 'pearson' (expected one of spearman_abs, spearman, ssim, hog)",
    ),
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
    ("name_slash", lambda c: c["models"].update({"v/g": c["models"]["vgg"]}), "models: the name 'v/g' cannot be used"),
    (
        "name_collision",
        lambda c: c["models"].update({"vgg-1": c["models"]["vgg"], "vgg_1": c["models"]["vgg"]}),
        "models: 'vgg-1' and 'vgg_1' are the same name",
    ),
    ("set_twice", lambda c: c["table1"]["methods"].append("gradcam"), "table1.methods: gradcam listed twice"),
    (
        "arch_too_small",
        lambda c: (
            c["models"].update(alexnet={"arch": "alexnet", "dataset": "digits-loc", "num_classes": 10, "train": {}}),
            c["table1"]["models"].append("alexnet"),
        ),
        "models.alexnet.arch: alexnet cannot take the 3-channel 32x32 images of datasets.digits-loc",
    ),
    (
        "arch_channels",
        lambda c: (
            c["models"].update(mnist3={"arch": "mnist_net", "dataset": "digits-loc", "num_classes": 10, "train": {}}),
            c["table1"]["models"].append("mnist3"),
        ),
        "models.mnist3.arch: mnist_net cannot take the 3-channel 32x32 images of datasets.digits-loc",
    ),
    (
        "weights_folder",
        lambda c: c["models"]["mnist_net"].update(weights="pickled-module:resources/study/mnist"),
        "models.mnist_net.weights: ",
    ),
    (
        "num_classes_low",
        lambda c: c["models"]["vgg"].update(num_classes=5),
        "models.vgg.num_classes: 5 classes, below the 10 labels of datasets.digits-loc",
    ),
    (
        "fill_nan",
        lambda c: c["heatmaps"]["occlusion3"]["params"].update(fill=float("nan")),
        "heatmaps.occlusion3.params.fill: nan (expected a finite number)",
    ),
    (
        "many_at_once",
        lambda c: (
            c.update(seed=-1),
            c["table1"].update(thresold=0.2),
            c["heatmaps"]["occlusion3"]["params"].update(fill=float("nan")),
            c["models"]["mnist_net"].update(weights="resources/nowhere/model.pt"),
        ),
        (
            "bad.yaml: 4 problems (each below; nothing was run):",
            "  - seed: -1 is less than the minimum of 0",
            "  - table1: unknown key thresold (expected one of: dataset, methods, models, reference, rule, threshold)",
            "  - heatmaps.occlusion3.params.fill: nan (expected a finite number)",
            "  - models.mnist_net.weights: no resources/nowhere/model.pt (expected a PyTorch state dict",
        ),
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
    the background: parses of seconds each that need not hold up the other tests."""
    return edited_tiny_dry_runs(folder, {case: edit for case, edit, _ in BAD_CONFIGS})


@pytest.mark.workflow
@pytest.mark.long_run("bad_config_dry_runs")
@pytest.mark.parametrize("case, edit, key", BAD_CONFIGS)
def test_bad_config_stops_the_dry_run_naming_the_key(case, edit, key):
    proc, folder = background.result("bad_config_dry_runs")[case]
    out = proc.stdout + proc.stderr
    keys = key if isinstance(key, tuple) else (key,)
    assert proc.returncode != 0 and all(k in out for k in keys), out[-3000:]
    assert "Job stats" not in out  # stopped before planning a single job
    assert "Failed validating" not in out and "schema[" not in out  # one line per problem, no schema dump
    record(case, error_line(out, keys[0]), "nothing (stopped at parse time)", folder)


@long_run
def paper_one_pass(folder: Path) -> dict:
    """config/paper.yaml in a fresh copy of the project (no ILSVRC, ChestX-ray14 or CheXNet checkpoint
    in it): its dry-run and ``python -m cameval check``, from the copy's root."""
    root = clone(folder / "cameval")
    env = {**os.environ, "PYTHONPATH": str(root / "workflow")}
    check = background.run([sys.executable, "-m", "cameval", "check", "config/paper.yaml"], 600, cwd=root, env=env)
    return {
        "root": root,
        "dry": snakemake_at(root, "-n", "--cores", "1", "all", "--configfile", "config/paper.yaml"),
        "check": check,
    }


@pytest.mark.workflow
@pytest.mark.long_run("paper_one_pass")
def test_the_paper_config_names_every_missing_file_in_one_pass_before_any_job():
    done = background.result("paper_one_pass")
    dry, check = done["dry"], done["check"]
    listed = [line.strip() for line in check.stderr.splitlines() if line.startswith("  - ")]
    assert check.returncode == 1 and dry.returncode != 0
    assert [line.split(":")[0] for line in listed] == [
        "- datasets.imagenet.images",
        "- datasets.imagenet.annotations",
        "- datasets.imagenet.synsets",
        "- datasets.chestxray.images",
        "- datasets.chestxray.data_entry",
        "- datasets.chestxray.bbox_list",
        "- models.A.weights",
        "- models.B.weights",
    ]
    assert "python -m cameval.models convert" in listed[-1]
    out = dry.stdout + dry.stderr
    assert [line.strip() for line in out.splitlines() if line.startswith("  - ")] == listed  # the same list
    assert "Job stats" not in out and "MissingInputException" not in out
    first = next(line for line in check.stderr.splitlines() if "problems" in line)
    record(
        "paper_one_pass",
        first.replace("ConfigError: ", "") + " — " + "; ".join(line[2:].split(" (")[0] for line in listed),
        "nothing (stopped at parse time; the same list from `make check` and the dry-run)",
        done["root"],
    )


@pytest.mark.workflow
@pytest.mark.long_run("example")
def test_a_model_below_its_accuracy_floor_stops_the_run_naming_the_key():
    done = background.result("example")
    root, stopped = done["root"], done["stopped"]
    assert done["run"].returncode == 0, done["run"].stdout[-3000:] + done["run"].stderr[-3000:]
    out = stopped.stdout + stopped.stderr
    key = "models.mine: top-1 accuracy"
    assert stopped.returncode != 0 and key in out and "below models.mine.min_accuracy = 0.9 (as set)" in out
    assert "set models.mine.min_accuracy lower" in out
    assert not (root / "results/metrics/accuracy/digits-loc/mine.json").exists()
    after = {p.name: p.stat().st_mtime_ns for p in (root / "results/tables").glob("*")}
    assert after == done["tables"]  # no table written or changed
    assert temporaries(root) == []
    log = root / "logs/metrics/accuracy/digits-loc/mine.log"
    assert key in log.read_text()
    record(
        "model_below_floor",
        error_line(out, key),
        "the accuracy job's output removed by Snakemake; the tables of the earlier run untouched; no temporary",
        root,
    )


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
    from cameval.data.manifest import read_manifest

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
    with open_h5(path, "r") as f:
        info = f[dataset].id.get_chunk_info_by_coord(coord)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset)
        f.write(b"\xff" * info.size)


def test_a_damaged_chunk_of_images_names_the_file(data):
    from cameval.data.manifest import read_manifest

    row = int(read_manifest(data["manifest"]).query("split == 'test'")["index"].iloc[0])
    junk_chunk(data["images"], "images", (row, 0, 0, 0))
    expect_shard_error(data, "images_chunk", r"images at rows .* cannot be read .*damaged")


def test_a_truncated_image_set_names_the_file(data):
    size = data["images"].stat().st_size
    with open(data["images"], "r+b") as f:
        f.truncate(size // 2)
    expect_shard_error(data, "images_truncated", r"not a readable HDF5 image set")


def test_a_reversed_box_in_an_ilsvrc_xml_stops_the_build_naming_the_xml(tiny_imagenet, tmp_path):
    from cameval.data.imagenet import ImagenetSpec, build_imagenet

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
            ImagenetSpec(tiny_imagenet["images"], xml, tiny_imagenet["synsets"]),
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
    with open_h5(path, "r+") as f:
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


# --- cached files: what made them, checksums, shapes ----------------------------------------------


def set_spec(name: str, method: str, targets: str = "top5", kind: str = "") -> dict:
    """A heatmap set's resolved spec as workflow/rules/common.smk's heatmap_spec gives it."""
    return {"set": name, "method": method, "params": {}, "layer": "", "targets": targets, "kind": kind, "source": ""}


def table1_shard(data, weights: Path, method: str, out: Path, spec: dict | None = None) -> Path:
    from cameval.heatmaps import ShardJob, compute_shard

    job = ShardJob(
        method, "top5", "test", 0, N_TEST, batch_size=8, expected=N_TEST, made_by=spec or set_spec(method, method)
    )
    compute_shard(str(weights), str(data["images"]), str(data["manifest"]), str(out), job, progress=False)
    return out


@pytest.mark.parametrize(
    "case, weights, method, match",
    [
        (
            "shard_foreign",
            "other",
            "gradcam",
            r"computed with another model file \(model_digest [0-9a-f]{12}…; .*model",
        ),
        (
            "shard_other_set",
            "weights",
            "gradcampp",
            r"made by another spec \(method: 'gradcampp' in the file, 'gradcam'",
        ),
    ],
)
def test_a_shard_of_another_model_or_set_stops_table1s_reader_naming_it(data, case, weights, method, match):
    from cameval.experiments.localization import localization_rows
    from cameval.store import Expect

    path = data["out"] / "gradcam" / "shard-0.h5"  # where the config's gradcam set of this model lives
    expect = Expect(data["weights"], set_spec("gradcam", "gradcam"), data["manifest"])
    good = localization_rows(
        [str(table1_shard(data, data["weights"], "gradcam", path))],
        str(data["manifest"]),
        expected=N_TEST,
        expect=expect,
    )
    assert len(good) == N_TEST  # the shard the config asks for is read
    table1_shard(data, data[weights], method, path, set_spec(method, method))  # the copied file
    before = files_of(data["root"])
    with pytest.raises(DataError, match=match) as err:
        localization_rows([str(path)], str(data["manifest"]), expected=N_TEST, expect=expect)
    assert str(err.value).startswith(f"{path}: ")
    record(case, err.value, describe_left(data["root"], before) + " (no table: the job stops)", data["root"])


def flip_bit(path: Path, dataset: str) -> None:
    """Flip one bit of the stored bytes of ``dataset``'s first chunk."""
    with open_h5(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset)
        byte = f.read(1)[0]
        f.seek(info.byte_offset)
        f.write(bytes([byte ^ 0x01]))


def test_a_flipped_bit_in_a_shards_labels_names_the_shard(data):
    from cameval.store import Shard

    path = shard_of(data)
    with Shard(path) as s:
        labels = s.labels.copy()
    flip_bit(path, "labels")
    with open_h5(path, "r") as f, pytest.raises(OSError):  # the oracle: HDF5's own checksum fails
        f["labels"][()]
    before = files_of(data["root"])
    with pytest.raises(DataError, match=r"shard-0.h5: damaged heatmap shard .*delete it and rerun") as err:
        Shard(path)
    assert len(labels) == N_TEST
    record("shard_bitflip", err.value, describe_left(data["root"], before), data["root"])


def test_a_label_other_than_the_manifests_is_refused_naming_row_and_both_labels(data):
    from cameval.data.manifest import read_manifest
    from cameval.store import Expect, Shard

    path = shard_of(data)
    expect = Expect(manifest=data["manifest"])
    with Shard(path, expect) as s:  # as written: the manifest's labels
        ids = list(s.ids)
    truth = read_manifest(data["manifest"]).set_index("id").loc[ids[0], "label"]
    wrong = (int(truth) + 1) % 10
    with open_h5(path, "r+") as f:  # rewritten through HDF5: its checksum is rewritten too
        f["labels"][0] = wrong
    before = files_of(data["root"])
    with pytest.raises(
        DataError, match=rf"row 0 \(id '{re.escape(ids[0])}'\) holds label {wrong}, .*manifest.csv says label {truth}"
    ) as err:
        Shard(path, expect)
    record("shard_label", err.value, describe_left(data["root"], before), data["root"])


def attack_shard_file(path: Path, n: int = 2, h: int = 4, w: int = 4) -> Path:
    """A one-pixel attack shard in the layout of cameval.experiments.sensitivity, with random maps."""
    from cameval.store import write_cache

    arrays = attack_shard_arrays(n, h, w, colour=[[255, 0, 0], [0, 0, 0]])
    write_cache(path, ["a", "b"], arrays, {"rows": [0, n]})
    return path


def test_nan_in_an_attack_shard_stops_table6s_reader_naming_file_array_and_image(tmp_path):
    from cameval.experiments.sensitivity.rows import sensitivity_rows

    path = attack_shard_file(tmp_path / "shard-0.h5")
    assert len(sensitivity_rows([path])) == 2
    with open_h5(path, "r+") as f:
        f["cam_before"][1, 2, 2] = np.nan
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"shard-0.h5: cam_before of ids \['b'\] hold NaN or inf") as err:
        sensitivity_rows([path])
    record("attack_nan", err.value, describe_left(tmp_path, before), tmp_path)


def test_a_truncated_attack_shard_names_its_path(tmp_path):
    from cameval.store import read_attacks

    path = attack_shard_file(tmp_path / "shard-0.h5")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"shard-0.h5: not a readable HDF5 file") as err:
        read_attacks([path])
    record("attack_truncated", err.value, describe_left(tmp_path, before), tmp_path)


def cam_of_five(model, x, target):
    """An own `kind: cam` method of the wrong shape: ``[N, 5]``."""
    return torch.zeros(len(x), 5)


def pixel_at_half_size(model, x, target):
    """An own `kind: pixel` method at half the input's size: ``[N, C, H/2, W/2]``."""
    return torch.nn.functional.avg_pool2d(x.abs(), 2)


@pytest.mark.parametrize(
    "case, function, kind, match",
    [
        (
            "map_shape_cam",
            "cam_of_five",
            "cam",
            r"returned maps of shape \[8, 5\] for a batch of \[8, 3, 32, 32\], expected \[8, h, w\]",
        ),
        (
            "map_shape_pixel",
            "pixel_at_half_size",
            "pixel",
            r"returned maps of shape \[8, 3, 16, 16\] for a batch of \[8, 3, 32, 32\], expected \[8, 3, 32, 32\]",
        ),
    ],
)
def test_maps_of_the_wrong_shape_stop_the_heatmap_job_before_anything_is_written(data, case, function, kind, match):
    method = f"{__name__}:{function}"
    out = data["out"] / "mine" / "shard-0.h5"
    before = files_of(data["root"])
    with pytest.raises(ConfigError, match=rf"heatmaps.mine: method {method} \(kind {kind}\) {match}") as err:
        table1_shard(data, data["weights"], method, out, set_spec("mine", method, kind=kind))
    assert not out.exists() and not temporaries(data["root"])
    record(case, err.value, describe_left(data["root"], before), data["root"])


# --- the study's raw results ---------------------------------------------------------------------

STUDY = ROOT / "resources" / "study"


@pytest.mark.parametrize(
    "case, edit, match",
    [
        (
            "values_twice",
            lambda t: t + "table3:\n  gradcam: {study: {mean: 0.9}}\n",
            r"values.yaml: key table3 is given twice, on lines {first} and {last}",
        ),
        (
            "values_na",
            lambda t: t.replace("guided_gradcam:  {study: {mean: 0.2714", "guided_gradcam:  {study: {mean: n/a"),
            r"values.yaml: table4.guided_gradcam.study.mean on line {table4} is 'n/a' \(expected a finite number",
        ),
        (
            "values_list",
            lambda t: re.sub(r"^table4:.*$", "table4: [0.2714, 1.3731]\ntable4_was:", t, count=1, flags=re.M),
            r"values.yaml: section table4 on line {table4} is a list \(expected a mapping",
        ),
    ],
)
def test_a_damaged_values_yaml_names_file_key_and_line(tmp_path, case, edit, match):
    from cameval.data.study import read_published_values

    text = (STUDY / "values.yaml").read_text()
    lines = text.splitlines()
    first = 1 + next(i for i, line in enumerate(lines) if line.startswith("table3:"))
    table4 = 1 + next(i for i, line in enumerate(lines) if line.startswith("table4:"))
    table4 += case == "values_na"  # the mean's own line, below `table4:`
    path = tmp_path / "values.yaml"
    path.write_text(edit(text))
    assert path.read_text() != text
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=match.format(first=first, last=len(lines) + 1, table4=table4)) as err:
        read_published_values(path)
    assert str(err.value).startswith(str(path))
    record(case, err.value, describe_left(tmp_path, before) + " (no table: the job stops)", tmp_path)


def _export_rows() -> list[list[str]]:
    from openpyxl import load_workbook

    book = load_workbook(STUDY / "user_study" / "Truthfulness of Visualization.xlsx", read_only=True)
    try:
        return [["" if v is None else str(v) for v in r] for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


@pytest.mark.parametrize("case, suffix", [("export_rater_twice_xlsx", ".xlsx"), ("export_rater_twice_csv", ".csv")])
def test_a_rater_counted_twice_in_the_survey_export_is_refused_naming_both_rows(tmp_path, case, suffix):
    from openpyxl import Workbook

    from cameval.experiments import userstudy

    key = STUDY / "user_study" / "key.csv"
    rows = _export_rows()
    assert len({tuple(r) for r in rows[1:]}) == len(rows) - 1  # the study's own export: each response once
    rows.append(rows[5])  # the 5th rater (row 6 of the sheet) again, at the end
    path = tmp_path / f"export{suffix}"
    if suffix == ".xlsx":
        book = Workbook()
        for r in rows:
            book.active.append(r)
        book.save(path)
    else:
        path.write_text("\n".join(",".join(f'"{c}"' for c in r) for r in rows) + "\n")
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=rf"export{suffix}: rows 6 and {len(rows)} are the same response") as err:
        userstudy.score_survey_export(path, key, better="vgg")
    record(case, err.value, describe_left(tmp_path, before) + " (no table: the job stops)", tmp_path)


def test_a_rater_id_given_twice_in_the_kits_answers_is_refused_naming_both_lines(tmp_path, answer_files):
    from cameval.experiments import userstudy

    key, text = answer_files
    path = tmp_path / "answers.csv"
    path.write_text(text + text.splitlines()[1] + "\n")  # rater r1's row again, on line 4
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=r"answers.csv: lines 2 and 4 both hold rater 'r1'") as err:
        userstudy.table4([path], key, better="vgg")
    record("answers_rater_twice", err.value, describe_left(tmp_path, before), tmp_path)


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


def _flip_storage_byte(path: Path) -> None:
    """Flip one byte of the first tensor storage stored in a torch zip (its CRC no longer matches)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if "/data/" in i.filename)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        skip = int.from_bytes(f.read(2), "little") + int.from_bytes(f.read(2), "little")
        at = info.header_offset + 30 + skip
        f.seek(at)
        byte = f.read(1)[0]
        f.seek(at)
        f.write(bytes([byte ^ 0xFF]))


def _module_list(path: Path) -> None:
    m = torch.nn.Sequential(torch.nn.Linear(2, 2))
    m.__dict__["_modules"] = [torch.nn.Linear(2, 2)]
    torch.save(m, path)


def _module_cycle(path: Path) -> None:
    m = torch.nn.Sequential(torch.nn.Linear(2, 2))
    m._modules["again"] = m
    torch.save(m, path)


@pytest.mark.parametrize(
    "case, make, match",
    [
        ("ckpt_crc", lambda p: (torch.save({"w": torch.arange(6.0)}, p), _flip_storage_byte(p)), r"Bad CRC-32"),
        ("ckpt_modules_list", _module_list, r"\(root\)\._modules is a list \(expected a mapping of names to modules\)"),
        ("ckpt_cycle", _module_cycle, r"module again contains itself \(a cycle in the pickled module tree\)"),
    ],
)
def test_a_damaged_or_odd_pickle_is_the_readers_error_naming_the_file(tmp_path, case, make, match):
    from cameval.models.safe_pickle import read_pickled_module

    path = tmp_path / "model.pt"
    make(path)
    before = files_of(tmp_path)
    with pytest.raises(DataError, match=match) as err:
        read_pickled_module(path)
    assert str(err.value).startswith(f"{path}: ")
    record(case, err.value, describe_left(tmp_path, before), tmp_path)


def test_a_stride_0_view_is_refused_without_allocating_its_copy(tmp_path):
    import resource

    from cameval.models.safe_pickle import read_pickled

    path = tmp_path / "view.pt"
    torch.save({"w": torch.zeros(1).expand(20000, 20000)}, path)
    assert path.stat().st_size < 2000
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match=r"view.pt: .*has 400000000 elements, its storage 1") as err:
        read_pickled(path)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grew_mb < 500  # the copy would be 1,600 MB
    record("ckpt_stride0", err.value, f"nothing new (peak memory grew {grew_mb:.0f} MB)", tmp_path)


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
        from cameval.data.manifest import read_manifest
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

#: the kill -9 run's targets: Table 3, whose jobs build the digits set, train VGG, check its accuracy and
#: compute its Grad-CAM, guided-backprop and occlusion shards (a small part of the tiny config's `all`)
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
            with open_h5(a[name]) as fa, open_h5(b[name]) as fb:
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


def planned_jobs(dry_run: str) -> list[dict]:
    """The jobs a dry-run plans: ``{rule, output, reason}`` per job block of Snakemake's output."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", dry_run):
        head = re.match(r"(?:local)?rule (\S+):\n", block)
        if head:
            fields = dict(re.findall(r"^\s+(output|reason): (.*)$", block, re.M))
            jobs.append({"rule": head[1], "output": fields.get("output", ""), "reason": fields.get("reason", "")})
    return jobs


@pytest.mark.workflow
@pytest.mark.e2e
def test_an_edit_of_a_builders_source_reruns_exactly_its_models_jobs(tiny_copy):
    root = tiny_copy  # the finished shared tiny run, copied: this test edits a source file
    tables = {p: p.read_bytes() for p in (root / "results/tables").rglob("*.csv")}
    source = root / "workflow/cameval/models/small.py"  # the tiny config's resnet: cameval.models.small:small_resnet
    assert snakemake_at(root, "-n", *TINY).stdout.count("Nothing to be done") == 1  # nothing stale before
    source.write_text(source.read_text() + "\n# an edit of the builder's module\n")
    proc = snakemake_at(root, "-n", *TINY)
    out = proc.stdout + proc.stderr
    jobs = planned_jobs(out)
    changed = [j for j in jobs if "params have changed" in j["reason"].lower()]
    assert proc.returncode == 0 and [(j["rule"], j["output"].split(", ")[0]) for j in changed] == [
        ("train_model", "resources/models/resnet.safetensors")
    ], [(j["rule"], j["output"], j["reason"]) for j in jobs]
    others = ("vgg", "googlenet", "mnist_net", "/A.", "/B.", "/A/", "/B/")
    assert not [
        j
        for j in jobs
        if j["rule"] not in ("all", "claims", "table_html", "study_table_html")
        and any(m in j["output"] for m in others)
        and "resnet" not in j["output"]
    ]
    assert {p: p.read_bytes() for p in (root / "results/tables").rglob("*.csv")} == tables
    record(
        "own_source_edit",
        f"`snakemake -n`: train_model ({changed[0]['output'].split(',')[0]}): reason: "
        f"{changed[0]['reason'].split(':')[0]}; every job planned is downstream of resnet's model",
        "nothing (a dry-run); the tables of the earlier run kept",
        root,
    )


@pytest.mark.workflow
@pytest.mark.e2e
def test_a_foreign_shard_stops_the_run_and_once_removed_the_rerun_gives_the_same_tables(tiny_copy):
    """A cached file of another model is refused by its reader (nothing written), and once the cause is
    fixed (the file deleted) the rerun recomputes it and gives the uninterrupted run's tables byte for byte."""
    root = tiny_copy  # the finished shared run, copied: this test damages a shard
    tables = {p: p.read_bytes() for p in (root / "results/tables").rglob("*.csv")}
    shards = sorted((root / "results/heatmaps/digits-loc/googlenet/gradcampp").glob("shard-*.h5"))
    target = shards[-1]  # the last shard (the tiny config has one: googlenet's bundle computes it again)
    shutil.copyfile(root / "results/heatmaps/digits-loc/resnet/gradcampp" / target.name, target)
    proc = snakemake_at(root, "--cores", "2", "results/tables/table1.csv", "--configfile", TINY[-1])
    out = proc.stdout + proc.stderr
    logs = [p for p in (root / "logs").rglob("*.log") if "another model file" in p.read_text()]
    assert proc.returncode != 0 and logs, out[-3000:]
    message = next(line for line in logs[0].read_text().splitlines() if "another model file" in line)
    assert str(target.relative_to(root)) in message
    assert {p: p.read_bytes() for p in (root / "results/tables").rglob("*.csv")} == tables  # nothing rewritten
    seen = message.split(" ", 3)[3] if message.count(" ") >= 3 else message
    record(
        "e2e_foreign_then_fixed",
        re.sub(r"\b[0-9a-f]{12}…", "<digest>…", seen),  # the weights' digests differ from run to run
        "no table written; after deleting the shard the same command recomputes it: every table byte-identical",
        root,
    )
    target.unlink()
    proc = snakemake_at(root, *TINY)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert {p: p.read_bytes() for p in (root / "results/tables").rglob("*.csv")} == tables
    assert temporaries(root) == []


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
