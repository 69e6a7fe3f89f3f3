"""Table 3 and Appendix B: rank correlation of Guided Backprop, Grad-CAM and Guided Grad-CAM with occlusion.

Per image (:func:`rankcorr_rows`: Spearman ρ with the occlusion map, from cached shards), the table
with intervals and paired differences (:func:`table3`), its notes, the figure of Appendix B
(:func:`appendix_b`), and the claims it decides, on this run and on the study's own per-image ρ.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.claims import FAILS, PAIRED_CRITERION, UNDECIDED, Claim, Context, Verdict, combine, pair, study_pair
from cameval.data.images import ImageSet, read_manifest
from cameval.errors import ConfigError, DataError
from cameval.experiments.record import Experiment, model_sets, require, require_dataset_models, table_files
from cameval.figures import colorbar, overlay, panel_grid, save, tidy_row
from cameval.formatting import fmt, row_interval
from cameval.methods import kind, labels
from cameval.methods import label as method_label
from cameval.store import Expect, Shard, check_shards
from cameval.tables import paired_columns, paired_key, stat_columns


def rankcorr_rows(
    occlusion: list[str],
    others: dict[str, list[str]],
    n_images: int,
    size: int = 14,
    reduce: str = "abs_max",
    expected: dict[str, int] | None = None,
    expect: dict[str, Expect] | None = None,
) -> pd.DataFrame:
    """Table 3's per-image Spearman rho between an occlusion map and each other map.

    ``others`` maps a method name (``guided_backprop``, ``gradcam``) or the name of any other
    CAM- or pixel-type heatmap set (``table3.methods``: ``layercam``, ``saliency``) to shards
    covering the same first images, whose first map is the top-1 class's; ``guided_gradcam`` is
    formed from ``guided_backprop`` and ``gradcam`` (Guided Backprop ⊙ upsampled Grad-CAM) when
    both are given. Pixel maps are reduced to one channel with ``reduce``
    (see :func:`cameval.metrics.reduce_channels`); all maps are explained for the top-1 class.
    ``expected`` maps ``occlusion`` and each key of ``others`` to the rows its shards must cover,
    each once (:func:`cameval.store.check_shards`; a missing key is not checked), ``expect`` each to
    what its shards must have been made from (:class:`cameval.store.Expect`; a missing key: not checked).
    """
    import torch  # noqa: PLC0415  # torch here only: the table and figure jobs of this module start without it

    from cameval.explain.guided import combine_guided_gradcam  # noqa: PLC0415  # loads torch (as above)

    expected, expect = expected or {}, expect or {}
    for name, paths in {"occlusion": occlusion, **others}.items():
        check_shards(paths, expected.get(name), expect.get(name))

    occ = [Shard(p) for p in occlusion]
    other = {k: [Shard(p) for p in v] for k, v in others.items()}
    try:
        rows = []
        for o in occ:
            for i, image_id in enumerate(o.ids):
                if len(rows) >= n_images:
                    break
                row = {"id": image_id, "class": int(o.targets[i, 0])}
                occ_map = o.maps[i, 0]
                maps = {}
                for name, shard_list in other.items():
                    shard = _find(shard_list, image_id)
                    k = shard.ids.index(image_id)
                    if int(shard.targets[k, 0]) != row["class"]:
                        raise DataError(
                            f"{shard.path}: image {image_id} explains class "
                            f"{int(shard.targets[k, 0])}, occlusion explains {row['class']}"
                        )
                    maps[name] = shard.maps[k, 0]
                if "guided_backprop" in maps and "gradcam" in maps:
                    maps["guided_gradcam"] = combine_guided_gradcam(
                        torch.as_tensor(maps["guided_backprop"])[None], torch.as_tensor(maps["gradcam"])[None]
                    )[0].numpy()
                for name, m in maps.items():
                    flat = metrics.reduce_channels(m, reduce) if m.ndim == 3 else m
                    row[name] = metrics.rank_correlation(occ_map, flat, size=size)
                rows.append(row)
        if len(rows) < n_images:
            raise DataError(f"occlusion shards hold {len(rows)} images, {n_images} were asked for")
        return pd.DataFrame(rows)
    finally:
        for s in occ + [s for v in other.values() for s in v]:
            s.close()


def _find(shards: list[Shard], image_id: str) -> Shard:
    for s in shards:
        if image_id in s.ids:
            return s
    raise DataError(f"image {image_id} is in none of {[str(s.path) for s in shards]}")


TABLE3_METHODS = labels("guided_backprop", "gradcam", "guided_gradcam")


#: the paired comparisons of Table 3, on the same images
TABLE3_PAIRS = (("gradcam", "guided_backprop"), ("guided_gradcam", "guided_backprop"), ("guided_gradcam", "gradcam"))


def table3(
    rows: dict[tuple[str, str], pd.DataFrame],
    patches: dict[str, int],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    extra: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3: mean ± std Spearman rho with occlusion, per model, patch size and method, and the
    paired differences of :data:`TABLE3_PAIRS` on the same images (:func:`_paired_columns`).

    ``extra`` maps further columns of the rows (heatmap sets of ``table3.methods``) to their
    labels: each gets its mean ± std and its paired difference from Grad-CAM
    (``{set}_minus_gradcam``), in columns after the study's (the others keep their places).

    ``reference[source]`` (``source``: ``study``, ``original``) = ``{method: mean}`` or
    ``{method: {mean, std}}``, with optional ``patch`` and ``n`` (what the values were computed
    on). They are shown as rows of their own in the display, and in the CSV as columns
    ``{source}_{method}`` (and ``{source}_{method}_std``) on the rows of that patch size (every
    row where ``patch`` is not given).
    """
    reference = reference or {}

    def ref(source: str, key: str) -> tuple:
        v = (reference.get(source) or {}).get(key)
        return (v.get("mean"), v.get("std")) if isinstance(v, dict) else (v, None)

    full, display = [], []
    for (model, occlusion), df in rows.items():
        rec = {"model": model, "occlusion": occlusion, "patch": patches[occlusion], "n": len(df)}
        shown = {"model": model, "patch": f"{patches[occlusion]}×{patches[occlusion]}", "n": len(df)}
        for key, label in TABLE3_METHODS.items():
            stat_columns(rec, shown, key, label, df[key], n_boot, seed, std=True)
        for a, b in TABLE3_PAIRS:
            paired_columns(
                rec, shown, paired_key(a, b), f"{TABLE3_METHODS[a]} − {TABLE3_METHODS[b]}", df[a], df[b], n_boot, seed
            )
        for source in ("study", "original"):
            values = reference.get(source) or {}
            applies = bool(values) and values.get("patch") in (None, patches[occlusion])
            for key in TABLE3_METHODS:
                mean, std = ref(source, key) if applies else (None, None)
                rec[f"{source}_{key}"], rec[f"{source}_{key}_std"] = mean, std
        for key, label in (extra or {}).items():
            stat_columns(rec, shown, key, label, df[key], n_boot, seed, std=True)
            paired_columns(
                rec, shown, paired_key(key, "gradcam"), f"{label} − Grad-CAM", df[key], df["gradcam"], n_boot, seed
            )
        full.append(rec)
        display.append(shown)
    for source in ("original", "study"):
        values = reference.get(source)
        if values:
            patch = values.get("patch")
            cells = {}
            for key, label in TABLE3_METHODS.items():
                mean, std = ref(source, key)
                cells[label] = fmt(mean, 4) + (f" ± {fmt(std, 4)}" if std is not None else "")
            display.append(
                {
                    "model": f"({source})",
                    "patch": f"{patch}×{patch}" if patch else "–",
                    "n": values.get("n", "–"),
                    **cells,
                }
            )
    return pd.DataFrame(full), pd.DataFrame(display)


