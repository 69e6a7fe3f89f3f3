"""The field's later tests (deletion, MPRT) against Quantus 0.6.0 on the same work, in one process,
and the cost per image of each of cameval's tests.

- **PixelFlipping** (deletion): ``quantus.PixelFlipping(features_in_step=C·W, perturb_baseline=0.0,
  normalise=False, abs=False)`` — one forward pass of the N images per step — against
  :func:`cameval.metrics.deletion_curves` (``step=W``: every (image, step) image stacked,
  ``--batch-size`` at a time). The two curves are checked equal (Quantus' without the clean
  score, which ours holds first) before anything is timed.
- **PixelFlipping's bounds**: the same 784 forward passes alone (built beforehand), their FLOPs at
  the rate of a dense 2048 x 2048 matmul measured here, and the share of the MACs a step-by-step
  recomputation of only what each step's pixels reach would still need (Grad-CAM and random maps):
  what any exact implementation of the same curves could reach against Quantus on this machine.
- **MPRT** (cascading model randomization): ``quantus.MPRT(layer_order="top_down")`` against
  :func:`cameval.metrics.cascading_maps` (Grad-CAM) + :func:`cameval.metrics.map_similarities`
  (``spearman_abs``, the 14 steps' maps against the original's in one call: its ranks once). The
  same work on both sides: every module with parameters re-initialized by its
  ``reset_parameters()`` from the output down, the Grad-CAM maps of every randomized model at the
  default layer, upsampled to the input (Quantus' ``explain_func`` is our plain
  :func:`cameval.explain.explain` on its copy; ours are those maps to the bit, computed by
  re-running only the layers each step changed from the original's kept activations), Spearman's
  rho of the absolute maps against the original's (given to both). Quantus draws every layer's
  weights after ``torch.manual_seed(seed + 1)``, ours from a seed per layer, so the similarities
  differ; the work does not. On a shared machine ``--threads 1`` gives steadier ratios (at two
  OpenMP threads under load every small operation waits on a descheduled thread).
- **cost per image** of each test as the ``deletion`` and ``sanity`` experiments run it, for one
  map set (Grad-CAM): deletion and insertion curves; ROAD, MoRF and LeRF at 9 percentages; the
  cascading and independent randomizations with the four similarity measures.

The default's VGG-style network (``small_vgg`` on 64 x 64 inputs, as ``config/config.yaml``'s
``vgg``) with seeded random weights (the timing does not depend on them)::

    PYTHONPATH=workflow .venv/bin/python bench/field_metrics.py
    PYTHONPATH=workflow .venv/bin/python bench/field_metrics.py --device cuda --images 64
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import quantus
import torch

from _timing import header, interleaved, sync
from cameval import metrics
from cameval.explain import explain
from cameval.inference.geometry import pointwise, spatial_of
from cameval.metrics.deletion import pixel_ranks
from cameval.metrics.sanity import MEASURES
from cameval.models.registry import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--flip-size", type=int, default=48, help="PixelFlipping's images (Quantus: H*W % 3W == 0)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    warnings.filterwarnings("ignore")  # Quantus warns on every call
    dev = opts.device
    print(header(opts, dev))

    torch.manual_seed(0)
    model = build_model("small_vgg", num_classes=10).to(dev).eval()
    g = torch.Generator().manual_seed(1)
    n, s = opts.images, opts.size
    pixels = torch.rand(n, 3, s, s, generator=g)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    x = ((pixels - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)).to(dev)
    with torch.no_grad():
        y = model(x).argmax(1)
    maps = explain(model, x, y, "gradcam", size=s).detach()  # [N, H, W] at the input's size
    x_np, y_np, a_np = x.cpu().numpy(), y.cpu().numpy(), maps.cpu().numpy()[:, None]

    # --- PixelFlipping ------------------------------------------------------------------------
    # Quantus asserts H*W % features_in_step == 0 while it flattens C*H*W: with C = 3 and a step of
    # one row, H*W must be a multiple of 3*W, so not 64 x 64; the comparison runs on f x f images
    f = opts.flip_size
    xf = torch.randn(n, 3, f, f, generator=g).to(dev)
    with torch.no_grad():
        yf = model(xf).argmax(1)
    mf = explain(model, xf, yf, "gradcam", size=f).detach()

    def quantus_flip():
        return quantus.PixelFlipping(
            features_in_step=3 * f, perturb_baseline=0.0, normalise=False, abs=False, disable_warnings=True
        )(
            model=model,
            x_batch=xf.cpu().numpy(),
            y_batch=yf.cpu().numpy(),
            a_batch=mf.cpu().numpy()[:, None],
            channel_first=True,
            softmax=True,
            device=dev,
            batch_size=n,
        )

    def ours_flip():
        return metrics.deletion_curves(model, xf, mf, yf, step=f, batch_size=opts.batch_size)

    t, out = interleaved({"quantus": quantus_flip, "ours": ours_flip}, opts.repeat, dev)
    np.testing.assert_allclose(out["ours"][:, 1:], np.asarray(out["quantus"]), rtol=0, atol=1e-5)
    print(
        f"PixelFlipping ({n} images of {f} x {f}, {f} steps of {f} px): Quantus {t['quantus']:.3f} s, "
        f"ours {t['ours']:.3f} s, x{t['quantus'] / t['ours']:.1f} (curves equal to 1e-5)"
    )

    # --- what any exact implementation of the same curves could reach -----------------------
    floor = passes_alone(model, xf, mf, opts.batch_size, opts.repeat, dev)
    macs = conv_linear_macs(model, xf[:1])
    rate = matmul_rate(dev)
    passes = n * (f + 1)
    at_peak = 2 * macs * passes / rate
    random_maps = torch.rand(n, f, f, generator=g)
    incr = {k: changed_macs(model, macs, m, f) / macs for k, m in (("Grad-CAM", mf), ("random", random_maps))}
    print(
        f"PixelFlipping bounds: the {passes} forward passes alone {floor:.3f} s (Quantus / that: "
        f"x{t['quantus'] / floor:.1f}); their {2 * macs * passes / 1e9:.1f} GFLOP at this machine's dense matmul "
        f"rate ({rate / 1e9:.0f} GFLOP/s, 2048^2 float32) {at_peak:.3f} s (x{t['quantus'] / at_peak:.1f}); "
        "recomputing only what each step changes (the previous step's activations kept) needs "
        + ", ".join(f"{v:.0%} of the MACs on {k} maps" for k, v in incr.items())
    )

    # --- MPRT ---------------------------------------------------------------------------------
    def cam(model, inputs, targets, **kwargs):
        xi, ti = torch.as_tensor(inputs, device=dev), torch.as_tensor(targets, device=dev)
        return explain(model, xi, ti, "gradcam", size=s).detach().cpu().numpy()[:, None]

    def quantus_mprt():
        return quantus.MPRT(layer_order="top_down", seed=0, disable_warnings=True)(
            model=model,
            x_batch=x_np,
            y_batch=y_np,
            a_batch=a_np,
            explain_func=cam,
            channel_first=True,
            device=dev,
            batch_size=n,
        )

    def ours_mprt():
        steps = dict(metrics.cascading_maps(model, x, y, "gradcam", size=s))
        rho = metrics.map_similarities(a_np[:, 0], torch.stack(list(steps.values())), "spearman_abs")  # [K, N]
        return dict(zip(steps, rho, strict=True))

    t, out = interleaved({"quantus": quantus_mprt, "ours": ours_mprt}, opts.repeat, dev)
    layers = len(out["ours"])
    assert len(out["quantus"]) == layers + 1  # Quantus adds the unrandomized model ("original")
    print(
        f"MPRT ({n} images, {layers} layers, Grad-CAM, Spearman |.|): Quantus {t['quantus']:.3f} s, "
        f"ours {t['ours']:.3f} s, x{t['quantus'] / t['ours']:.1f}"
    )

    # --- cost per image -----------------------------------------------------------------------
    def timed(fn):
        sync(dev)
        start = time.perf_counter()
        fn()
        sync(dev)
        return (time.perf_counter() - start) / n

    costs = {
        "deletion curve": timed(lambda: metrics.deletion_curves(model, x, maps, y, batch_size=opts.batch_size)),
        "insertion curve": timed(lambda: metrics.insertion_curves(model, x, maps, y, batch_size=opts.batch_size)),
        "ROAD MoRF + LeRF, 9 percentages": timed(
            lambda: [metrics.road(model, pixels.to(dev), maps, y, mean, std, order=o) for o in ("morf", "lerf")]
        ),
        "sanity: cascading + independent, 4 measures": timed(lambda: sanity(model, x, y, a_np[:, 0], s)),
    }
    for name, c in costs.items():
        print(f"cost per image, {name}: {c * 1000:.1f} ms")


def passes_alone(model, x, maps, batch_size, repeat, dev) -> float:
    """Best time of the model alone on every (image, step) image of the deletion curves, built
    beforehand and stacked ``batch_size`` at a time in channels-last layout: what any implementation
    that runs the same forward passes pays at least, with this torch on this machine."""
    n, _, h, w = x.shape
    ranks = torch.as_tensor(pixel_ranks(maps.cpu().numpy()).reshape(n, 1, h, w), device=x.device)
    taken = torch.arange(h + 1, device=x.device) * w
    batch = torch.where(ranks[:, None] < taken.view(1, -1, 1, 1, 1), 0.0, x[:, None]).flatten(0, 1)
    batch = batch.contiguous(memory_format=torch.channels_last)

    def run():
        with torch.no_grad():
            for lo in range(0, len(batch), batch_size):
                model(batch[lo : lo + batch_size])

    return interleaved({"passes": run}, repeat, dev)[0]["passes"]


def matmul_rate(dev: str) -> float:
    """FLOP/s of a 2048 x 2048 float32 matrix product here: the dense rate no convolution beats."""
    a = torch.randn(2048, 2048, device=dev)
    t, _ = interleaved({"mm": lambda: a @ a}, 5, dev)
    return 2 * 2048**3 / t["mm"]


def conv_linear_macs(model, x) -> float:
    """Multiply-accumulates of one forward pass of ``x`` (one image) in the convolutions and linear layers."""
    total = [0.0]

    def hook(m, inp, out):
        per = m.in_features if isinstance(m, torch.nn.Linear) else m.weight[0].numel()
        total[0] += per * out[0].numel()

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def changed_macs(model, clean: float, maps, step: int) -> float:
    """Mean MACs per curve point if each step recomputed only the convolution outputs its new pixels
    can reach (their windows, layer by layer through ``features``: a max pool of the changed mask
    with each layer's geometry), the rest of the network whole; the clean pass whole (``clean`` MACs, one
    image's full forward pass)."""
    n, h, w = maps.shape
    ranks = torch.as_tensor(pixel_ranks(maps.cpu().numpy()).reshape(n, 1, h, w))
    total, points = n * clean, n
    for j in range(0, h * w, step):
        mask = ((ranks >= j) & (ranks < j + step)).float()
        macs = clean
        for m in model.features:
            g = spatial_of(m)
            if g is None:
                assert pointwise(m), m
                continue
            out = torch.nn.functional.max_pool2d(mask, g.kernel, g.stride, g.padding, g.dilation, g.ceil_mode)
            if isinstance(m, torch.nn.Conv2d):  # whole map in the clean count; only the changed part here
                macs -= m.weight[0].numel() * m.out_channels * (out.shape[-2] * out.shape[-1] - out.sum() / n)
            mask = out
        total, points = total + n * float(macs), points + n
    return total / points


def sanity(model, x, y, original, size):
    for mode in ("cascading", "independent"):  # as the sanity experiment computes its maps
        for _, maps in metrics.cascading_maps(model, x, y, "gradcam", mode=mode, size=size):
            m = maps.cpu().numpy()
            for measure in MEASURES:
                metrics.map_similarities(original, m, measure)


if __name__ == "__main__":
    main()
