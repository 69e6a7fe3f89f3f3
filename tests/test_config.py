"""cameval.config: duplicated keys and the parse-time checks the schema cannot express."""

import copy
from pathlib import Path

import pytest
import yaml

from cameval.config import check_config, check_device, check_models, load_strict, model_classes, target_parts
from cameval.errors import ConfigError
from cameval.paths import check_root

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["config/config.yaml", "config/paper.yaml", "tests/configs/tiny.yaml"]


@pytest.mark.parametrize("name", CONFIGS + ["profiles/default/config.yaml", "profiles/slurm/config.yaml"])
def test_shipped_files_load_strictly_as_plain_yaml_loads_them(name):
    path = ROOT / name
    assert load_strict(path) == yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    "text, key, lines",
    [
        ("seed: 0\ndevice: cpu\nseed: 1\n", "seed", (1, 3)),
        ("table4:\n  answers: []\n  pool: 3\n  answers: [a.csv]\n", "table4.answers", (2, 4)),
        ("a:\n  - {b: 1, c: 2}\n  - b: 1\n    b: 2\n", r"a\[1\].b", (3, 4)),
        ('{"x": {"y": 1, "y": 2}}\n', "x.y", (1, 1)),  # JSON is YAML too
    ],
)
def test_a_key_given_twice_names_the_file_the_key_path_and_both_lines(tmp_path, text, key, lines):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"dup.yaml: key {key} is given twice, on lines {lines[0]} and {lines[1]}"):
        load_strict(path)


def test_the_same_key_in_different_mappings_is_no_duplicate(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("a: {seed: 1}\nb: {seed: 2}\nseed: 3\nbase: &b {k: 1}\nc: {<<: *b, j: 2}\n")
    assert load_strict(path) == {"a": {"seed": 1}, "b": {"seed": 2}, "seed": 3, "base": {"k": 1}, "c": {"k": 1, "j": 2}}


@pytest.fixture(scope="module")
def tiny():
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    return cfg


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_pass(name):
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / name).read_text())
    validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    check_config(cfg)


