"""The one pass over a config before any job: :func:`check_all`.

The files read again strictly, the schema (one line per error, naming the key path and what was
expected; its defaults set), names that cannot be wildcards, non-finite numbers, the data and
checkpoint files every enabled experiment needs, each experiment's checks, the methods'
parameters, and each model against its dataset (classes, input size and channels). Every problem
found is listed in one :class:`ConfigError`; ``python -m cameval check config.yaml`` prints the
same list.
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
from cameval.config.models import remembered_model_checks
from cameval.config.values import check_config, load_strict, model_classes
from cameval.data.kinds import KINDS, dataset_kind
from cameval.errors import ConfigError
from cameval.methods import split_name
from cameval.paths import check_root

# --- the one pass: every problem of a config, before any job ----------------------------------

#: the config's JSON schema (its defaults are set by :func:`schema_problems`)
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

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
        kind = KINDS.get(d.get("kind"))  # an unknown kind is the schema's problem, listed with the others
        if kind is not None:
            out += kind.file_problems(name, d)
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
    return dataset_kind(d).shape(d)


def dataset_labels(d: dict) -> int | None:
    """How many classes the labels of dataset entry ``d`` take (None where unknown at parse time)."""
    return dataset_kind(d).labels(d)


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
        if "min_accuracy" in m and dataset_kind(datasets[m["dataset"]], m["dataset"]).multilabel:
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
        required = dataset_kind(d, name).eval_split
        if required is not None and d["eval_split"] != required:
            out.append(f"datasets.{name}.eval_split: {d['eval_split']!r} (expected {required} for kind {d['kind']})")
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
    attempt(check_root, config)
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
