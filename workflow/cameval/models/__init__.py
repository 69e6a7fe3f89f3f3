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


def __getattr__(name: str):
    # training is imported on first use: it pulls in the metrics package (scipy.stats, ~0.8 s here),
    # which the many jobs that only load a model never need
    if name in ("evaluate", "train_classifier"):
        from cameval.models import train  # noqa: PLC0415

        return getattr(train, name)
    raise AttributeError(f"module 'cameval.models' has no attribute {name!r}")


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