def test_target_parts_and_model_classes():
    assert target_parts("top5+label") == [5, "label"] and target_parts("label") == ["label"]
    assert model_classes({"num_classes": 10}) == 10
    assert model_classes({"classes": ["a", "b", "c"]}) == 3
    assert model_classes({"weights": "torchvision:VGG16_Weights.IMAGENET1K_V1"}) == 1000
    assert model_classes({"weights": "x.pth"}) is None


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda c: c["heatmaps"]["gradcam"].update(targets="top50+label"),
            r"heatmaps.gradcam.targets: 'top50\+label' asks for the top 50 classes, but model vgg \(figure1\) has 10 "
            r"\(expected top10 at most\)",
        ),
        (
            lambda c: c["heatmaps"]["gradcampp"].update(targets="top11"),
            r"heatmaps.gradcampp.targets: 'top11' .* has 10",
        ),
        (
            lambda c: c["heatmaps"]["gradcam"].update(targets="top3+label"),
            r"heatmaps.gradcam.targets: 'top3\+label' "
            r"\(expected top5 or more first",
        ),
        (lambda c: c["heatmaps"]["gradcam"].update(targets="top6+label"), r"expected top5\+label: the pointing game"),
        (
            lambda c: c["heatmaps"]["guided_backprop"].update(targets="label"),
            r"heatmaps.guided_backprop.targets: "
            r"'label' \(expected topK first: table3.guided_backprop",
        ),
        (
            lambda c: c["datasets"]["digits-loc"].update(eval_split="tset"),
            r"datasets.digits-loc.eval_split: 'tset' is not a split of this digits set \(expected one of \['train', "
            r"'val', 'test'\]\)",
        ),
        (
            lambda c: c["table7"].update(images={"mnist_net": 100}),
            r"table7.images: \{'mnist_net': 100\} has no number for \['googlenet'\] "
            r"\(expected one number, or one per model",
        ),
        (
            lambda c: c["table7"].update(images={"mnist_net": 1, "googlenet": 1, "vgg": 1}),
            r"names \['vgg'\], not in table7",
        ),
        (
            lambda c: c["table4"].update(guided_backprop="gradcam"),
            r"table4.guided_backprop: heatmaps.gradcam has method gradcam \(expected a set of method guided_backprop\)",
        ),
        (lambda c: c["table3"].update(gradcam="gradcampp"), r"table3.gradcam: heatmaps.gradcampp has method gradcampp"),
        (
            lambda c: c["table2"].update(heatmaps=["gradcam", "guided_backprop"]),
            r"table2.heatmaps: heatmaps.guided_backprop has method guided_backprop \(expected a set of method "
            r"gradcam or gradcampp\); a library's or your own cam-type method fits too",
        ),
        (
            lambda c: c["table1"].update(methods=["gradcam", "guided_backprop"]),
            r"table1.methods: heatmaps.guided_backprop has method guided_backprop "
            r"\(expected a set of method gradcam or "
            r"gradcampp\)",
        ),
        (lambda c: c["table5"].update(cams=["xr_ig"]), r"table5.cams: heatmaps.xr_ig has method integrated_gradients"),
        (
            lambda c: c["table5"].update(pixels=["xr_gradcam_conv"]),
            r"table5.pixels: heatmaps.xr_gradcam_conv has method "
            r"gradcam \(expected a set of method integrated_gradients or gradient_shap\)",
        ),
        (
            lambda c: c["heatmaps"]["gradcampp"].update(method="gradcam"),
            r"heatmaps.gradcampp.method: gradcam \(expected "
            r"gradcampp: Figure 1",
        ),
        (
            lambda c: c["table5"].update(models=["A", "vgg"]),
            r"table5.models: vgg is trained on digits-loc, not on table5.dataset digits-multi",
        ),
        (
            lambda c: c["table1"].update(models=["vgg", "mnist_net"]),
            r"table1.models: mnist_net is trained on mnist-real",
        ),
        (lambda c: c["fgsm"].update(models=["A"]), r"fgsm.models: A is trained on digits-multi, not on fgsm.dataset"),
        (
            lambda c: c["table4"].update(models=["vgg", "mnist_net"]),
            r"table4.models: mnist_net is trained on mnist-real",
        ),
    ],
)
def test_values_that_cannot_work_together_are_refused_naming_the_key(tiny, edit, match):
    cfg = copy.deepcopy(tiny)
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        check_config(cfg)


def test_cuda_without_a_gpu_is_refused_on_local_runs_only(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device: cuda, but torch sees no CUDA GPU .*set `device: cpu`"):
        check_device("cuda", local_run=True)
    check_device("cuda", local_run=False)  # dry-run, or the jobs run on cluster nodes
    check_device("cpu", local_run=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_device("cuda", local_run=True)


# --- models and methods by name ------------------------------------------------------------------


def test_library_methods_stand_in_the_roles_of_their_kind(tiny):
    cfg = copy.deepcopy(tiny)
    cfg["heatmaps"]["sal"] = {"method": "captum:Saliency", "targets": "label", "params": {}}
    cfg["table5"]["pixels"] = ["xr_ig", "sal"]
    check_config(cfg)  # scorecam, layercam (CAM-type) in table1.methods; Saliency (pixel-type) in table5.pixels
    cfg["table1"]["methods"] = ["gradcam", "sal"]
    with pytest.raises(ConfigError, match=r"table1.methods: heatmaps.sal has method captum:Saliency .*cam-type"):
        check_config(cfg)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda c: c["table6"].update(methods=["saliency"]),
            r"table6.methods: heatmaps.saliency has method captum:Saliency \(expected a set of method gradcam or "
            r"gradcampp\); a library's or your own cam-type method fits too",
        ),
        (
            lambda c: c["figure1"].update(methods=["guided_backprop"]),
            r"figure1.methods: heatmaps.guided_backprop has method guided_backprop",
        ),
        (
            lambda c: c["table3"].update(methods=["occlusion3"]),
            r"table3.methods: heatmaps.occlusion3 has method occlusion",
        ),
        (
            lambda c: c["heatmaps"]["saliency"].update(targets="label"),
            r"heatmaps.saliency.targets: 'label' \(expected topK first: table3.methods reads",
        ),
    ],
)
def test_the_further_sets_of_tables_3_6_and_figure_1_must_be_of_their_kind(tiny, edit, match):
    cfg = copy.deepcopy(tiny)
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        check_config(cfg)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c["table2"].update(heatmaps=["gradcam", "nowhere"]), r"table2.heatmaps: 'nowhere' is not defined"),
        (lambda c: c["table3"].update(methods=["gradcam"]), r"table3.methods: gradcam \(expected further sets"),
        (
            lambda c: c["heatmaps"]["saliency"].update(images=3),
            r"table3.methods: heatmaps.saliency.images is 3, below table3.images 5",
        ),
        (lambda c: c["table6"].update(methods=["layercam", "layercam"]), r"table6.methods: layercam \(expected"),
        (
            lambda c: c["heatmaps"]["layercam"].update(shard_size=1),
            r"figure1.methods: heatmaps.layercam holds fewer than figure1.images = 2",
        ),
    ],
)
def test_the_experiments_refuse_further_sets_they_cannot_read(tiny, edit, match):
    from cameval.experiments.registry import check

    cfg = copy.deepcopy(tiny)
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        check(cfg, lambda path: path)


