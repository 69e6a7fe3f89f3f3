"""Build models by name and load their weights without executing pickled code.

Weight sources (``load_weights`` / the ``weights:`` key of a model in the config):
- ``torchvision:<Enum>.<member>`` such as ``torchvision:VGG16_Weights.IMAGENET1K_V1``: torchvision's
  checkpoint from its cache (``$TORCH_HOME/hub/checkpoints``), downloaded when online;
- a ``.safetensors`` file;
- a ``.pt`` / ``.pth`` / ``.pth.tar`` state dict, read with ``torch.load(weights_only=True)``
  (a ``{"state_dict": …}`` wrapper and a ``module.`` prefix from DataParallel are unwrapped;
  CheXNet's layout is remapped onto torchvision's ``densenet121``, see
  :func:`cameval.models.densenet.remap_chexnet`). A file holding pickled objects (a whole
  ``nn.Module``) is refused here;
- ``pickled-module:<path>``: a whole pickled ``nn.Module`` (``torch.save(model)``, such as the
  study's MNIST network) read by the restricted unpickler, which runs no pickled code
  (:mod:`cameval.models.safe_pickle`), its layers mapped onto the architecture by structure.
  A pickle it refuses (classes outside ``torch.nn``, ``torchvision.models`` and ``__main__``):
  ``python -m cameval.models convert --trust-pickle IN OUT.safetensors``, run knowingly by the user.

Architectures (``arch``, :func:`build_model`): the names of :data:`ARCHS` (the study's and the
embedded default's), every classification architecture torchvision lists
(``torchvision.models.list_models(module=torchvision.models)``: ``resnet18``, ``convnext_tiny``,
``efficientnet_b0`` …, built with ``torchvision.models.get_model``), or your own builder
``package.module:function``, called with ``num_classes`` and the model's ``build`` keyword arguments.

Models are saved as safetensors with their build arguments in the metadata, so
``load_model(path)`` rebuilds the architecture before loading the tensors.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from cameval.errors import ConfigError, DataError
from cameval.explain import default_layer
from cameval.io import atomic_path
from cameval.models.densenet import densenet121, remap_chexnet
from cameval.models.safe_pickle import map_module_onto, read_pickled_module
from cameval.models.small import MnistNet, SmallAlexNet, SmallGoogLeNet, SmallVGG, small_densenet

log = logging.getLogger(__name__)

#: weights spec of a whole pickled module read by the restricted unpickler: ``pickled-module:<path>``
PICKLED_MODULE = "pickled-module:"


def _torchvision(name: str) -> Callable[..., nn.Module]:
    """torchvision's builder ``name``, imported on first use (torchvision's import costs ≈2.5 s a job)."""

    def build(num_classes: int = 1000) -> nn.Module:
        import torchvision  # noqa: PLC0415  # torchvision's import costs ≈2.5 s a job; only what needs it pays

        return getattr(torchvision.models, name)(num_classes=num_classes)

    return build


def _googlenet(num_classes: int = 1000, transform_input: bool = False) -> nn.Module:
    import torchvision  # noqa: PLC0415  # see torchvision_archs

    return torchvision.models.googlenet(
        num_classes=num_classes, aux_logits=False, init_weights=True, transform_input=transform_input
    )


#: arch name -> builder(num_classes, **kwargs)
ARCHS: dict[str, Callable[..., nn.Module]] = {
    "vgg16": _torchvision("vgg16"),
    "vgg16_bn": _torchvision("vgg16_bn"),
    "alexnet": _torchvision("alexnet"),
    "googlenet": _googlenet,
    "densenet121": lambda num_classes=1000: densenet121(num_classes=num_classes),
    "small_vgg": lambda num_classes=10: SmallVGG(num_classes),
    "small_alexnet": lambda num_classes=10: SmallAlexNet(num_classes),
    "small_googlenet": lambda num_classes=10: SmallGoogLeNet(num_classes),
    "small_densenet": lambda num_classes=10: small_densenet(num_classes),
    "mnist_net": lambda num_classes=10, in_channels=1, size=28: MnistNet(num_classes, in_channels, size),
}


#: an own builder: ``package.module:function``
BUILDER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def torchvision_archs() -> list[str]:
    """Every classification architecture torchvision lists (``list_models(module=torchvision.models)``)."""
    import torchvision  # noqa: PLC0415 - torchvision's import costs ≈2.5 s a job; only what needs it pays

    return torchvision.models.list_models(module=torchvision.models)


def own_builder(arch: str) -> Callable[..., nn.Module]:
    """The function ``package.module:function`` names, imported; a ConfigError names what is missing."""
    module, _, name = arch.partition(":")
    try:
        func = getattr(importlib.import_module(module), name)
    except ImportError as err:
        raise ConfigError(
            f"arch: {arch!r}: cannot import module {module!r} ({err}; expected package.module:function)"
        ) from err
    except AttributeError:
        raise ConfigError(
            f"arch: {arch!r}: module {module!r} has no {name!r} (expected package.module:function)"
        ) from None
    if not callable(func):
        raise ConfigError(f"arch: {arch!r} is a {type(func).__name__}, expected a function that returns an nn.Module")
    return func


def arch_builder(arch: str) -> Callable[..., nn.Module]:
    """The builder of ``arch`` (see the module docstring); ConfigError naming the choices if none."""
    if arch in ARCHS:
        return ARCHS[arch]
    if BUILDER.match(arch):
        return own_builder(arch)
    if arch in torchvision_archs():
        import torchvision  # noqa: PLC0415 - see torchvision_archs

        return lambda **kwargs: torchvision.models.get_model(arch, weights=None, **kwargs)
    raise ConfigError(
        f"arch: {arch!r} is not one of {', '.join(ARCHS)}, a torchvision architecture "
        "(torchvision.models.list_models(), e.g. resnet18, convnext_tiny) or a builder package.module:function"
    )


def build_model(arch: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """A freshly initialised ``arch`` (see the module docstring) in eval mode; ``kwargs`` go to its builder."""
    builder = arch_builder(arch)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = builder(**kwargs)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"arch: {arch!r} returned a {type(model).__name__}, expected an nn.Module")
    return model.eval()


def _torchvision_weights(spec: str):
    import torchvision  # noqa: PLC0415  # see torchvision_archs

    name = spec.split(":", 1)[1]
    try:
        return torchvision.models.get_weight(name)
    except (ValueError, KeyError, AttributeError) as err:
        raise ConfigError(
            f"weights: {spec!r} is not a torchvision weights enum (e.g. VGG16_Weights.IMAGENET1K_V1)"
        ) from err


def torchvision_state_dict(spec: str) -> dict[str, torch.Tensor]:
    """State dict of a ``torchvision:<Enum>.<member>`` spec, from the cache or downloaded."""
    weights = _torchvision_weights(spec)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        return weights.get_state_dict(progress=False, check_hash=False)
    except Exception as err:  # offline, proxy, partial file …
        raise DataError(
            f"weights: {spec}: could not load {cached} ({type(err).__name__}: {err}). Offline, put "
            f"the file {os.path.basename(weights.url)} from {weights.url} there, or set TORCH_HOME "
            f"to a folder whose hub/checkpoints holds it"
        ) from err


def from_torchvision(arch: str, spec: str, build: dict | None = None) -> tuple[nn.Module, dict]:
    """``arch`` with torchvision's weights ``spec``, and the build arguments that recreate it.

    GoogLeNet's ImageNet weights expect ``transform_input=True`` (torchvision sets it); the
    auxiliary classifiers are dropped, as in torchvision's builder.
    """
    weights = _torchvision_weights(spec)
    state = torchvision_state_dict(spec)
    build = {**(build or {}), "num_classes": len(weights.meta["categories"])}
    if arch in ("googlenet", "inception_v3"):
        build["transform_input"] = True
        state = {k: v for k, v in state.items() if not k.startswith("aux")}
    model = build_model(arch, **build)
    model.load_state_dict(state)
    return model.eval(), build


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a local checkpoint, never unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"weights: no file {path} (expected .safetensors, .pt, .pth or .pth.tar)")
    if path.suffix == ".safetensors":
        try:
            return remap_chexnet(load_file(str(path)))
        except Exception as err:  # SafetensorError ("header too large" ...), OSError
            raise DataError(
                f"weights: {path} is not a readable safetensors file ({type(err).__name__}: {err}); "
                "expected a file written by safetensors (cameval.models.save_model)"
            ) from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        why = next(
            (ln for ln in lines if "Unsupported global" in ln or "WeightsUnpickler error" in ln),
            lines[0] if lines else type(err).__name__,
        ).split(" Please use")[0]
        raise DataError(
            f"weights: {path} is not a state dict loadable with weights_only=True: {why} (refused without "
            "unpickling it; expected tensors only, e.g. model.state_dict(); the workflow never unpickles code). "
            f"If it is a whole pickled nn.Module, give weights: {PICKLED_MODULE}{path} (read by the restricted "
            "unpickler, which runs no pickled code); if that reader refuses it and you trust the file, convert it "
            f"once, knowingly: python -m cameval.models convert --trust-pickle {path} "
            f"{path.with_suffix('.safetensors')} — then point the config at the .safetensors file."
        ) from err
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DataError(f"weights: {path} holds a {type(obj).__name__}, expected a state dict of tensors")
    return remap_chexnet(obj)


def load_weights(model: nn.Module, source: str) -> nn.Module:
    """Load ``source`` (see the module docstring) into ``model``; keys must match exactly (a pickled
    module's layers are first mapped onto ``model``'s by structure)."""
    if source.startswith("torchvision:"):
        state = torchvision_state_dict(source)
    elif source.startswith(PICKLED_MODULE):
        path = source[len(PICKLED_MODULE) :]
        state = map_module_onto(read_pickled_module(path), model, name=path)
    else:
        state = read_state_dict(source)
    return load_state(model, state, source)


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Load the tensors ``state`` (read from ``source``) into ``model``; keys and shapes must match."""
    own = model.state_dict()
    # BatchNorm's step counters are absent from checkpoints of PyTorch < 0.4 (CheXNet's); they only
    # matter with momentum=None, so the model keeps its own
    state = {**{k: v for k, v in own.items() if k.endswith("num_batches_tracked") and k not in state}, **state}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise DataError(
            f"weights: {source} does not fit {type(model).__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}"
        )
    model.load_state_dict(state)
    return model.eval()


