"""The Snakemake workflow: dry-runs of both configs and a tiny end-to-end run of the default."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow


def snakemake(*args, workdir, check=True):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry-run as {rule: count}."""
    block = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m[1] != "total"}


@pytest.fixture(scope="session")
def chexnet_checkpoints(tmp_path_factory):
    """Model "A" in CheXNet's layout and model "B" as converted safetensors, random weights."""
    import torch
    import torchvision
    from conftest import chexnet_checkpoint
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("chexnet")
    torch.manual_seed(0)
    model = torchvision.models.densenet121(num_classes=14)
    chexnet_checkpoint(model, root / "A.pth.tar")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "B.safetensors"))
    return {"A": root / "A.pth.tar", "B": root / "B.safetensors"}


@pytest.fixture
def paper_config(tmp_path, tiny_imagenet, tiny_chestxray, chexnet_checkpoints):
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    cfg["datasets"]["imagenet"].update(images=str(tiny_imagenet["images"]), annotations=str(tiny_imagenet["xml"]),
                                       synsets=str(tiny_imagenet["synsets"]), limit=4)
    cfg["datasets"]["chestxray"].update(images=str(tiny_chestxray["images"]), data_entry=str(tiny_chestxray["data_entry"]),
                                        bbox_list=str(tiny_chestxray["bbox_list"]))
    for name, path in chexnet_checkpoints.items():
        cfg["models"][name]["weights"] = str(path)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_default_config_dry_run_plans_every_stage(tmp_path):
    out = snakemake("-n", "all", "--configfile", str(ROOT / "config/config.yaml"), workdir=tmp_path).stdout
    counts = job_counts(out)
    # 1000 test images: 2 shards of 500 per CAM method and model (3 models x 2 methods); the
    # first guided-backprop shard (24 images) of each model for Figure 1, which Table 3 reuses;
    # 24 occlusion images of VGG in 2 shards of 12 for each of the two patch sizes
    # Table 5: digits-multi and models A and B; 60 test canvases = 120 (canvas, digit) rows in one shard
    # per heatmap set (4 CAM sets + IG + Gradient SHAP) and model
    assert counts == {"dataset": 2, "train_model": 5, "heatmaps": 3 * 2 * 2 + 3 + 2 * 2 + 6 * 2, "localization": 6,
                      "table1": 1, "figure1": 1, "pointing": 2, "table2": 1, "rank_correlation": 2,
                      "table3": 1, "appendix_b": 1, "fgsm": 2, "fgsm_table": 1, "appendix_c": 1,
                      "xray_localization": 2, "table5": 1, "table5_figure": 1, "appendix_e": 1, "all": 1}


def test_table1_alone_needs_no_figure_inputs(tmp_path):
    out = snakemake("-n", "results/tables/table1.csv", "--configfile", str(ROOT / "config/config.yaml"),
                    workdir=tmp_path).stdout
    counts = job_counts(out)
    assert "figure1" not in counts
    assert counts["heatmaps"] == 12  # gradcam and gradcampp only: 3 models x 2 methods x 2 shards
    assert "guided_backprop" not in out and "occlusion" not in out


def test_table3_alone_computes_only_the_maps_it_needs(tmp_path):
    out = snakemake("-n", "results/tables/table3.csv", "--configfile", str(ROOT / "config/config.yaml"),
                    workdir=tmp_path).stdout
    counts = job_counts(out)
    # VGG only: the first Grad-CAM shard (500 images cover the first 24), the first guided-backprop
    # shard, and 2 + 2 occlusion shards; no other model is trained
    assert counts["heatmaps"] == 1 + 1 + 4 and counts["train_model"] == 1
    assert "localization" not in counts and "figure1" not in counts


def test_table2_after_table1_reuses_the_gradcam_shards(tmp_path):
    """Table 2 reads the very shard files Table 1 reads: no heatmap job of its own."""
    cfg = ["--configfile", str(ROOT / "config/config.yaml")]
    t1 = snakemake("-n", "results/tables/table1.csv", *cfg, workdir=tmp_path).stdout
    t2 = snakemake("-n", "results/tables/table2.csv", *cfg, workdir=tmp_path).stdout
    shards_t2 = set(re.findall(r"results/heatmaps/\S+?\.h5", t2))
    shards_t1 = set(re.findall(r"results/heatmaps/\S+?\.h5", t1))
    assert shards_t2 and shards_t2 <= shards_t1


