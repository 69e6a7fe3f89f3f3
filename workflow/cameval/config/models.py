"""Each model of a config against its dataset: its architecture builds, one forward pass of its
dataset's image shape runs on the ``meta`` device, and a default layer is found where a method
explains one; :func:`remembered_model_checks` remembers the answers between parses
(:mod:`cameval.checkcache`). These import torch and your builders: the workflow's main process and
``python -m cameval check`` only.
"""

from __future__ import annotations

from cameval import checkcache

# --- duplicated keys ----------------------------------------------------------------------------
from cameval.config.values import heatmap_uses, model_classes
from cameval.errors import ConfigError


def layer_needs(config: dict, uses_layer) -> dict[str, str]:
    """``{model: the first config key that explains one of its layers}``, for the models that need a
    default layer (none given to the heatmap set): ``uses_layer(method) -> bool`` says which methods do."""
    heatmaps = config["heatmaps"]
    needs: dict[str, str] = {}
    for h, users in heatmap_uses(config).items():
        if h in heatmaps and not heatmaps[h].get("layer") and uses_layer(heatmaps[h]["method"]):
            for m, where in users.items():
                needs.setdefault(m, f"{where[0]} (heatmaps.{h}: {heatmaps[h]['method']})")
    for section in ("table6", "table7"):
        for m in config.get(section, {}).get("models", []):
            needs.setdefault(m, f"{section} (Grad-CAM)")
    return needs


def check_model(name: str, spec: dict, need: str | None, shape: tuple[int, int, int] | None = None) -> None:
    """Model ``name``'s ``arch`` builds (a name of ours, torchvision's, or an importable
    ``package.module:function``); where ``shape`` (its dataset's images, ``(C, H, W)``) is given, one
    forward pass of a ``[1, C, H, W]`` input runs on the ``meta`` device (no memory, no compute), so
    that an architecture too deep for the image size or of another channel count is refused here, not
    in a job; and where ``need`` (the config key that explains a layer of it) is given and the model
    has no ``layer:``, a default layer is found from its architecture. Imports torchvision and your
    builder."""
    from cameval.models.registry import arch_builder, arch_default_layer  # noqa: PLC0415 - torch: main process only

    try:
        arch_builder(spec["arch"])
    except ConfigError as err:
        raise ConfigError(f"models.{name}.{err}") from None
    build = {**spec.get("build", {}), "num_classes": model_classes(spec) or 10}
    if shape is not None:
        _check_forward(name, spec, build, shape)
    if need and not spec.get("layer"):
        try:
            arch_default_layer(spec["arch"], build)
        except ConfigError as err:
            raise ConfigError(
                f"models.{name}: {err}. {need} explains a layer of it: add `layer:` to models.{name}"
            ) from None


def _check_forward(name: str, spec: dict, build: dict, shape: tuple[int, int, int]) -> None:
    """One forward pass of a ``[1, *shape]`` input through ``spec``'s architecture on the meta device;
    a builder or layer that cannot run there is not checked (the job will)."""
    import torch  # noqa: PLC0415 - main process only

    from cameval.models.registry import build_model  # noqa: PLC0415

    c, h, w = shape
    try:
        with torch.device("meta"):
            model = build_model(spec["arch"], **build).eval()
            with torch.no_grad():
                model(torch.empty(1, c, h, w))
    except NotImplementedError:
        return  # an operation without a meta kernel: the shapes cannot be known here
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "meta" in first.lower() and "tensor" in first.lower() and "size" not in first.lower():
            return  # the builder computes with tensor values (not shapes): not checkable on meta
        raise ConfigError(
            f"models.{name}.arch: {spec['arch']} cannot take the {c}-channel {h}x{w} images of datasets."
            f"{spec['dataset']} ({first[:200]}) (expected an architecture for that input: another arch, a "
            "dataset of the size and channels it needs — size, crop or resize, and mean/std of 1 or 3 values — "
            "or build arguments that fit)"
        ) from None


def remembered_model_checks(config: dict, names=None, shapes: dict | None = None) -> None:
    """:func:`check_model` for the models ``names`` (default: all), each model's check remembered
    between parses (:func:`cameval.checkcache.remembered`, by its arch, ``build``, classes, its
    dataset's image shape ``shapes[name]`` and whether it needs a default layer)."""

    def uses_layer_or_not(method: str) -> bool:  # a method that cannot be resolved: its own check names it
        try:
            return checkcache.uses_layer(method)
        except ConfigError:
            return False

    needs = layer_needs(config, uses_layer_or_not)
    shapes = shapes or {}
    for name in config["models"] if names is None else names:
        spec = config["models"][name]
        default_layer = bool(needs.get(name) and not spec.get("layer"))
        shape = shapes.get(name)
        what = [spec["arch"], spec.get("build", {}), model_classes(spec), default_layer, shape]

        def check(name=name, spec=spec, shape=shape) -> bool:
            check_model(name, spec, needs.get(name), shape)
            return True

        checkcache.remembered("model", what, check, checkcache.own_module(spec["arch"]))


def check_models(config: dict) -> None:
    """:func:`check_model` for every model of the config (imports torch and the libraries)."""
    from cameval.explain import uses_layer  # noqa: PLC0415 - torch and the libraries: only the main process pays

    needs = layer_needs(config, uses_layer)
    for name, spec in config["models"].items():
        check_model(name, spec, needs.get(name))
