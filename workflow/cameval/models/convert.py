"""One-off conversion of a pickled checkpoint into safetensors, run knowingly by the user.

``torch.load`` of a pickled file runs whatever code the pickle names; the workflow therefore
never does it (:func:`cameval.models.read_state_dict` refuses such files). A user who trusts a
file converts it once::

    python -m cameval.models convert --trust-pickle IN.pt OUT.safetensors

Accepted contents: a whole ``nn.Module`` (the study's X-ray model "B"), ``{"state_dict": …}``
(CheXNet's layout, remapped onto torchvision's ``densenet121`` keys), or a plain state dict. The
classes a pickled module refers to must be importable (e.g. run from the folder of the code
that saved it, or put it on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from cameval.errors import CamevalError, DataError
from cameval.io import atomic_path
from cameval.models.densenet import remap_chexnet

log = logging.getLogger(__name__)


def state_dict_of(obj) -> dict[str, torch.Tensor]:
    """The tensors of an unpickled checkpoint: a module's state dict, a ``state_dict`` entry, or
    the dict itself; keys remapped with :func:`remap_chexnet`."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
        obj = obj["model"].state_dict()
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DataError(f"checkpoint holds a {type(obj).__name__}, expected an nn.Module or a state dict of tensors")
    return remap_chexnet(obj)


def convert_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, trust_pickle: bool = False) -> dict:
    """Unpickle ``src`` (only with ``trust_pickle``) and write its tensors to ``dst`` as safetensors.

    Returns ``{"tensors": n, "parameters": total elements}``.
    """
    src, dst = Path(src), Path(dst)
    if not trust_pickle:
        raise DataError(f"{src}: unpickling runs code stored in the file; pass --trust-pickle if you trust it")
    if dst.suffix != ".safetensors":
        raise DataError(f"{dst}: expected an output name ending in .safetensors")
    if not src.is_file():
        raise DataError(f"{src}: no such file")
    obj = torch.load(src, map_location="cpu", weights_only=False)
    state = {k: v.detach().contiguous().cpu() for k, v in state_dict_of(obj).items()}
    with atomic_path(dst) as tmp:
        save_file(state, str(tmp), metadata={"converted_from": json.dumps(str(src))})
    summary = {"tensors": len(state), "parameters": int(sum(v.numel() for v in state.values()))}
    log.info("%s → %s: %d tensors, %d numbers", src, dst, summary["tensors"], summary["parameters"])
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cameval.models", description="cameval model utilities")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a pickled checkpoint (whole module or state dict) to safetensors")
    conv.add_argument("--trust-pickle", action="store_true",
                      help="required: unpickling executes code named in the file; only for files you trust")
    conv.add_argument("src", help="the pickled checkpoint (.pt, .pth, .pth.tar)")
    conv.add_argument("dst", help="the .safetensors file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        summary = convert_checkpoint(args.src, args.dst, trust_pickle=args.trust_pickle)
    except CamevalError as e:
        parser.exit(2, f"error: {e}\n")
    log.info("wrote %s (%d tensors)", args.dst, summary["tensors"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