def test_paper_config_dry_run_against_imagenet_fixture(tmp_path, paper_config):
    out = snakemake("-n", "all", "--configfile", str(paper_config), workdir=tmp_path).stdout
    counts = job_counts(out)
    assert counts["import_model"] == 3 + 2 and counts["dataset"] == 2  # + ChestX-ray14 and models A, B (Table 5)
    out = snakemake("-n", "results/tables/table1.csv", "--configfile", str(paper_config), workdir=tmp_path).stdout
    assert job_counts(out)["heatmaps"] == 6  # 4 images: one shard per model and CAM method
    # Table 2 reads those Grad-CAM shards of VGG-16 and GoogLeNet; Table 3 only VGG-16's maps
    out = snakemake("-n", "results/tables/table2.csv", "--configfile", str(paper_config), workdir=tmp_path).stdout
    counts = job_counts(out)
    assert counts["heatmaps"] == 2 and counts["pointing"] == 2 and counts["import_model"] == 2
    out = snakemake("-n", "results/tables/table3.csv", "--configfile", str(paper_config), workdir=tmp_path).stdout
    counts = job_counts(out)
    assert counts["import_model"] == 1 and counts["rank_correlation"] == 2
    assert set(re.findall(r"results/heatmaps/imagenet/(\w+)/", out)) == {"vgg16"}


def test_table5_alone_builds_only_what_it_needs(tmp_path):
    out = snakemake("-n", "results/tables/table5.csv", "--configfile", str(ROOT / "config/config.yaml"),
                    workdir=tmp_path).stdout
    counts = job_counts(out)
    assert counts == {"dataset": 1, "train_model": 2, "heatmaps": 12, "xray_localization": 2, "table5": 1}
    assert "digits-loc" not in out


def test_paper_config_plans_every_table5_job_against_chestxray_fixture(tmp_path, paper_config):
    out = snakemake("-n", "results/tables/table5.csv", "results/figures/appendix_e.png", "--configfile",
                    str(paper_config), workdir=tmp_path).stdout
    counts = job_counts(out)
    # the fixture's 5 (image, boxed finding) rows fit one shard of every set: 6 sets x 2 models
    assert counts == {"dataset": 1, "import_model": 2, "heatmaps": 12, "xray_localization": 2, "table5": 1,
                      "appendix_e": 1}
    assert set(re.findall(r"results/heatmaps/(\w+)/", out)) == {"chestxray"}
    out = snakemake("-n", "all", "--configfile", str(paper_config), workdir=tmp_path).stdout
    assert job_counts(out)["import_model"] == 5 and job_counts(out)["table5_figure"] == 1


@pytest.mark.parametrize("key, expected", [("bbox_list", "BBox_List_2017.csv"), ("data_entry", "Data_Entry_2017.csv"),
                                           ("images", "PNGs")])
def test_missing_chestxray_file_fails_at_parse_time_naming_the_key(tmp_path, paper_config, key, expected):
    cfg = yaml.safe_load(paper_config.read_text())
    cfg["datasets"]["chestxray"][key] = str(tmp_path / "nowhere")
    paper_config.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "all", "--configfile", str(paper_config), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert f"datasets.chestxray.{key}" in proc.stdout + proc.stderr and expected in proc.stdout + proc.stderr


