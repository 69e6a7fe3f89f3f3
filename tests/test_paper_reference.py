"""The study's printed values (resources/study/values.yaml) in config/paper.yaml, and in the tables.

The first test walks values.yaml and looks each number up where config/paper.yaml keeps it (the
mapping is written out here by hand, table by table); the others give the table functions that
reference and check that the numbers land in the columns and rows named for them, in the CSV frame
and in the Markdown.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cameval import tables
from cameval.experiments import localization, pointing, userstudy
from cameval.experiments.faithfulness.table import table7
from cameval.experiments.occlusion.table import TABLE3_METHODS, table3
from cameval.experiments.sensitivity.table import table6
from cameval.experiments.xray import table as xray_table

ROOT = Path(__file__).resolve().parents[1]
VALUES = yaml.safe_load((ROOT / "resources/study/values.yaml").read_text())
PAPER = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
TABLE5_SETS = {
    "gradcam": "xr_gradcam_conv",
    "gradcampp": "xr_gradcampp_conv",
    "integrated_gradients": "xr_ig",
    "gradient_shap": "xr_gradient_shap",
}


def paper_places() -> list[tuple[str, float, float]]:
    """(what, value in values.yaml, value in paper.yaml) for every number of values.yaml."""
    out = []
    for model, srcs in VALUES["table1"].items():
        for source, vals in srcs.items():
            for key, v in vals.items():
                out.append((f"table1.{model}.{source}.{key}", v, PAPER["table1"]["reference"][model][source][key]))
    for model, srcs in VALUES["table2"].items():
        for source, vals in srcs.items():
            for key, v in vals.items():
                out.append((f"table2.{model}.{source}.{key}", v, PAPER["table2"]["reference"][model][source][key]))
    ref3 = PAPER["table3"]["reference"]
    for method, srcs in VALUES["table3"].items():
        out.append((f"table3.{method}.study.mean", srcs["study"]["mean"], ref3["study"][method]["mean"]))
        out.append((f"table3.{method}.study.std", srcs["study"]["std"], ref3["study"][method]["std"]))
        out.append((f"table3.{method}.original.mean", srcs["original"]["mean"], ref3["original"][method]))
    for method, srcs in VALUES["table4"].items():
        for key, v in srcs["study"].items():
            out.append((f"table4.{method}.{key}", v, PAPER["table4"]["reference"][method][key]))
    ref5 = PAPER["table5"]["reference"]
    for model in ("A", "B"):
        for method, v in VALUES["table5"][model]["study"].items():
            out.append((f"table5.{model}.{method}.inbox", v, ref5["study"][model][TABLE5_SETS[method]]["inbox"]))
        for method, v in VALUES["table5"]["accuracy"][model].items():
            out.append((f"table5.{model}.{method}.accuracy", v, ref5["study"][model][TABLE5_SETS[method]]["loc_study"]))
    out.append(("table5.wang_et_al", VALUES["table5"]["accuracy"]["wang_et_al"], ref5["wang"]["loc_study"]["all"]))
    for model, vals in VALUES["table6"].items():
        study = PAPER["table6"]["reference"][model]["study"]
        out.append((f"table6.{model}.successful", vals["successful"], study["successful"]))
        for when in ("before", "after"):
            for key, v in vals[when].items():
                out.append((f"table6.{model}.{when}.{key}", v, study[f"{when}_{key}"]))
    for model, methods in VALUES["table7"].items():
        for method, vals in methods.items():
            for key, v in vals.items():
                out.append((f"table7.{model}.{method}.{key}", v, PAPER["table7"]["reference"][model][method][key]))
    return out


def _numbers(node) -> int:
    if isinstance(node, dict):
        return sum(_numbers(v) for v in node.values())
    return 1 if isinstance(node, (int, float)) else 0


def test_every_published_value_of_the_study_is_in_the_paper_config():
    places = paper_places()
    assert len(places) == _numbers(VALUES)  # every number of values.yaml is looked up once
    wrong = [(what, v, got) for what, v, got in places if got != v]
    assert not wrong


def test_values_yaml_is_the_studys_file_byte_for_byte():
    shared = ROOT.parents[0] / "shared/study/values.yaml"
    if not shared.is_file():
        pytest.skip("no ../shared/study/values.yaml beside this clone")
    assert (ROOT / "resources/study/values.yaml").read_bytes() == shared.read_bytes()


# --- the table functions put them beside ours ------------------------------------------------------


def _md(display: pd.DataFrame, digits: int = 2) -> str:
    return tables.to_markdown(display, digits)


def test_table1_shows_the_study_and_the_original_errors_per_model():
    rows = {
        (m, "gradcam"): pd.DataFrame({c: [1, 0, 1, 1] for c in ("loc_top1", "loc_top5", "cls_top1", "cls_top5")})
        for m in ("alexnet", "vgg16", "googlenet")
    }
    full, display = localization.table1(rows, PAPER["table1"]["reference"], n_boot=100)
    g = full.set_index("model").loc["googlenet"]
    assert (g["original_top1_loc"], g["original_top5_cls"], g["study_top1_cls"]) == (60.09, 11.3, 32.46)
    shown = display.set_index("model")
    assert shown.loc["alexnet", "top-5 cls. err. (original)"] == "20.80"
    assert shown.loc["vgg16", "top-1 loc. err. (study)"] == "55.82"


def test_table2_carries_the_original_googlenet_accuracy_and_the_study_values():
    rows = {
        m: pd.DataFrame({"hit_tol0": [1, 0], "hit_tol15": [1, 1], "recall": [0.5, 1.0]}) for m in ("vgg16", "googlenet")
    }
    full, display = pointing.table2(rows, [0, 15], PAPER["table2"]["reference"], n_boot=100)
    f = full.set_index("model")
    assert f.loc["googlenet", "original_accuracy"] == 0.7058 and pd.isna(f.loc["vgg16", "original_accuracy"])
    assert (f.loc["vgg16", "study_accuracy"], f.loc["googlenet", "study_recall"]) == (0.86420, 0.76685)
    d = display.set_index("model")
    assert d.loc["googlenet", "accuracy (original)"] == "0.7058" and d.loc["vgg16", "accuracy (original)"] == "–"
    assert d.loc["vgg16", "recall (study)"] == "0.82565"
    # without any original value the display has no original columns
    _, plain = pointing.table2(rows, [0], {"vgg16": {"study": {"accuracy": 0.9}}}, n_boot=100)
    assert "accuracy (original)" not in plain.columns and "accuracy (study)" in plain.columns


def test_table3_shows_the_study_means_and_stds_and_the_original_means():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({k: rng.uniform(-1, 1, 10) for k in TABLE3_METHODS})
    full, display = table3(
        {("vgg16", "occ25"): df, ("vgg16", "occ45"): df},
        {"occ25": 25, "occ45": 45},
        PAPER["table3"]["reference"],
        n_boot=100,
    )
    f = full.set_index("patch")
    # the study's values are for 45x45 only; the original paper's give no patch size: every row
    assert (f.loc[45, "study_gradcam"], f.loc[45, "study_gradcam_std"]) == (0.0505, 0.1283)
    assert pd.isna(f.loc[25, "study_gradcam"]) and f.loc[25, "original_guided_gradcam"] == 0.261
    assert f.loc[45, "original_guided_backprop"] == 0.168 and pd.isna(f.loc[45, "original_guided_backprop_std"])
    d = display.set_index("model")
    assert d.loc["(study)", "Guided Backprop"] == "0.0095 ± 0.1240" and d.loc["(study)", "patch"] == "45×45"
    assert d.loc["(study)", "n"] == 120 and d.loc["(original)", "Grad-CAM"] == "0.2540"
    assert "0.0526 ± 0.1287" in _md(display)


def test_table4_shows_the_studys_means_and_stds_beside_the_awaited_answers():
    full, display, awaiting = userstudy.table4(
        [],
        ROOT / "resources/study/user_study/key.csv",
        better="vgg",
        reference=PAPER["table4"]["reference"],
        n_boot=100,
    )
    f = full.set_index("method")
    assert awaiting and (f.loc["guided_gradcam", "study_mean"], f.loc["guided_gradcam", "study_std"]) == (
        0.2714,
        1.3731,
    )
    assert f.loc["guided_backprop", "study_mean"] == 0.4359
    assert "0.4359 ± 1.2850" in list(display["study mean ± std"])


def test_table5_shows_the_study_per_model_and_set_and_wang_overall():
    rows = {}
    for model in ("A", "B"):
        df = pd.DataFrame({"finding": ["Mass", "Nodule"]})
        for name in ("xr_gradcam_conv", "xr_gradcampp_conv"):
            df[f"{name}_loc_study"], df[f"{name}_loc_iou50"], df[f"{name}_inbox"] = [1.0, 0.0], [0.0, 0.0], [0.5, 0.1]
        for name in ("xr_ig", "xr_gradient_shap"):
            df[f"{name}_inbox"] = [0.3, 0.2]
        rows[model] = df
    sets = {
        "xr_gradcam_conv": {"method": "Grad-CAM", "layer": "conv"},
        "xr_gradcampp_conv": {"method": "Grad-CAM++", "layer": "conv"},
        "xr_ig": {"method": "IG", "layer": "input"},
        "xr_gradient_shap": {"method": "Gradient SHAP", "layer": "input"},
    }
    full = xray_table.table5(rows, sets, PAPER["table5"]["reference"], n_boot=100)
    overall = full[full["finding"] == "all"].set_index(["model", "set", "measure"])
    assert overall.loc[("A", "xr_gradcam_conv", "loc_study"), "study"] == 0.072
    assert overall.loc[("B", "xr_gradcampp_conv", "inbox"), "study"] == 0.2791
    assert overall.loc[("A", "xr_ig", "inbox"), "study"] == 0.2713
    assert overall.loc[("B", "xr_gradient_shap", "inbox"), "study"] == 0.4131
    assert overall.loc[("A", "xr_gradcampp_conv", "loc_study"), "wang"] == 0.228
    assert pd.isna(overall.loc[("A", "xr_gradcam_conv", "inbox"), "wang"])
    per = full[full["finding"] != "all"]
    assert per["study"].isna().all()  # the study's values are over all boxes
    md = xray_table.table5_markdown(full, [], "Table 5")
    overall_md = md.split("## Overall")[1].split("## Per finding")[0]
    line = next(ln for ln in overall_md.splitlines() if ln.startswith("| B | Grad-CAM | conv"))
    assert "(study 0.156)" in line and "(wang 0.228)" in line and "(study 0.2068)" in line


def test_table6_shows_the_studys_successful_count_and_statistics():
    df = pd.DataFrame({"success": [True, True, False]})
    for m in ("gradcam", "ig"):
        for k in ("before", "random_before", "after", "random_after", "pct_before", "pct_after"):
            df[f"{m}_{k}"] = [0.2, 0.4, 0.9]
    full, display = table6({"vgg16": df, "googlenet": df}, PAPER["table6"]["reference"], n_boot=100)
    g = full[(full["model"] == "googlenet") & (full["method"] == "gradcam")].iloc[0]
    assert g["study_successful"] == 76 and g["study_before_max"] == 0.9397 and g["study_after_min"] == 0.0028
    assert full[(full["method"] == "ig")]["study_before_mean"].isna().all()  # the study's values are Grad-CAM's
    d = display[(display["model"] == "vgg16") & (display["method"] == "Grad-CAM")].iloc[0]
    assert d["study: before"] == "0.0609 ± 0.0553 [0.0000, 0.2450]"
    assert d["study: after"] == "0.0683 ± 0.0716 [0.0000, 0.2840]" and d["study: successful"] == "76"


def test_table7_shows_the_study_per_model_method_and_percentile():
    df = pd.DataFrame(
        {
            "method": ["gradcam", "gradcam", "shap", "shap"],
            "percentile": [1, 10, 1, 10],
            "drop": 0.1,
            "correct_before": True,
            "correct_after": False,
            "contrastivity": 0.5,
            "mask_share": 0.1,
        }
    )
    full, display = table7({"googlenet_cifar10": df}, PAPER["table7"]["reference"], n_boot=100)
    f = full.set_index(["method", "percentile"])
    assert (f.loc[("gradcam", 1), "study_fidelity"], f.loc[("gradcam", 10), "study_contrastivity"]) == (0.782, 0.911)
    assert (f.loc[("shap", 10), "study_fidelity"], f.loc[("shap", 1), "study_contrastivity"]) == (0.798, 0.694)
    d = display.set_index(["method", "percentile"])
    assert d.loc[("Grad-CAM", 10), "fidelity (study)"] == "0.770"
