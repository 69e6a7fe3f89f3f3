"""Benchmark: our Grad-CAM against pytorch-grad-cam's ``GradCAM`` on VGG-16.

One process, one machine, random weights. Batch sizes ``--batches`` (1 and 8), one target (the
top-1 class) and the top-5 (five maps per image). pytorch-grad-cam explains one target per image
per call: a forward pass and a backward pass through the whole network (its ``loss.backward()``
also fills every parameter's ``.grad``), so top-5 is five calls. Ours runs one forward pass and,
per target, backpropagates from the logit only down to the layer (``torch.autograd.grad`` with
respect to the layer's activations). Map equality is asserted by the tests
(``tests/test_explain.py::test_cams_match_pytorch_grad_cam_*``); here the two are only timed.

Theoretical FLOP ratio (a model, printed with its parts): forward F (conv + linear MACs from the
layer shapes); a backward pass costs 2x the MACs it crosses (input and weight gradients), so
pytorch-grad-cam costs k·(F + 2F) for k targets and ours F + k·2·H, H the MACs after the layer.

    python bench/gradcam.py [--batches 1 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging

import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from _timing import header, interleaved, ratio_line
from cameval.explain import explain_targets
from cameval.models import build_model


def macs_after(model: nn.Module, x: torch.Tensor, layer: str) -> tuple[float, float]:
    """(forward MACs, MACs after ``layer``) of one image, counted with forward hooks."""
    order, total = [], []

    def hook(m, inp, out):
        if isinstance(m, nn.Linear):
            total.append(m.in_features * m.out_features)
        elif isinstance(m, nn.Conv2d):
            total.append(
                out.shape[-1]
                * out.shape[-2]
                * m.out_channels
                * (m.in_channels // m.groups)
                * m.kernel_size[0]
                * m.kernel_size[1]
            )
        else:
            return
        order.append(m)

    names = dict(model.named_modules())
    mark = []
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    handles.append(names[layer].register_forward_hook(lambda m, i, o: mark.append(len(total))))
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    return float(sum(total)), float(sum(total[mark[0] :]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    print(header(args, args.device))
    torch.manual_seed(0)
    model = build_model("vgg16").eval().to(args.device)
    layer = "features.29"
    cam = GradCAM(model, target_layers=[model.features[29]])
    for n in args.batches:
        x = torch.randn(n, 3, args.size, args.size, device=args.device)
        with torch.no_grad():
            top5 = model(x).topk(5, 1).indices
        f, head = macs_after(model, x, layer)
        for k in (1, 5):
            t5 = top5[:, :k]
            fns = {
                "pytorch-grad-cam": lambda: [
                    cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in t5[:, j]])  # noqa: B023  # called within the iteration
                    for j in range(k)  # noqa: B023  # as above
                ],
                "ours": lambda: explain_targets(model, x, t5, "gradcam", layer=layer),  # noqa: B023  # as above
            }
            t, _ = interleaved(fns, args.repeat, args.device)
            theory = (k * 3 * f) / (f + k * 2 * head)
            print(
                f"batch {n}, {'one target' if k == 1 else 'top-5'}: pytorch-grad-cam {t['pytorch-grad-cam']:.3f} s, "
                f"ours {t['ours']:.3f} s"
            )
            print("  " + ratio_line("ours vs pytorch-grad-cam", t["pytorch-grad-cam"], t["ours"], theory))
    model.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
