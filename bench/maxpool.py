"""The small GoogLeNet's max pools without autograd: ``ShiftMaxPool2d`` against ``nn.MaxPool2d``.

Times, on one thread, each pool geometry of ``SmallGoogLeNet`` on the shapes a 32×32 one-pixel
population of 400 gives it, then the network's whole forward pass (the attack's scoring step) with
its own pools and with ``nn.MaxPool2d`` swapped in, after checking that the outputs are equal bit
for bit, and prints the best-of-``--repeat`` times (the two taking turns) and their ratios::

    PYTHONPATH=workflow .venv/bin/python bench/maxpool.py
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from _timing import interleaved
from cameval.models.small import ShiftMaxPool2d, SmallGoogLeNet


def plain_pools(model: nn.Module) -> nn.Module:
    """``model`` with every ``ShiftMaxPool2d`` replaced by the ``nn.MaxPool2d`` of its geometry."""
    for name, m in list(model.named_modules()):
        if isinstance(m, ShiftMaxPool2d):
            parent, _, leaf = name.rpartition(".")
            plain = nn.MaxPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
            setattr(model.get_submodule(parent) if parent else model, leaf, plain)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=400)
    opts = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print("| what | input | nn.MaxPool2d | ShiftMaxPool2d | ratio |\n|---|---|---|---|---|")
    with torch.no_grad():
        for (kernel, stride, padding), shape in (
            ((2, 2, 0), (opts.batch, 16, 32, 32)),
            ((3, 1, 1), (opts.batch, 32, 8, 8)),
            ((3, 1, 1), (opts.batch, 80, 4, 4)),
        ):
            x = torch.relu(torch.randn(*shape))
            ref = nn.MaxPool2d(kernel, stride, padding, ceil_mode=kernel == 3)
            ours = ShiftMaxPool2d(kernel, stride, padding, ceil_mode=kernel == 3)
            t, out = interleaved({"ref": lambda r=ref, x=x: r(x), "ours": lambda o=ours, x=x: o(x)}, opts.repeat)
            assert torch.equal(out["ref"], out["ours"])
            t_ref, t_ours = t["ref"], t["ours"]
            print(
                f"| {kernel}×{kernel} pool, stride {stride} | {tuple(shape)} | {t_ref * 1e3:.1f} ms | "
                f"{t_ours * 1e3:.1f} ms | x{t_ref / t_ours:.1f} |"
            )
        model = SmallGoogLeNet(num_classes=10).eval()
        plain = plain_pools(SmallGoogLeNet(num_classes=10).eval())
        plain.load_state_dict(model.state_dict())
        x = torch.rand(opts.batch, 3, 32, 32)
        t, out = interleaved({"ref": lambda: plain(x), "ours": lambda: model(x)}, opts.repeat)
        assert torch.equal(out["ref"], out["ours"])
        t_ref, t_ours = t["ref"], t["ours"]
        print(
            f"| SmallGoogLeNet forward | {(opts.batch, 3, 32, 32)} | {t_ref * 1e3:.0f} ms | {t_ours * 1e3:.0f} ms | "
            f"x{t_ref / t_ours:.2f} |"
        )


if __name__ == "__main__":
    main()