def test_own_method_needs_its_kind(tiny):
    cfg = copy.deepcopy(tiny)
    cfg["heatmaps"]["mine"] = {"method": "mypackage.cams:my_cam", "targets": "top5", "params": {}}
    with pytest.raises(
        ConfigError, match=r"heatmaps.mine.kind: None for method 'mypackage.cams:my_cam' \(expected cam"
    ):
        check_config(cfg)
    cfg["heatmaps"]["mine"]["kind"] = "cam"
    cfg["table1"]["methods"] = ["gradcam", "mine"]
    check_config(cfg)
    cfg["heatmaps"]["scorecam"]["kind"] = "pixel"
    with pytest.raises(ConfigError, match=r"heatmaps.scorecam.kind: 'pixel' .* of kind 'cam'"):
        check_config(cfg)


def test_a_model_without_a_default_layer_stops_at_parse_time_asking_for_layer(tiny):
    cfg = copy.deepcopy(tiny)
    cfg["models"]["vit"] = {"arch": "vit_b_16", "dataset": "digits-loc", "num_classes": 10, "train": {}}
    check_models(cfg)  # not explained by any table yet
    cfg["table1"]["models"].append("vit")
    with pytest.raises(
        ConfigError, match=r"models.vit: VisionTransformer: no convolutional .*add `layer:` to models.vit"
    ):
        check_models(cfg)
    cfg["models"]["vit"]["layer"] = "encoder.layers.encoder_layer_11"
    check_models(cfg)
    cfg["models"]["vit"]["arch"] = "resnet9"
    with pytest.raises(ConfigError, match=r"models.vit.arch: 'resnet9' is not one of"):
        check_models(cfg)


@pytest.mark.parametrize(
    "root", ["resources", "resources/b", "./resources", ".", "results-{model}", "logs", "../..", "/", "results/.."]
)
def test_a_results_root_of_no_folder_of_its_own_is_refused_naming_the_key(root):
    with pytest.raises(ConfigError, match=r"^results: "):
        check_root({"results": root})


def test_a_results_root_beside_or_far_from_the_workflow_is_accepted(tmp_path):
    for root in ("results-b", "runs/b/", str(tmp_path / "results"), "../results-b"):
        check_root({"results": root})


def test_the_experiments_ask_for_their_files_under_the_results_root(tiny):
    """What `all` asks of every experiment and every table's accuracy inputs lie under ``results``
    (trailing slash normalized); a trained model's record stays with the shared models."""
    from cameval.experiments import sanity  # noqa: PLC0415
    from cameval.experiments.registry import targets  # noqa: PLC0415
    from cameval.tables import accuracy_inputs  # noqa: PLC0415

    cfg = {**tiny, "results": "runs/b/"}
    files = [*targets(cfg), *accuracy_inputs(cfg, cfg["table1"]["models"]).values()]
    assert files and all(f.startswith("runs/b/") for f in files)
    assert "runs/b/claims.md" in files and "runs/b/report/table1.html" in files
    inputs = sanity.table_inputs(cfg)
    assert all(f.startswith("runs/b/metrics/sanity/") for m, f in inputs.items() if not m.startswith("twin__"))
    assert all(f.startswith("resources/models/") for m, f in inputs.items() if m.startswith("twin__"))
