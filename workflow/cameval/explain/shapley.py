"""SHAP through the shap library (Lundberg & Lee, NeurIPS 2017), as the study ran it for Table 7.

``shap.DeepExplainer`` (DeepLIFT rescale rule with a background distribution) on the model's
*softmax*: for every class c and image x the attributions sum to ``f_c(x) - E_b[f_c(b)]`` over
the background images b (additivity, checked by shap). Where DeepExplainer cannot run — shap
0.51 raises on in-place ReLUs (``Output 0 of BackwardHookFunction is a view and is being
modified inplace``) and, where a ReLU is functional (``F.relu`` in ``forward``, torchvision's
GoogLeNet), no module hook sees it, so the rescale rule is skipped and additivity fails — the
expected-gradients ``shap.GradientExplainer`` is used instead, and the result says which. Its
numbers come from :func:`expected_gradients`, which draws and sums exactly as shap does (the same
numbers, bit for bit: ``tests/test_shap.py`` calls shap as the oracle) but runs one forward pass for
all classes where shap runs one per class (×2.8, ``bench/expected_gradients.py``).

shap puts hooks on the model and leaves them there when it fails; it therefore runs on a deep
copy whose ReLU modules are made out-of-place (``inplace=False``), with ``F.relu(...,
inplace=True)`` calls made out-of-place for the duration of the call. The caller's model is
left untouched.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cameval.inference import logits_of

log = logging.getLogger(__name__)

EXPLAINERS = ("auto", "deep", "gradient")


class _Softmax(nn.Module):
    """``softmax(logits(model(x)))`` as one module (shap needs a module with a tensor output)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax(logits_of(self.model(x)))


@contextlib.contextmanager
def _out_of_place_relus() -> Iterator[None]:
    """Within the block ``F.relu(x, inplace=True)`` and ``F.relu_`` return a new tensor."""
    relu = F.relu

    def patched(x, inplace: bool = False):
        return relu(x, inplace=False)

    saved = (F.relu, F.relu_)
    F.relu, F.relu_ = patched, patched
    try:
        yield
    finally:
        F.relu, F.relu_ = saved


def _copy_out_of_place(model: nn.Module) -> nn.Module:
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if hasattr(module, "inplace") and isinstance(module.inplace, bool):
            module.inplace = False
    return clone


def _as_class_axis(values, n: int, classes: int) -> np.ndarray:
    """shap's output (a list per class, or an array with classes last) as ``[N, classes, ...]``."""
    if isinstance(values, list):
        return np.stack([np.asarray(v) for v in values], axis=1)
    arr = np.asarray(values)
    if arr.shape[0] == n and arr.shape[-1] == classes:
        return np.moveaxis(arr, -1, 1)
    raise ValueError(f"shap returned an array of shape {arr.shape}; expected [N, ..., {classes}]")


def expected_gradients(
    net: nn.Module, x: torch.Tensor, background: torch.Tensor, n_samples: int, seed: int, batch_size: int = 50
) -> np.ndarray:
    """``shap.GradientExplainer(net, background, batch_size).shap_values(x, nsamples=n_samples,
    rseed=seed)`` for a network with one input and several outputs, as ``[N, classes, C, H, W]``
    float64: the same numbers, one forward pass per batch of samples for all classes.

    Expected gradients (Erion et al., 2021), as shap 0.51's ``_PyTorchGradient`` computes them: for
    image ``x_j`` it draws ``n_samples`` pairs (background row ``b``, ``t ~ U(0, 1)``) from
    ``np.random`` seeded with ``seed`` — the same draws for every class, images in order — and
    averages ``grad_x f_c(t·x_j + (1−t)·b) · (x_j − b)`` over them in float64. shap's batches (an
    image's samples, ``batch_size`` at a time) are kept, so that every gradient is the one shap
    computes; shap's own run does a forward pass for each class, this one a backward pass each after
    one forward. shap reseeds the global ``np.random``; this draws from its own ``RandomState``.
    """
    rng = np.random.RandomState(seed)
    n = len(x)
    draws = [(rng.choice(len(background)), rng.uniform()) for _ in range(n * n_samples)]
    rows = torch.as_tensor([r for r, _ in draws]).view(n, n_samples)
    t = torch.as_tensor([t for _, t in draws], dtype=x.dtype).view(n, n_samples, *([1] * (x.dim() - 1)))
    one_minus_t = torch.as_tensor([1 - t for _, t in draws], dtype=x.dtype).view_as(t)
    base = background[rows.to(background.device)]  # [N, S, C, H, W]
    samples = t.to(x.device) * x[:, None] + one_minus_t.to(x.device) * base  # shap: t * x + (1 - t) * b
    delta = (x[:, None] - base).cpu().numpy().astype(np.float64)
    values = None
    for j in range(n):
        grads = []  # per batch: [classes, batch, C, H, W]
        for b0 in range(0, n_samples, batch_size):
            inputs = samples[j, b0 : b0 + batch_size].clone().detach().requires_grad_()
            out = net(inputs)
            classes = out.shape[1]
            grads.append(
                [
                    torch.autograd.grad(list(out[:, c]), inputs, retain_graph=c + 1 < classes)[0].cpu().numpy()
                    for c in range(classes)
                ]
            )
        if values is None:
            values = np.zeros((n, classes, *x.shape[1:]))
        for c in range(classes):
            values[j, c] = (np.concatenate([g[c] for g in grads]) * delta[j]).mean(0)
    return values


