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


#: evaluation images of the ``wiring_source`` fixture (tests/conftest.py)
WIRING_N = 6


def wiring_shard(source, name, method, targets, **params):
    """A heatmap shard of the ``wiring_source`` set's test images (written once per name)."""
    from cameval.heatmaps import ShardJob, compute_shard  # noqa: PLC0415  (loads torch)

    out = source["root"] / f"{name}.h5"
    if not out.exists():
        compute_shard(
            source["weights"],
            source["images"],
            source["manifest"],
            str(out),
            ShardJob(method, targets, "test", 0, WIRING_N, params=params, batch_size=WIRING_N),
            progress=False,
        )
    return str(out)


def loud(linear, factor: float) -> None:
    """Scale a classifier head so that gradients at the CAM layer are O(1).

    pytorch-grad-cam's Grad-CAM++ adds eps=1e-6 to its denominator 2g² + ΣA·g³; with seeded random
    weights g is ~1e-3 and eps would dominate. Every method here is linear in the score, so this
    changes no comparison but that one.
    """
    import torch  # noqa: PLC0415

    with torch.no_grad():
        linear.weight.mul_(factor)
        linear.bias.mul_(factor)


def pgc_unnormalized(cam_cls, model, layer, x, target: int):
    """pytorch-grad-cam's CAM at the layer grid before its min-max scaling and resize.

    Replays ``BaseCAM.forward`` / ``compute_cam_per_layer`` up to ``np.maximum(cam, 0)``: its
    ``ActivationsAndGradients`` records A and dS/dA, its ``get_cam_image`` weights and sums them.
    """
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    cam = cam_cls(model, [layer])
    try:
        out = cam.activations_and_grads(x)
        model.zero_grad(set_to_none=True)
        out[:, target].sum().backward()
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy()
        img = cam.get_cam_image(x, layer, None, acts, grads, eigen_smooth=False)
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
    return torch.from_numpy(np.maximum(img, 0))


def attack_shard_arrays(n: int = 2, h: int = 4, w: int = 4, c: int = 3, colour=None) -> dict:
    """The arrays of a one-pixel attack shard of two images (ids ``a``, ``b``) in the layout of
    cameval.experiments.sensitivity: the first attack succeeds, the second does not; seeded random
    maps. ``colour``: the attacked pixels' colours (default black)."""
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(0)
    return {
        "labels": np.array([1, 2]),
        "success": np.array([True, False]),
        "pixel": np.array([[0, 1], [3, 3]]),
        "colour": np.zeros((n, c), np.uint8) if colour is None else np.asarray(colour, np.uint8),
        "generations": np.array([3, 10]),
        "evaluations": np.array([40, 110]),
        "p_before": np.array([0.9, 0.8]),
        "p_after": np.array([0.2, 0.5]),
        "p_new": np.array([0.7, 0.4]),
        "pred_before": np.array([1, 2]),
        "pred_after": np.array([4, 2]),
        "random_pixel": np.array([[2, 2], [0, 0]]),
        "clean": np.zeros((n, h, w, c), np.uint8),
        "cam_before": rng.random((n, h, w)).astype(np.float32),
        "cam_after": rng.random((n, h, w)).astype(np.float32),
        "ig_before": rng.normal(size=(n, c, h, w)).astype(np.float32),
        "ig_after": rng.normal(size=(n, c, h, w)).astype(np.float32),
    }
