"""Table 5: localization of findings per model, per finding and overall, with bootstrap intervals."""

import json

import pandas as pd

from cameval.logs import setup_logging
from cameval.xray import table5, write_table5

setup_logging(snakemake.log[0])
p = snakemake.params
cfg = p.cfg
rows = {m: pd.read_csv(snakemake.input[m]) for m in cfg["models"]}
auroc = {
    m: json.load(open(snakemake.input[f"auroc__{m}"])).get("test_auroc")
    if f"auroc__{m}" in snakemake.input.keys()
    else None
    for m in cfg["models"]
}
full = table5(rows, p.sets, cfg["reference"], auroc=auroc, thresholds=cfg["thresholds"], n_boot=p.n_boot, seed=p.seed)
write_table5(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    notes=[
        f"Box: largest 8-connected component of the CAM >= {cfg['box_threshold']:g} x max (CAM upsampled bilinearly "
        "to the image); eq. 3: IoU >= min(0.5, wh/((w+10)(h+10))) with the finding's box; IoU >= 0.5 likewise.",
        f"In-box: share of the pixels >= {cfg['inbox_threshold']:g} x max inside the finding's box(es); pixel maps "
        f"(IG, Gradient SHAP) reduced over channels as '{cfg['reduce']}' (abs_sum = sum over channels of |attribution|).",
        "T(IoU), T(IoBB): Wang et al. (ChestX-ray8, CVPR 2017) — share of rows whose box has IoU (resp. overlap / area "
        "of the predicted box) >= T with the finding's box; our boxes come from the CAM as above, theirs from their "
        "own heatmaps, so their values (in parentheses) are a published benchmark beside ours, not the same method.",
        "Layers: 'last dense conv' = the study's layer (conv2 of the last dense layer; features.denseblock4.denselayer16.conv2 "
        "in DenseNet-121); 'block + ReLU' = the last dense block's output after norm5 and its ReLU (CheXNet-style CAMs).",
        "Each row explains its ground-truth finding, matched to the model's output unit by name; one row per (image, boxed finding).",
        "AUROC: the model's test mean AUROC (trained models only); 'study' = Nagy et al., where the config gives it.",
    ],
)