def test_missing_imagenet_folder_fails_at_parse_time_naming_the_key(tmp_path, paper_config):
    cfg = yaml.safe_load(paper_config.read_text())
    cfg["datasets"]["imagenet"]["images"] = str(tmp_path / "nowhere")
    paper_config.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "all", "--configfile", str(paper_config), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert "datasets.imagenet.images" in proc.stdout + proc.stderr
    assert "ILSVRC2012_val_" in proc.stdout + proc.stderr


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["table1"].pop("models"), "models"),
    (lambda c: c["table1"].update(rule="voc"), "voc"),
    (lambda c: c["models"]["vgg"].update(arch="resnet9"), "resnet9"),
    (lambda c: c["table1"].update(models=["vgg", "nosuch"]), "nosuch"),
    (lambda c: c["heatmaps"]["gradcam"].update(targets="top0"), "top0"),
])
def test_bad_config_fails_at_parse_time_naming_the_key(tmp_path, edit, key):
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    edit(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "all", "--configfile", str(path), workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert key in proc.stdout + proc.stderr


@pytest.mark.e2e
def test_tiny_end_to_end_run_builds_every_artifact_then_nothing(tmp_path):
    cfg = ["--configfile", str(ROOT / "tests/configs/tiny.yaml")]
    snakemake("all", *cfg, workdir=tmp_path)
    table = pd.read_csv(tmp_path / "results/tables/table1.csv")
    assert set(table["model"]) == {"vgg", "googlenet"} and set(table["method"]) == {"gradcam", "gradcampp"}
    for col in ("top1_loc", "top5_loc", "top1_cls", "top5_cls"):
        assert table[col].between(0, 100).all()
        assert (table[f"{col}_low"] <= table[col]).all() and (table[col] <= table[f"{col}_high"]).all()
    # localization can only be right where classification is: loc error >= cls error
    assert (table["top1_loc"] >= table["top1_cls"]).all() and (table["top5_loc"] >= table["top5_cls"]).all()
    assert (tmp_path / "results/tables/table1.md").read_text().startswith("# Table 1")
    # Table 2: fractions with intervals, one row per model, accuracy at both tolerances
    t2 = pd.read_csv(tmp_path / "results/tables/table2.csv")
    assert set(t2["model"]) == {"vgg", "googlenet"} and (t2["n"] == 24).all()
    for col in ("accuracy_tol0", "accuracy_tol2", "recall"):
        assert t2[col].between(0, 1).all() and (t2[f"{col}_low"] <= t2[col]).all()
    assert (t2["accuracy_tol2"] >= t2["accuracy_tol0"]).all()  # a tolerance can only add hits
    # Table 3: one row per patch size over the first 5 images, rho in [-1, 1]
    t3 = pd.read_csv(tmp_path / "results/tables/table3.csv")
    assert sorted(t3["patch"]) == [3, 7] and (t3["n"] == 5).all()
    for col in ("guided_backprop", "gradcam", "guided_gradcam"):
        assert t3[col].between(-1, 1).all()
    fg = pd.read_csv(tmp_path / "results/tables/fgsm.csv")
    assert fg["n"].tolist() == [10] and fg["acc_adv"].iloc[0] <= fg["acc_clean"].iloc[0] + 1e-9
    # Table 5: per model, overall and per finding; 6 canvases hold 12 (canvas, digit) rows
    t5 = pd.read_csv(tmp_path / "results/tables/table5.csv")
    overall = t5[t5["finding"] == "all"]
    assert set(overall["model"]) == {"A", "B"} and (overall["n"] == 12).all()
    assert set(overall["measure"]) >= {"loc_study", "loc_iou50", "inbox", "iou@0.5", "iobb@0.25"}
    assert overall["value"].between(0, 1).all() and (overall["low"] <= overall["value"] + 1e-12).all()
    assert set(overall[overall["measure"] == "inbox"]["method"]) == {
        "Grad-CAM", "Grad-CAM++", "Integrated Gradients", "Gradient SHAP"}
    assert overall["auroc"].between(0, 1).all()
    per = t5[(t5["finding"] != "all") & (t5["measure"] == "inbox") & (t5["set"] == "xr_ig")]
    assert per.groupby("model")["n"].sum().tolist() == [12, 12]
    for name in ("figure1", "appendix_b", "appendix_c", "table5", "appendix_e"):
        assert (tmp_path / f"results/figures/{name}.png").stat().st_size > 10_000, name
    again = snakemake("-n", "all", *cfg, workdir=tmp_path).stdout
    assert "Nothing to be done" in again