def appendix_b(
    images: str,
    manifest: str,
    gradcam: list[str],
    occlusions: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 4,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix B: per image, Grad-CAM overlay and the occlusion maps of each patch size, all of the
    top-1 predicted class (the class Table 3's maps explain); each row names the image, its true class
    and that predicted class.

    ``occlusions`` maps a column title (e.g. ``occlusion 25×25``) to its shards. Every occlusion map has
    its own colorbar of the score drop (logit of the class, unnormalized), Grad-CAM one shared 0–1 scale.
    ``expect`` maps ``gradcam`` and each title to what its shards must have been made from
    (:class:`cameval.store.Expect`).
    """
    expect = expect or {}
    index = read_manifest(manifest).set_index("id")["index"]
    occ = {k: Shard(v[0], expect.get(k)) for k, v in occlusions.items()}
    cam = Shard(gradcam[0], expect.get("gradcam"))
    try:
        n = min(n_images, *(len(s) for s in occ.values()))
        cols = ["Grad-CAM (predicted class)", *(f"{k}: score drop" for k in occ)]
        fig, axes = panel_grid(n, len(cols), (2.5 * len(cols), 2.4 * n + 0.5))
        with ImageSet(images) as imgs:
            for r in range(n):
                image_id = next(iter(occ.values())).ids[r]
                image = imgs.uint8(np.array([index[image_id]]))[0]
                h, w = image.shape[:2]
                k = cam.ids.index(image_id)
                im = overlay(axes[r, 0], image, metrics.upsample_map(cam.maps[k, 0], (h, w)))
                true = int(np.asarray(cam.labels[k]).reshape(-1)[0])
                axes[r, 0].set_ylabel(
                    f"image {image_id.split('/')[-1]}\ntrue class {true}\npredicted {int(cam.targets[k, 0])}",
                    fontsize=8,
                )
                for c, shard in enumerate(occ.values(), start=1):
                    m = shard.maps[r, 0]
                    lim = float(np.abs(m).max()) or 1.0
                    oim = axes[r, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
                    cb = fig.colorbar(oim, ax=axes[r, c], fraction=0.046, pad=0.02)
                    cb.ax.tick_params(labelsize=7)
                    cb.set_label("score drop (logit)", fontsize=7.5)
                tidy_row(axes, r, cols)
        colorbar(fig, im, axes[:, 0], "Grad-CAM, 0–1 of its max", label_size=8, location="bottom", shrink=0.8, pad=0.02)
        fig.supxlabel(
            "occlusion: the class score (logit) with the patch centred at each pixel subtracted from the clean "
            "score; red: the score falls",
            fontsize=7.5,
        )
        save(fig, path)
    finally:
        cam.close()
        for s in occ.values():
            s.close()


def _table3_pair(a: str, b: str, significance: bool = False):
    """This run's verdict of "``a`` correlates with occlusion better than ``b``" on Table 3's paired
    columns, for every model and patch size. With ``significance`` (the study says
    "significantly") no significant difference counts against the claim."""

    def evaluate(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        t = tables["table3"]
        key = paired_key(a, b)
        criterion = (
            f"mean Spearman ρ with occlusion of {TABLE3_METHODS[a]} minus {TABLE3_METHODS[b]}'s, for every "
            "model and patch size, " + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        )
        if key not in t:
            return Verdict(f"not evaluated (Table 3 lacks the paired column {key})", "", criterion)
        parts, numbers = [], []
        for _, r in t.iterrows():
            v, text = pair(r, key, ctx.alpha)
            parts.append(FAILS if significance and v == UNDECIDED else v)
            numbers.append(
                f"{r['model']} {int(r['patch'])}×{int(r['patch'])} (n = {int(r['n'])}): "
                f"{TABLE3_METHODS[a]} {row_interval(r, a, 3)} vs {TABLE3_METHODS[b]} {row_interval(r, b, 3)}; {text}"
            )
        if significance:
            criterion += "; no significant difference does not hold (the claim is of a significant one)"
        return Verdict(combine(parts), "; ".join(numbers), criterion)

    return evaluate


def _study_table3_pair(a: str, b: str, significance: bool = False):
    """The same claim on the study's per-image ρ (120 ILSVRC images, VGG-16, 45×45 occlusion)."""

    def evaluate(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        v, text = study_pair(study["table3"], a, b, ctx.alpha)
        criterion = "the study's 120 images, " + PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha)
        if significance:
            v = FAILS if v == UNDECIDED else v
            criterion += "; no significant difference does not hold"
        return Verdict(v, text, criterion)

    return evaluate


claim_guided_gradcam_beats_guided_backprop = _table3_pair("guided_gradcam", "guided_backprop")


REDUCE = {
    "abs_max": "max over channels of the absolute value",
    "sum": "sum over channels",
    "abs_sum": "sum over channels of the absolute value",
    "norm": "L2 norm over channels",
}
TITLE = "Table 3 — Spearman rank correlation with occlusion (mean ± std [95 % bootstrap interval of the mean])"


def notes(cfg: dict, heatmaps: dict | None = None) -> list[str]:
    """What Table 3 computed (``cfg``: the config's ``table3``; ``heatmaps``: the config's heatmap
    sets, to name the methods of ``table3.methods``)."""
    out = [
        f"First {cfg['images']} images of the evaluation split, top-1 predicted class; both maps resized "
        f"bilinearly to {cfg['size']}×{cfg['size']} before ranking.",
        "Occlusion: a gray patch centred at every pixel on the stride grid (clipped at the border), "
        "map = score drop; the model sees the image at its own size.",
        f"Pixel maps (Guided Backprop, Guided Grad-CAM) reduced to one channel with '{cfg['reduce']}' "
        f"({REDUCE[cfg['reduce']]}); Guided Grad-CAM = Guided Backprop ⊙ upsampled Grad-CAM.",
    ]
    if cfg.get("methods") and heatmaps:
        sets = "; ".join(
            f"{h}: {method_label(heatmaps[h]['method'])} ({kind(heatmaps[h]['method'], heatmaps[h].get('kind'))}-type)"
            for h in cfg["methods"]
        )
        out.append(
            f"Further heatmap sets, each its top-1 map, pixel-type ones reduced as above: {sets}; "
            "each paired with Grad-CAM on the same images."
        )
    return out


#: the columns of Table 3's rows that a set of ``table3.methods`` may not be named
RESERVED = ("id", "class", "occlusion", *TABLE3_METHODS)


def extra_labels(config: dict) -> dict[str, str]:
    """``{set: label}`` of the heatmap sets of ``table3.methods``, in order."""
    return {h: method_label(config["heatmaps"][h]["method"]) for h in config["table3"]["methods"]}


def map_sets(config: dict) -> dict[str, str]:
    """The heatmap set read for each compared column of the rows: ``gradcam``, ``guided_backprop``
    (their roles) and every set of ``table3.methods`` (by its own name)."""
    t = config["table3"]
    return {"gradcam": t["gradcam"], "guided_backprop": t["guided_backprop"], **{h: h for h in t["methods"]}}


def table_inputs(config: dict) -> dict[str, str]:
    """The per-image rows Table 3 aggregates: ``{model}__{occlusion}`` -> its CSV."""
    t = config["table3"]
    return {
        f"{model}__{occ}": f"results/metrics/rankcorr/{t['dataset']}/{model}/{occ}.csv"
        for model in t["models"]
        for occ in t["occlusion"]
    }


def patches(config: dict) -> dict[str, int]:
    """The patch size of each occlusion heatmap set of Table 3."""
    return {k: config["heatmaps"][k]["params"]["patch"] for k in config["table3"]["occlusion"]}


def check(config: dict, shipped) -> None:
    require_dataset_models(config, "table3")
    for key in ("gradcam", "guided_backprop"):
        require(f"table3.{key}", config["table3"][key], config["heatmaps"])
    for occ in config["table3"]["occlusion"]:
        require("table3.occlusion", occ, config["heatmaps"])
        if config["heatmaps"][occ]["method"] != "occlusion" or "patch" not in config["heatmaps"][occ]["params"]:
            raise ConfigError(f"table3.occlusion: heatmaps.{occ} must have method occlusion and params.patch")
    t = config["table3"]
    for h in t["methods"]:
        require("table3.methods", h, config["heatmaps"])
        if h in RESERVED or h in (t["gradcam"], t["guided_backprop"]) or t["methods"].count(h) > 1:
            raise ConfigError(
                f"table3.methods: {h} (expected further sets, each once, none of {list(RESERVED)} nor "
                "table3.gradcam / table3.guided_backprop, which Table 3 reads already)"
            )
        n = config["heatmaps"][h].get("images")
        if n is not None and n < t["images"]:
            raise ConfigError(
                f"table3.methods: heatmaps.{h}.images is {n}, below table3.images {t['images']} "
                f"(expected the set to cover Table 3's images: images: {t['images']} or more)"
            )


CLAIMS = (
    Claim(
        "gradcam-occlusion-gbp",
        "Grad-CAM correlates with occlusion significantly better than Guided Backprop.",
        "Table 3 (the study's repository)",
        ("table3",),
        _table3_pair("gradcam", "guided_backprop", significance=True),
        on_study=_study_table3_pair("gradcam", "guided_backprop", significance=True),
    ),
    Claim(
        "guided-gradcam-occlusion",
        "Guided Grad-CAM correlates with occlusion better than Guided Backprop.",
        "Table 3",
        ("table3",),
        claim_guided_gradcam_beats_guided_backprop,
        on_study=_study_table3_pair("guided_gradcam", "guided_backprop"),
    ),
    Claim(
        "guided-gradcam-occlusion-gradcam",
        "Guided Grad-CAM correlates with occlusion better than Grad-CAM.",
        "Table 3",
        ("table3",),
        _table3_pair("guided_gradcam", "gradcam"),
        on_study=_study_table3_pair("guided_gradcam", "gradcam"),
    ),
)

EXPERIMENT = Experiment(
    name="occlusion",
    order=3,
    title="Table 3 / App. B — rank correlation with occlusion",
    section="table3",
    targets=lambda config: [*table_files("table3"), "results/figures/appendix_b.png"],
    heatmaps=lambda config: model_sets(config, "table3", [*config["table3"]["occlusion"], *map_sets(config).values()]),
    tables=("table3",),
    claims=CLAIMS,
    check=check,
)
