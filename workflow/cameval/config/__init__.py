"""The config's checks, before any job: :func:`check_all`, the one pass (:mod:`~cameval.config.onepass`),
runs the strict loader and the checks of values that cannot work together
(:mod:`~cameval.config.values`) and of each model against its dataset (:mod:`~cameval.config.models`).

None of this needs Snakemake; ``workflow/rules/common.smk`` and ``python -m cameval check`` call
:func:`check_all`.
"""

from cameval.config.models import check_model, check_models, layer_needs, remembered_model_checks
from cameval.config.onepass import (
    SCHEMA,
    check_all,
    dataset_labels,
    dataset_shape,
    file_problems,
    key_path,
    model_problems,
    name_problems,
    nonfinite_problems,
    schema_problems,
    shipped_from,
    used,
)
from cameval.config.values import (
    StrictLoader,
    check_config,
    check_device,
    eval_splits,
    heatmap_uses,
    load_strict,
    model_classes,
    target_parts,
)

__all__ = [
    "SCHEMA",
    "StrictLoader",
    "check_all",
    "check_config",
    "check_device",
    "check_model",
    "check_models",
    "dataset_labels",
    "dataset_shape",
    "eval_splits",
    "file_problems",
    "heatmap_uses",
    "key_path",
    "layer_needs",
    "load_strict",
    "model_classes",
    "model_problems",
    "name_problems",
    "nonfinite_problems",
    "remembered_model_checks",
    "schema_problems",
    "shipped_from",
    "target_parts",
    "used",
]
