"""Table 6 (one-pixel attacks, :func:`table6`) and Table 6 on the study's own attacks (:func:`table6_study`),
with their titles and notes."""

from __future__ import annotations

import pandas as pd

from cameval.formatting import fmt, interval
from cameval.methods import labels
from cameval.metrics import mean_ci, wilcoxon_test
from cameval.tables import describe

TABLE6_METHODS = labels("gradcam", "ig")


def study_cell(study: dict, when: str) -> str:
    """The study's Table 6 values ``{when}_mean`` … ``{when}_max`` as ``mean ± std [min, max]`` (4 digits,
    as printed)."""
    if not study or study.get(f"{when}_mean") is None:
        return "–"
    std = study.get(f"{when}_std")  # printed "–" where the study gives none
    return interval(
        study.get(f"{when}_mean"),
        study.get(f"{when}_min"),
        study.get(f"{when}_max"),
        4,
        std=float("nan") if std is None else std,
    )


#: the study's printed Table 6 values each row carries as ``study_{key}`` (its own and the replay)
STUDY_KEYS = (
    "successful",
    "before_mean",
    "before_std",
    "before_min",
    "before_max",
    "after_mean",
    "after_std",
    "after_min",
    "after_max",
)


def table6(
    rows: dict[str, pd.DataFrame],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    extra: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6: one-pixel attacks and the map's value (0–1) at the attacked pixel.

    ``rows[model]`` are :func:`cameval.experiments.sensitivity.rows.sensitivity_rows`. Per model and method, over
    the successful attacks: mean, std, min, max before (class: the label) and after (class: the
    new prediction), as the study reports them; the same at a seeded random pixel (chance level),
    the attacked pixel's percentile rank, and a Wilcoxon signed-rank test of attacked vs random
    (before). ``reference[model]["study"]`` holds the study's Grad-CAM values (keys such as
    ``before_mean``, ``after_max``, ``successful``). ``extra`` maps further methods of the rows
    (``table6.methods``' heatmap sets) to their labels: rows of their own, after IG's.
    """
    reference = reference or {}
    full, display = [], []
    for model, df in rows.items():
        ok = df[df["success"].astype(bool)]
        for method, label in {**TABLE6_METHODS, **(extra or {})}.items():
            rec = {"model": model, "method": method, "attacks": len(df), "successful": len(ok)}
            shown = {"model": model, "method": label, "attacks": len(df), "successful": len(ok)}
            s = mean_ci(df["success"].astype(float).to_numpy(), n_boot=n_boot, seed=seed)
            rec.update(success_rate=s["mean"], success_rate_low=s["low"], success_rate_high=s["high"])
            for when, title in (("before", "before (label)"), ("after", "after (new class)")):
                d = describe(ok[f"{method}_{when}"])
                rec.update({f"{when}_{k}": v for k, v in d.items()})
                shown[title] = interval(d["mean"], d["min"], d["max"], 3, std=d["std"])
                r = describe(ok[f"{method}_random_{when}"])
                rec.update({f"random_{when}_{k}": v for k, v in r.items()})
                rec[f"pct_{when}_mean"] = describe(ok[f"{method}_pct_{when}"])["mean"]
            c = mean_ci(ok[f"{method}_before"].to_numpy(), n_boot=n_boot, seed=seed)
            rec["before_low"], rec["before_high"] = c["low"], c["high"]
            stat, p = wilcoxon_test(ok[f"{method}_before"], ok[f"{method}_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before)"] = f"{fmt(rec['random_before_mean'], 3)} ± {fmt(rec['random_before_std'], 3)}"
            shown["percentile rank (before)"] = fmt(rec["pct_before_mean"], 1)
            shown["Wilcoxon p (attacked vs random)"] = fmt(p, 3)
            study = reference.get(model, {}).get("study", {}) if method == "gradcam" else {}
            rec.update({f"study_{key}": study.get(key) for key in STUDY_KEYS})
            if reference:
                shown["study: successful"] = fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


STUDY_SUBSETS = {"listed": "every listed attack", "successful": "those that change the top-1 class here"}


def table6_study(rows: dict[str, pd.DataFrame], reference: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 6 on the study's own attacks: Grad-CAM (0–1) at the attacked pixel, per model.

    ``rows[model]`` are :func:`cameval.experiments.sensitivity.compute.study_attack_rows`. Per model, over every
    listed attack and over those that still change the top-1 class here: ``n``, mean, std
    (ddof = 1), min, max of ``before`` (class: the clean top-1 prediction, the study's), ``before_label``
    (class: the label, as cameval's Table 6) and ``after`` (class: the new top-1 prediction), the
    random pixel's means (chance level) and the Wilcoxon signed-rank p-value of attacked vs random
    (before). ``reference[model]["study"]`` (the study's printed Table 6, Table 6's reference)
    goes to the columns ``study_*``.
    """
    reference = reference or {}
    full, display = [], []
    for model, df in rows.items():
        study = (reference.get(model) or {}).get("study") or {}
        ok = df["success"].astype(bool)
        for subset, title in STUDY_SUBSETS.items():
            d = df if subset == "listed" else df[ok]
            rec = {"model": model, "subset": subset, "listed": len(df), "successful_here": int(ok.sum()), "n": len(d)}
            shown = {"model": model, "attacks": title, "n": f"{len(d)} of {len(df)}"}
            for when, label in (
                ("before", "before (clean prediction)"),
                ("before_label", "before (label)"),
                ("after", "after (new prediction)"),
            ):
                st = describe(d[f"gradcam_{when}"])
                rec.update({f"{when}_{k}": v for k, v in st.items()})
                rec[f"random_{when}_mean"] = describe(d[f"gradcam_random_{when}"])["mean"]
                shown[label] = interval(st["mean"], st["min"], st["max"], 4, std=st["std"])
            stat, p = wilcoxon_test(d["gradcam_before"], d["gradcam_random_before"])
            rec.update(wilcoxon_stat=stat, wilcoxon_p=p)
            shown["random pixel (before / after)"] = (
                f"{fmt(rec['random_before_mean'], 4)} / {fmt(rec['random_after_mean'], 4)}"
            )
            shown["Wilcoxon p (attacked vs random)"] = fmt(p, 3)
            rec.update({f"study_{key}": study.get(key) for key in STUDY_KEYS})
            if subset == "listed":
                shown["study: successful"] = fmt(study.get("successful"))
                shown["study: before"] = study_cell(study, "before")
                shown["study: after"] = study_cell(study, "after")
            else:
                shown["study: successful"] = shown["study: before"] = shown["study: after"] = ""
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


TITLE = (
    "Table 6 — one-pixel attacks: map value (0–1) at the attacked pixel, over the successful attacks "
    "(mean ± std [min, max])"
)


def notes(cfg: dict) -> list[str]:
    """What Table 6 computed (``cfg``: the config's ``table6``)."""
    out = [
        f"First {cfg['images']} images of the evaluation split of {cfg['dataset']}; differential evolution with "
        f"population {cfg['population']}, at most {cfg['generations']} generations, F = {cfg['f']}, no crossover, "
        "stopping when the best candidate is misclassified (the study: 400 × 100 on 250 ImageNet images). "
        "Successful: the prediction changed from the label on an image classified correctly before the attack "
        "(an image misclassified clean counts as attacked, not successful).",
        "Before: the map of the label on the clean image; after: the map of the new prediction on the attacked "
        "image. Grad-CAM upsampled bilinearly to the input and divided by its max; Integrated Gradients (zero "
        f"baseline, {cfg['ig_steps']} steps) as sum over channels of |IG| divided by its max — the reference row.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); percentile rank: share of the "
        "map's pixels <= the attacked pixel's value; Wilcoxon signed-rank test (two-sided) of attacked vs random, "
        "before the attack.",
    ]
    if cfg.get("methods"):
        out.append(
            f"Further CAM-type sets ({', '.join(cfg['methods'])}): their maps of the same classes on the cached clean "
            "and attacked images (no new attack), upsampled and divided by their max as Grad-CAM's (pytorch-grad-cam's "
            "sets: the library's per-layer CAM before its min-max scaling, at the layer's grid as Grad-CAM's)."
        )
    return out


STUDY_TITLE = "Table 6 on the study's own attacks — Grad-CAM (0–1) at the attacked pixel (mean ± std [min, max])"


def study_notes(cfg: dict) -> list[str]:
    """What Table 6 on the study's own attacks computed (``cfg``: the config's ``table6``)."""
    attacks = ", ".join(f"{m}: {p}" for m, p in cfg["study_attacks"].items())
    return [
        f"The study's successful one-pixel attacks ({attacks}), "
        f"pixel [x, y] read as {cfg['study_xy']} (the study's code indexes [row, col] = [x, y]), replayed on the first "
        f"{cfg['images']} images of the evaluation split of {cfg['dataset']} as this pipeline preprocesses them (the "
        "study resized to 224×224 without cropping): the pixel set to (r, g, b) / 255 in pixel space.",
        "Before: Grad-CAM of the clean image's top-1 class (what the study's code explained and attacked) and of the "
        "label; after: of the attacked image's top-1 class. Upsampled bilinearly to the input and divided by its max, "
        "as in Table 6. 'Successful here': the attack still changes the top-1 class.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); Wilcoxon signed-rank test "
        "(two-sided) of attacked vs random, before. The study's printed values (its Table 6) on the first row of "
        "each model.",
    ]
