"""Table 7's SHAP where DeepExplainer cannot run: ``shap.GradientExplainer`` against
``cameval.explain.shapley.expected_gradients``.

On the small GoogLeNet (functional ReLUs: Table 7's CIFAR-10 stand-in) shap draws ``nsamples``
points between each image and background rows and runs one forward and one backward pass for each
(class, image); ``expected_gradients`` keeps shap's draws and batches but runs one forward pass per
image for all classes, a backward pass each. This checks that both give the same values exactly
and prints the best-of-``--repeat`` time of each (the two taking turns) and their ratio, at the
embedded default's settings (16 samples, 20 background images, 10 classes, 32 px)::

    PYTHONPATH=workflow .venv/bin/python bench/expected_gradients.py
"""

from __future__ import annotations

import argparse

import numpy as np
import shap
import torch

from _timing import interleaved
from cameval.explain.shapley import _as_class_axis, _out_of_place_relus, _Softmax, expected_gradients
from cameval.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--images", type=int, default=16, help="images explained (Table 7's batch)")
    opts = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # as the jobs run (threads: 1)
    net = _Softmax(build_model("small_googlenet", num_classes=10)).eval()
    x, background = torch.randn(opts.images, 3, 32, 32), torch.randn(20, 3, 32, 32)
    with _out_of_place_relus():
        runs = {
            "shap": lambda: _as_class_axis(
                shap.GradientExplainer(net, background).shap_values(x, nsamples=16, rseed=0), len(x), 10
            ),
            "ours": lambda: expected_gradients(net, x, background, 16, seed=0),
        }
        t, out = interleaved(runs, opts.repeat)
    np.testing.assert_array_equal(out["shap"], out["ours"])
    print("| images x classes | shap.GradientExplainer | expected_gradients | ratio |\n|---|---|---|---|")
    print(f"| {opts.images} x 10 | {t['shap']:.2f} s | {t['ours']:.2f} s | x{t['shap'] / t['ours']:.2f} |")


if __name__ == "__main__":
    main()
