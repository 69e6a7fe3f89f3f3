"""Table 6 and Appendix F: one-pixel attacks and what Grad-CAM (and IG) said about the pixel.

The package: :mod:`.compute` (the job's torch work: the attacks and the maps before and after, cached in
attack shards, and the replay of the study's own attacks), :mod:`.rows` (the per-image values read from
the shards), :mod:`.table` (Table 6 and Table 6 on the study's attacks), :mod:`.figure` (Appendix F),
:mod:`.claims`; this module holds the record and the config helpers its rules read.
"""

from __future__ import annotations

import math
import os

from cameval.errors import ConfigError
from cameval.experiments.record import Experiment, require, require_dataset_models, table_files
from cameval.experiments.sensitivity.claims import CLAIMS
from cameval.experiments.sensitivity.table import TABLE6_METHODS
from cameval.methods import label as method_label
from cameval.paths import layout


def n_attacked(config: dict, n_eval: int) -> int:
    """Images Table 6 attacks: the first ``table6.images`` of the evaluation split (``n_eval`` images)."""
    return min(config["table6"]["images"], n_eval)


def attack_rows(config: dict, shard: int, n_eval: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of the evaluation split that attack shard ``shard`` covers."""
    size = config["table6"]["shard_size"]
    return shard * size, min((shard + 1) * size, n_attacked(config, n_eval))


def attack_shards(config: dict, dataset: str, model: str, n_eval: int) -> list[str]:
    """The one-pixel attack shards of ``model`` on the first ``table6.images`` of ``dataset``."""
    n = math.ceil(n_attacked(config, n_eval) / config["table6"]["shard_size"])
    return [layout(config).attack("one_pixel", dataset, model, shard) for shard in range(n)]


def extra_labels(config: dict) -> dict[str, str]:
    """``{set: label}`` of the heatmap sets of ``table6.methods``, in order."""
    return {h: method_label(config["heatmaps"][h]["method"]) for h in config.get("table6", {}).get("methods", [])}


def extra_inputs(config: dict, dataset: str, model: str) -> dict[str, str]:
    """What the sensitivity job reads beyond the attack shards, the model and the manifest (what the
    shards are checked against): the image set (its mean and std) where ``table6.methods`` names
    further sets, else nothing."""
    if not config.get("table6", {}).get("methods"):
        return {}
    return {"images": layout(config).images(dataset)}


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table6")
    methods = config["table6"]["methods"]
    for h in methods:
        require("table6.methods", h, config["heatmaps"])
        if h in ("gradcam", "ig", *TABLE6_METHODS) or methods.count(h) > 1:
            raise ConfigError(
                f"table6.methods: {h} (expected further heatmap sets, each once; Grad-CAM and IG are Table 6's own "
                "rows, and a set may not be named gradcam or ig)"
            )
    for model, f in (config["table6"].get("study_attacks") or {}).items():
        require("table6.study_attacks", model, config["table6"]["models"])
        if not os.path.isfile(shipped(f)):
            raise ConfigError(
                f"table6.study_attacks.{model}: no file {f} (expected the study's attacks, "
                "'index,value' lines as shipped in resources/study/one_pixel/)"
            )


def targets(config: dict) -> list[str]:
    files = [*table_files(config, "table6"), layout(config).figure("appendix_f")]
    if config["table6"].get("study_attacks"):
        files += table_files(config, "table6_study")
    return files


EXPERIMENT = Experiment(
    name="sensitivity",
    order=6,
    title="Table 6 / App. F — sensitivity (one-pixel attacks)",
    section="table6",
    targets=targets,
    tables=("table6", "table6_study"),
    claims=CLAIMS,
    check=check,
)
