"""Plain helpers several test files share (fixtures live in tests/conftest.py): small seeded models and
image sets made by code, and the reading of a dry-run's output."""

from __future__ import annotations

import re
from pathlib import Path


def job_counts(dry_run: str) -> dict[str, int]:
    """``{rule: jobs}`` of a dry-run's 'Job stats' table (its ``total`` row left out)."""
    block = dry_run.split("Job stats:", 1)[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m[1] != "total"}


def tiny_classifier(seed: int = 0):
    """A seeded 3-channel conv net of 5 classes in eval mode (conv, ReLU, 2x2 pool, linear): an attack's
    or explainer's model whose every output can be checked against a loop of forward passes."""
    import torch  # noqa: PLC0415  (a test file that never uses it need not import torch)
    from torch import nn  # noqa: PLC0415

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5)
    ).eval()


def digits_with_small_vgg(root: Path, test: int, train: int = 12, val: int = 6, models: dict | None = None) -> Path:
    """A tiny digits-loc set in ``root`` (32 px, one clutter digit; ``images.h5``, ``manifest.csv``) and,
    for each ``name: seed`` of ``models`` (default ``{"model": 0}``), a random 10-class small_vgg
    saved as ``name.safetensors``: the inputs of a heatmap, metric or batch job. Returns ``root``."""
    import torch  # noqa: PLC0415

    from cameval.data.digits import DigitsLocSpec, make_digits_loc  # noqa: PLC0415
    from cameval.models import build_model  # noqa: PLC0415
    from cameval.models.registry import save_model  # noqa: PLC0415

    counts = {"train": train, "val": val, "test": test}
    make_digits_loc(root / "images.h5", root / "manifest.csv", DigitsLocSpec(size=32, counts=counts, clutter=1, seed=0))
    for name, seed in (models or {"model": 0}).items():
        torch.manual_seed(seed)
        model = build_model("small_vgg", num_classes=10)
        save_model(model, root / f"{name}.safetensors", "small_vgg", build={"num_classes": 10})
    return root
