"""The figures: every figure of the tiny run drawn (not blank); Table 5's figure with labelled axes,
room for a full bar's error bar, its legend off the bars and a zero told from a missing value;
Appendix G's Grad-CAM against pytorch-grad-cam's on the same model, layer and images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cameval.experiments.xray import figure as xray_figure
from cameval.figures import pyplot

# --- every figure of the tiny run -------------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.e2e
def test_every_figure_of_the_tiny_run_is_drawn(tiny_run):
    figures = sorted((tiny_run / "results/figures").rglob("*.png"))
    assert len(figures) >= 8, figures  # Figure 1, App. B, C, E, F, G, Table 5, the study's
    for path in figures:
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
        h, w, _ = rgb.shape
        assert min(h, w) >= 400, (path.name, w, h)
        inked = (rgb.min(axis=2) < 235).mean()  # not white (the background of every figure)
        q = rgb // 32
        colours = np.count_nonzero(np.bincount((q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).ravel(), minlength=512))
        assert inked > 0.05 and colours >= 8, (path.name, inked, colours)
        # drawn all over: no band of a fifth of the width or height left empty (a panel that failed)
        for axis, n in ((0, h), (1, w)):
            ink_along = (rgb.min(axis=2) < 235).mean(axis=1 - axis)
            run = longest_run(ink_along < 0.002)  # a blank row (axis 0) or column (axis 1)
            assert run < 0.2 * n, (path.name, "blank band", axis, run, n)


def longest_run(mask: np.ndarray) -> int:
    best = cur = 0
    for v in mask:
        cur = cur + 1 if v else 0
        best = max(best, cur)
    return best


# --- Table 5's figure ---------------------------------------------------------------------------------


def _table5_rows() -> pd.DataFrame:
    """Two models, two findings and "all"; set ``cam`` reaches 1.0 with an error bar above it on model A,
    is exactly 0 on finding ``f2`` of model A; set ``pix`` has no localization accuracy (a pixel method) and
    no value at all on finding ``f1`` of model B (NaN)."""
    rows = []
    for model in ("A", "B"):
        for finding in ("all", "f1", "f2"):
            for name, method in (("cam", "Grad-CAM"), ("pix", "IG")):
                for measure in ("loc_study", "inbox"):
                    if name == "pix" and measure == "loc_study":
                        continue
                    v = {"all": 0.6, "f1": 1.0, "f2": 0.0}[finding] if name == "cam" and model == "A" else 0.4
                    if name == "pix" and model == "B" and finding == "f1":
                        v = float("nan")
                    rows.append(
                        {
                            "model": model,
                            "finding": finding,
                            "set": name,
                            "method": method,
                            "layer": "conv" if name == "cam" else "input",
                            "measure": measure,
                            "value": v,
                            "low": v - 0.1 if v > 0 else v,
                            "high": min(v + 0.05, 1.05) if v == v else v,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture
def table5_drawn(tmp_path, monkeypatch):
    """Table 5's figure of :func:`_table5_rows`, kept open (``save`` writes the file and hands the figure back)."""
    kept = {}

    def keep(fig, path):
        fig.savefig(path)
        kept["fig"] = fig

    monkeypatch.setattr(xray_figure, "save", keep)
    xray_figure.table5_figure(_table5_rows(), tmp_path / "table5.png")
    fig = kept["fig"]
    fig.canvas.draw()
    yield fig
    pyplot().close(fig)


def test_table5_figure_axes_are_labelled_and_a_full_bar_keeps_its_error_bar(table5_drawn):
    axes = table5_drawn.axes
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and "0–1" in ax.get_ylabel(), ax.get_title()
        assert ax.get_ylim()[1] >= 1.05  # the bar at 1.0 and its error bar to 1.05 are inside the axes


def test_table5_figure_tells_zero_from_missing(table5_drawn):
    a_loc, _, b_loc, b_inbox = table5_drawn.axes
    # model A, finding f2 (x = 2): Grad-CAM's 0 is a thick line on the axis, no "n/a"
    zero_lines = [ln for ln in a_loc.lines if np.allclose(ln.get_ydata(), 0) and ln.get_linewidth() >= 2]
    assert len(zero_lines) == 1 and 1.5 < np.mean(zero_lines[0].get_xdata()) < 2.5
    assert not [t for t in a_loc.texts if t.get_text() == "n/a"]
    # model B, finding f1 (x = 1): IG's missing in-box share is an "n/a" at its bar's place, no zero line
    na = [t for t in b_inbox.texts if t.get_text() == "n/a"]
    assert len(na) == 1 and 1 < na[0].get_position()[0] < 1.5  # the second of two bars around x = 1
    assert not [ln for ln in b_inbox.lines if np.allclose(ln.get_ydata(), 0) and ln.get_linewidth() >= 2]
    assert not b_loc.texts  # the pixel method has no localization bar: not drawn, not "n/a" either


def test_table5_figure_legend_covers_no_bar(table5_drawn):
    renderer = table5_drawn.canvas.get_renderer()
    (legend,) = table5_drawn.legends
    box = legend.get_window_extent(renderer)
    assert {t.get_text() for t in legend.get_texts()} == {"Grad-CAM (conv)", "IG (input)"}
    for ax in table5_drawn.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), ax.get_title()