#: DeepExplainer is accepted when its sums miss ``f(x) - E[f(b)]`` by at most this share of the
#: largest such difference (exact runs miss by ~1e-4 of it, float32 rounding; a functional ReLU
#: that no hook sees misses by ~100 %; shap's own check is absolute, 0.01, and lets that pass on
#: an untrained network whose softmax hardly moves)
ADDITIVITY_RTOL = 0.01


def additivity_error(model: nn.Module, x: torch.Tensor, background: torch.Tensor, values: np.ndarray):
    """``(max |sum(values) - (f(x) - mean_b f(b))|, max |f(x) - mean_b f(b)|)`` over images and
    classes, ``f`` the softmax of the model and ``values`` ``[N, classes, ...]``."""
    with torch.no_grad():
        fx = torch.softmax(logits_of(model(x)), 1).double().cpu().numpy()
        fb = torch.softmax(logits_of(model(background)), 1).double().cpu().numpy().mean(0)
    expected = fx - fb
    sums = values.reshape(*values.shape[:2], -1).sum(-1)
    return float(np.abs(sums - expected).max()), float(np.abs(expected).max())


def shap_all_classes(
    model: nn.Module,
    x: torch.Tensor,
    background: torch.Tensor,
    explainer: str = "auto",
    n_samples: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, str]:
    """SHAP values of the softmax for every class: ``([N, classes, C, H, W], explainer used)``.

    ``explainer``: ``deep`` (DeepExplainer; raises unless additive within :data:`ADDITIVITY_RTOL`),
    ``gradient`` (GradientExplainer's expected gradients with ``n_samples`` draws per image, seeded:
    :func:`expected_gradients`) or ``auto`` (deep, falling back to gradient where DeepExplainer
    raises or is not additive).
    """
    if explainer not in EXPLAINERS:
        raise ValueError(f"explainer: {explainer!r} is not one of {', '.join(EXPLAINERS)}")
    x, background = x.detach(), background.detach().to(x)
    with torch.no_grad():
        classes = logits_of(model(x[:1])).shape[1]
    if explainer in ("auto", "deep"):
        import shap  # noqa: PLC0415  # shap's import costs seconds: only DeepExplainer's jobs pay

        net = _Softmax(_copy_out_of_place(model)).eval()
        try:
            with _out_of_place_relus():
                values = shap.DeepExplainer(net, background).shap_values(x, check_additivity=False)
            values = _as_class_axis(values, len(x), classes)
            err, scale = additivity_error(model, x, background, values)
            if err > ADDITIVITY_RTOL * scale + 1e-6:
                raise AssertionError(f"additivity error {err:.3g} against outputs differing by up to {scale:.3g}")
            return values, "deep"
        except Exception as err:  # RuntimeError (in-place views) or AssertionError (not additive)
            if explainer == "deep":
                raise
            log.warning(
                "shap.DeepExplainer failed on %s (%s: %s); using shap.GradientExplainer",
                type(model).__name__,
                type(err).__name__,
                str(err).splitlines()[0][:200],
            )
    net = _Softmax(_copy_out_of_place(model)).eval()
    with _out_of_place_relus():
        values = expected_gradients(net, x, background, n_samples, seed)
    return values, "gradient"


def shap_maps(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    background: torch.Tensor | None = None,
    explainer: str = "auto",
    n_samples: int = 200,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SHAP for every column of ``targets`` ``[N, K]``: ``([N, K, C, H, W], logits)``."""
    if background is None:
        raise ValueError("shap: background= is required (reference images [B, C, H, W] in x's space)")
    values, used = shap_all_classes(model, x, torch.as_tensor(background), explainer, n_samples, seed)
    with torch.no_grad():
        logits = logits_of(model(x))
    idx = targets.cpu().numpy()
    maps = torch.as_tensor(np.take_along_axis(values, idx.reshape(*idx.shape, 1, 1, 1), axis=1), dtype=x.dtype)
    log.info("shap: %d images, %s explainer", len(x), used)
    return maps.to(x.device), logits
