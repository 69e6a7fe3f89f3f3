"""Table 7 and Appendix G: fidelity and contrastivity of Grad-CAM, SHAP and Integrated Gradients.

Every method's map of *every* class for the first images of each model's evaluation split (contrastivity
compares the label's mask with each other class's), cached; per image, method and percentile the
contrastivity of the binarized masks and the label's probability before and after the label mask's
pixels are set to the dataset's mean.

The package: :mod:`.compute` (the job's torch work: the class maps, cached, and the fidelity rows),
:mod:`.table`, :mod:`.figure`, :mod:`.claims`; this module holds the record and the config helpers
its rules read.
"""

from __future__ import annotations

from cameval.experiments.faithfulness.claims import CLAIMS
from cameval.experiments.record import Experiment, require, table_files
from cameval.paths import layout


def images_of(config: dict, model: str) -> int:
    """table7.images: one number for every model, or a number per model."""
    n = config["table7"]["images"]
    return int(n[model]) if isinstance(n, dict) else int(n)


def table_inputs(config: dict) -> dict[str, str]:
    """Per model: the fidelity rows, and the accuracy on the whole evaluation split (``accuracy__<model>``)."""
    files, paths = {}, layout(config)
    for m in config["table7"]["models"]:
        dataset = config["models"][m]["dataset"]
        files[m] = paths.metrics("fidelity", dataset, m)
        files[f"accuracy__{m}"] = paths.accuracy(dataset, m)
    return files


def check(config: dict, shipped) -> None:
    for model in config["table7"]["models"]:
        require("table7.models", model, config["models"])


EXPERIMENT = Experiment(
    name="faithfulness",
    order=7,
    title="Table 7 / App. G — fidelity and contrastivity",
    section="table7",
    targets=lambda config: [*table_files(config, "table7"), layout(config).figure("appendix_g")],
    tables=("table7",),
    claims=CLAIMS,
    check=check,
)
