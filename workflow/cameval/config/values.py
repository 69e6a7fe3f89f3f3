"""Config checks of values the schema accepts but that cannot work together, the strict loader,
used by the one pass (:mod:`cameval.config.onepass`).

- :func:`load_strict` reads a config file as YAML but refuses a key given twice in one mapping
  (plain YAML keeps the last value silently, so ``answers:`` written again below the shipped
  ``answers: []`` would win unnoticed).
- :func:`check_config` takes the validated config (schema defaults set) and raises
  :class:`ConfigError` naming the key path and what was expected when values that the schema
  accepts cannot work together: targets asking for more classes than a model has, an
  evaluation split the dataset does not have, a ``train.subset`` above the dataset's train
  split, per-model numbers that miss a model, a heatmap set of the wrong method in a role, a
  model used on a dataset it was not trained on.
- :func:`check_device` refuses ``device: cuda`` on a machine without a CUDA GPU (local runs).
"""

from __future__ import annotations

import os
import re

import yaml

from cameval.data.kinds import dataset_kind
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
    fixed = dataset_kind(dataset).fixed_splits
    if fixed is not None:
        return fixed
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
