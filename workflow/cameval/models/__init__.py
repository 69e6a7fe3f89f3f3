"""Model registry, weight loading (torchvision, safetensors, state dicts) and training."""

from cameval.models.registry import (
    ARCHS,
    build_model,
    from_torchvision,
    import_weights,
    load_model,
    load_weights,
    model_digest,
    model_metadata,
    read_state_dict,
    save_model,
)
from cameval.models.train import evaluate, train_classifier

__all__ = [
    "ARCHS",
    "build_model",
    "from_torchvision",
    "import_weights",
    "load_model",
    "load_weights",
    "model_digest",
    "model_metadata",
    "read_state_dict",
    "save_model",
    "train_classifier",
    "evaluate",
]