# --- Appendix G: the MNIST network's Grad-CAM, checked against pytorch-grad-cam --------------------------


def _pgc_gradcam(model, layer, x, cls):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(cls))])[0]


def _minmax(m: np.ndarray) -> np.ndarray:
    return (m - m.min()) / (m.max() - m.min() + 1e-7)  # pytorch-grad-cam's scale_cam_image


@pytest.mark.workflow
@pytest.mark.e2e
def test_appendix_g_gradcam_equals_pytorch_grad_cam_on_the_mnist_net(tiny_run):
    """Every class's Grad-CAM map Appendix G reads (the class-map file of Table 7), for every image,
    equals pytorch-grad-cam's GradCAM on the same network, layer (features.2, 12×12) and input,
    after the same min-max scaling (pytorch-grad-cam returns its maps so; cv2's bilinear resize is
    ours, align_corners=False)."""
    from cameval.batches import load
    from cameval.data.images import ImageSet
    from cameval.store import read_class_maps

    fh = read_class_maps(tiny_run / "results/maps/table7/mnist-real/mnist_net.h5")
    model, rows = load(
        str(tiny_run / "resources/models/mnist_net.safetensors"),
        tiny_run / "resources/data/mnist-real/manifest.csv",
        "test",
        0,
        len(fh["ids"]),
    )
    model.eval()
    assert list(rows["id"]) == fh["ids"]
    with ImageSet(tiny_run / "resources/data/mnist-real/images.h5") as imgs:
        x = imgs.tensor(rows["index"].to_numpy())
        assert np.array_equal(imgs.uint8(rows["index"].to_numpy()), fh["images"])  # the image shown is the input
    ours = fh["maps"]["gradcam"]
    compared = 0
    for i in range(len(x)):
        for k in range(ours.shape[1]):
            theirs = _pgc_gradcam(model, model.features[2], x[i : i + 1], k)
            if ours[i, k].max() == 0:  # ReLU of an all-negative sum: both all zero
                assert theirs.max() == 0, (i, k)
                continue
            # ours is upsampled, then scaled; pytorch-grad-cam scales on the 12×12 grid, then resizes: the
            # scales differ where a peak falls between the 28×28 samples (≤ 1e-3 here). A wrong image or
            # class differs by O(1)
            np.testing.assert_allclose(_minmax(ours[i, k]), theirs, atol=2e-3, err_msg=f"image {i}, class {k}")
            compared += 1
    assert compared >= len(x) * ours.shape[1] // 2


@pytest.mark.workflow
@pytest.mark.e2e
def test_mnist_gradcam_of_a_one_lights_the_background_not_the_stroke(tiny_run):
    """Appendix G's question: on the study's one-conv-layer MNIST network, the Grad-CAM of a 1 (the
    class it predicts) is 0 on the stroke and positive on the background beside it. pytorch-grad-cam
    gives the same map, and the weighted sum of the layer's channels before the ReLU is negative on
    the stroke: the method on a shallow layer, not a bug of ours."""
    import torch

    from cameval.batches import load
    from cameval.data.images import ImageSet
    from cameval.explain import explain

    model, rows = load(
        str(tiny_run / "resources/models/mnist_net.safetensors"),
        tiny_run / "resources/data/mnist-real/manifest.csv",
        "test",
    )
    model.eval()
    ones = np.flatnonzero(rows["label"].to_numpy() == 1)
    assert len(ones) >= 1
    with ImageSet(tiny_run / "resources/data/mnist-real/images.h5") as imgs:
        x = imgs.tensor(rows["index"].to_numpy()[ones])
        ink = imgs.uint8(rows["index"].to_numpy()[ones])[..., 0] > 100
    for j in range(len(ones)):
        xi = x[j : j + 1]
        assert int(model(xi).argmax(1)) == 1
        ours = explain(model, xi, 1, method="gradcam", layer="features.2", size=(28, 28))[0].detach().numpy()
        np.testing.assert_allclose(_minmax(ours), _pgc_gradcam(model, model.features[2], xi, 1), atol=2e-3)
        assert ours[ink[j]].mean() < 0.2 * ours[~ink[j]].mean()  # dark on the digit, lit beside it
        # before the ReLU, Σ_k α_k A^k (by hand, from the layer's activations and gradients) is negative
        # on the stroke's cells of the 12×12 grid
        layer_out = model.features(xi)  # the Grad-CAM layer (features.2) is the last of `features`
        score = model.classifier(torch.flatten(layer_out, 1))[0, 1]
        grad = torch.autograd.grad(score, layer_out)[0][0]
        weighted = (grad.mean((1, 2))[:, None, None] * layer_out[0]).sum(0).detach().numpy()
        stroke = torch.nn.functional.max_pool2d(torch.as_tensor(ink[j][2:-2, 2:-2], dtype=torch.float32)[None], 2)[0]
        assert weighted[stroke.numpy() > 0].mean() < 0 < weighted[stroke.numpy() == 0].max()