def save_model(
    model: nn.Module, path: str | os.PathLike, arch: str, build: dict | None = None, info: dict | None = None
) -> None:
    """Write ``model``'s tensors as safetensors, atomically, with what rebuilds it."""
    meta = {"arch": arch, "build": build or {}, "info": info or {}}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"cameval": json.dumps(meta)})


def model_metadata(path: str | os.PathLike) -> dict:
    if not Path(path).is_file():
        raise DataError(f"{path}: no such model file (expected a .safetensors file written by the model rules)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = (f.metadata() or {}).get("cameval")
    except Exception as err:  # SafetensorError ("header too large" ...), OSError
        raise DataError(
            f"{path}: not a readable safetensors file ({type(err).__name__}: {err}); expected a "
            "file written by cameval.models.save_model"
        ) from err
    if meta is None:
        raise DataError(f"{path}: no cameval metadata (expected a file written by cameval.models.save_model)")
    try:
        meta = json.loads(meta)
        if not isinstance(meta, dict) or "arch" not in meta:
            raise ValueError("no 'arch'")
    except ValueError as err:
        raise DataError(f"{path}: cameval metadata {meta[:200]!r} is not JSON with 'arch' and 'build' ({err})") from err
    meta.setdefault("build", {})
    return meta


def load_model(path: str | os.PathLike) -> nn.Module:
    """Rebuild and load a model written by :func:`save_model`, in eval mode."""
    meta = model_metadata(path)
    model = build_model(meta["arch"], **meta["build"])
    return load_weights(model, str(path))


def model_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a weights file (recorded in every heatmap shard)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_weights(
    arch: str, source: str, out: str | os.PathLike, num_classes: int | None = None, build: dict | None = None
) -> None:
    """Write ``arch`` (built with the keyword arguments ``build``) with the weights of ``source``
    (torchvision spec or local file) as safetensors."""
    if source.startswith("torchvision:"):
        model, build = from_torchvision(arch, source, build)
    else:
        build = {**(build or {}), **({} if num_classes is None else {"num_classes": num_classes})}
        model = load_weights(build_model(arch, **build), source)
    save_model(model, out, arch, build=build, info={"source": source})
    log.info("%s: %s weights from %s written to %s", arch, type(model).__name__, source, out)


def arch_default_layer(arch: str, build: dict | None = None) -> str:
    """The default Grad-CAM layer of ``arch`` built with ``build`` (see
    :func:`cameval.explain.default_layer`), for checking a config at parse time: the model is built
    on the ``meta`` device (no memory, no initialisation) where its builder allows, else on the CPU."""
    try:
        with torch.device("meta"):
            model = build_model(arch, **(build or {}))
    except (NotImplementedError, RuntimeError):  # a builder that computes with tensors (RegNet's widths)
        model = build_model(arch, **(build or {}))
    return default_layer(model)
