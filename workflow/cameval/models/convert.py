"""One-off conversion of a pickled checkpoint into safetensors.

``torch.load`` of a pickled file runs whatever code the pickle names; the workflow therefore
never does it (:func:`cameval.models.read_state_dict` refuses such files). Two ways out:

- ``python -m cameval.models convert IN.pt OUT.safetensors [--arch ARCH]`` reads the file with the
  restricted unpickler (:mod:`cameval.models.safe_pickle`), which never runs pickled code: a whole
  pickled module of ``torch.nn`` / ``torchvision`` layers and a ``__main__`` class (the study's
  MNIST network), or a state dict. With ``--arch`` the recorded layers are mapped onto cameval's
  ``ARCH`` by structure (:func:`~cameval.models.safe_pickle.map_module_onto`) and the file gets the
  metadata that rebuilds it (:func:`cameval.models.load_model`); without, the tensors are written
  under their own keys.
- ``python -m cameval.models convert --trust-pickle IN.pt OUT.safetensors``, run knowingly by
  the user, for a file the restricted reader refuses (its module classes come from elsewhere, e.g.
  the study's X-ray model "B"): ``torch.load(weights_only=False)``, which needs the classes the
  pickle names importable (run from the folder of the code that saved it, or put it on
  ``PYTHONPATH``).

Accepted contents: a whole ``nn.Module``, ``{"state_dict": …}`` (CheXNet's layout, remapped onto
torchvision's ``densenet121`` keys), ``{"model": module}``, or a plain state dict.
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
from cameval.models.registry import build_model, load_state, save_model
from cameval.models.safe_pickle import StubModule, check_module_tree, map_module_onto, read_pickled, stub_state_dict

log = logging.getLogger(__name__)


def state_dict_of(obj) -> dict[str, torch.Tensor]:
    """The tensors of an unpickled checkpoint: a module's state dict, a ``state_dict`` entry, or
    the dict itself; keys remapped with :func:`remap_chexnet`."""
    if isinstance(obj, dict) and isinstance(obj.get("model"), (nn.Module, StubModule)):
        obj = obj["model"]
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    elif isinstance(obj, StubModule):
        obj = stub_state_dict(obj)
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DataError(f"checkpoint holds a {type(obj).__name__}, expected an nn.Module or a state dict of tensors")
    return remap_chexnet(obj)


def convert_checkpoint(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    trust_pickle: bool = False,
    arch: str | None = None,
    num_classes: int | None = None,
) -> dict:
    """Read ``src`` (restrictedly, or with ``torch.load`` only with ``trust_pickle``) and write its
    tensors to ``dst`` as safetensors; with ``arch``, as cameval's ``arch`` (see the module docstring).

    Returns ``{"tensors": n, "parameters": total elements}``.
    """
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".safetensors":
        raise DataError(f"{dst}: expected an output name ending in .safetensors")
    if not src.is_file():
        raise DataError(f"{src}: no such file")
    obj = torch.load(src, map_location="cpu", weights_only=False) if trust_pickle else read_pickled(src)
    stub = obj.get("model") if isinstance(obj, dict) else obj
    if isinstance(stub, StubModule):
        check_module_tree(stub, src)
    if arch is None:
        state = {k: v.detach().contiguous().cpu() for k, v in state_dict_of(obj).items()}
        with atomic_path(dst) as tmp:
            save_file(state, str(tmp), metadata={"converted_from": json.dumps(str(src))})
    else:
        build = {} if num_classes is None else {"num_classes": num_classes}
        model = build_model(arch, **build)
        module = (
            obj["model"] if isinstance(obj, dict) and isinstance(obj.get("model"), (nn.Module, StubModule)) else obj
        )
        if isinstance(module, (nn.Module, StubModule)):
            model.load_state_dict(map_module_onto(module, model, name=str(src)))
        else:  # a state dict: its keys must be the model's
            load_state(model, state_dict_of(obj), str(src))
        save_model(model, dst, arch, build=build, info={"source": str(src)})
        state = model.state_dict()
    summary = {"tensors": len(state), "parameters": int(sum(v.numel() for v in state.values()))}
    log.info("%s → %s: %d tensors, %d numbers", src, dst, summary["tensors"], summary["parameters"])
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cameval.models", description="cameval model utilities")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a pickled checkpoint (whole module or state dict) to safetensors")
    conv.add_argument(
        "--trust-pickle",
        action="store_true",
        help="read with torch.load, which executes code named in the file: only for files you trust "
        "that the restricted reader (the default) refuses",
    )
    conv.add_argument("--arch", help="map the checkpoint onto this cameval architecture by structure (e.g. mnist_net)")
    conv.add_argument("--num-classes", type=int, help="output classes of --arch (default: the arch's)")
    conv.add_argument("src", help="the pickled checkpoint (.pt, .pth, .pth.tar)")
    conv.add_argument("dst", help="the .safetensors file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        summary = convert_checkpoint(
            args.src, args.dst, trust_pickle=args.trust_pickle, arch=args.arch, num_classes=args.num_classes
        )
    except CamevalError as e:
        parser.exit(2, f"error: {e}\n")
    log.info("wrote %s (%d tensors)", args.dst, summary["tensors"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
