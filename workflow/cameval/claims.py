"""The study's conclusions as checked statements (``results/claims.md``).

Each claim is a :class:`Claim`: the statement, where the study makes it, the tables it needs,
and one function that reads those tables (the CSVs of ``results/tables/``) and returns a
:class:`Verdict`: the numbers it used, the criterion, and one of

- ``holds``                        the tables support the statement under the criterion;
- ``does not hold``                they contradict it;
- ``undecided at this sample size`` the intervals overlap the boundary: more images (or raters)
  would be needed to tell;
- ``not evaluated (...)``           its table is not built in this configuration, or the inputs
  the criterion needs (reference values, answers) are absent.

Criteria on intervals: the tables carry 95 % bootstrap intervals ``[low, high]``. "A is larger than
B" holds when ``low_A > high_B``, does not hold when ``high_A < low_B``, and is undecided otherwise
(non-overlap of two 95 % intervals is a conservative test of a difference). A claim about several
models or rows holds when it holds on every one, does not hold when it fails on any, else undecided.

Models are referred to by role (VGG-16, GoogLeNet, the MNIST net, ...), i.e. by architecture
family (:data:`ROLE_ARCHS`), so the default config's small networks and the study's stand in the
same claims; within a table the role is the first of the table's models of that family
(:func:`role_model`).

One-pixel attacks (Table 6) are judged against the random-pixel chance level the table carries
and its Wilcoxon p-value (:func:`sensitivity_respected` gives the exact criterion).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided at this sample size"
NOT_BUILT = "not evaluated (table not built in this configuration)"

# architecture families -> the role a claim refers to ("VGG-16", "GoogLeNet", ...)
ROLE_ARCHS = {
    "vgg16": ("vgg16", "vgg16_bn", "small_vgg"),
    "alexnet": ("alexnet", "small_alexnet"),
    "googlenet": ("googlenet", "small_googlenet"),
    "densenet": ("densenet121", "small_densenet"),
    "mnist": ("mnist_net",),
}


@dataclass
class Verdict:
    verdict: str
    numbers: str
    criterion: str


@dataclass
class Context:
    """What the criteria need besides the tables."""

    roles: dict[str, str] = field(default_factory=dict)  # role (vgg16, googlenet, ...) -> model name
    archs: dict[str, str] = field(default_factory=dict)  # model name -> architecture (config's models.*.arch)
    alpha: float = 0.05
    tolerance: float = 5.0
    fgsm_min_rho: float = 0.5


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: str
    tables: tuple[str, ...]
    evaluate: Callable[[dict[str, pd.DataFrame], Context], Verdict]


def model_roles(models: dict) -> dict[str, str]:
    """Role -> the first configured model of that architecture family (``config['models']``)."""
    roles: dict[str, str] = {}
    for name, spec in models.items():
        for role, archs in ROLE_ARCHS.items():
            if spec.get("arch") in archs:
                roles.setdefault(role, name)
    return roles


def role_model(models, role: str, ctx: Context) -> str | None:
    """The model of a table (``models``: its model column, in order) that plays ``role``: the first
    whose architecture (``ctx.archs``) is of the role's family; where none is known that way, the
    config-wide ``ctx.roles[role]`` if the table holds it; else None. Table 7's GoogLeNet (CIFAR-10)
    is thus found even where Table 6's GoogLeNet (ImageNet) comes first in the config."""
    models = list(dict.fromkeys(models))
    for m in models:
        if ctx.archs.get(m) in ROLE_ARCHS[role]:
            return m
    fallback = ctx.roles.get(role)
    return fallback if fallback in models else None


def greater(a: tuple[float, float], b: tuple[float, float]) -> str:
    """Verdict of "A > B" from 95 % intervals ``(low, high)``: separated above, below, or overlapping."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (*a, *b)):
        return UNDECIDED
    if a[0] > b[1]:
        return HOLDS
    if a[1] < b[0]:
        return FAILS
    return UNDECIDED


def combine(verdicts: list[str]) -> str:
    """Holds when every part holds, does not hold when any part fails, else undecided."""
    if not verdicts:
        return UNDECIDED
    if FAILS in verdicts:
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else UNDECIDED


def _ci(row, col: str, digits: int = 2) -> str:
    return f"{row[col]:.{digits}f} [{row[col + '_low']:.{digits}f}, {row[col + '_high']:.{digits}f}]"


def _iv(row, col: str) -> tuple[float, float]:
    return float(row[col + "_low"]), float(row[col + "_high"])


# --- Table 1 -------------------------------------------------------------------------------------


def claim_localization_close_to_original(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table1"]
    t = t[t["method"] == "gradcam"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        for key in ("top1_loc", "top5_loc"):
            orig = r.get(f"original_{key}")
            if orig is None or pd.isna(orig):
                continue
            lo, hi = _iv(r, key)
            if lo >= orig - ctx.tolerance and hi <= orig + ctx.tolerance:
                parts.append(HOLDS)
            elif hi < orig - ctx.tolerance or lo > orig + ctx.tolerance:
                parts.append(FAILS)
            else:
                parts.append(UNDECIDED)
            numbers.append(f"{r['model']} {key}: {_ci(r, key)} vs original {orig:g}")
    criterion = (f"the 95 % interval of our Grad-CAM error lies within ±{ctx.tolerance:g} points of the original "
                 f"paper's (holds), entirely outside (does not hold), or straddles a bound (undecided)")
    if not parts:
        return Verdict("not evaluated (no original-paper values in table1.reference)",
                       "; ".join(f"{r['model']} top-1 loc. err. {_ci(r, 'top1_loc')}" for _, r in t.iterrows()),
                       criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_gradcampp_worse_on_imagenet(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table1"]
    parts, numbers = [], []
    for model, g in t.groupby("model", sort=False):
        by = g.set_index("method")
        if not {"gradcam", "gradcampp"} <= set(by.index):
            continue
        for key in ("top1_loc", "top5_loc"):
            pp, gc = by.loc["gradcampp"], by.loc["gradcam"]
            parts.append(greater(_iv(pp, key), _iv(gc, key)))
            numbers.append(f"{model} {key}: Grad-CAM++ {_ci(pp, key)} vs Grad-CAM {_ci(gc, key)}")
    criterion = "Grad-CAM++'s localization error (top-1 and top-5) above Grad-CAM's for every model: intervals separated"
    if not parts:
        return Verdict("not evaluated (table1.methods lacks gradcam or gradcampp)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


# --- Table 2 -------------------------------------------------------------------------------------


def claim_pointing_googlenet_vs_vgg(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table2"].set_index("model")
    vgg, goo = ctx.roles.get("vgg16"), ctx.roles.get("googlenet")
    criterion = ("GoogLeNet's pointing accuracy (largest configured tolerance) above VGG-16's, and VGG-16's recall "
                 "above GoogLeNet's: intervals separated")
    if vgg not in t.index or goo not in t.index:
        return Verdict("not evaluated (Table 2 lacks a VGG-16- or GoogLeNet-type model)", "", criterion)
    tol = max(int(c[len("accuracy_tol"):]) for c in t.columns
              if c.startswith("accuracy_tol") and c[len("accuracy_tol"):].isdigit())
    acc = f"accuracy_tol{tol}"
    parts = [greater(_iv(t.loc[goo], acc), _iv(t.loc[vgg], acc)), greater(_iv(t.loc[vgg], "recall"), _iv(t.loc[goo], "recall"))]
    numbers = (f"accuracy ({tol} px): {goo} {_ci(t.loc[goo], acc, 3)} vs {vgg} {_ci(t.loc[vgg], acc, 3)}; "
               f"recall: {vgg} {_ci(t.loc[vgg], 'recall', 3)} vs {goo} {_ci(t.loc[goo], 'recall', 3)}")
    return Verdict(combine(parts), numbers, criterion)


# --- Table 3 -------------------------------------------------------------------------------------


def claim_guided_gradcam_beats_guided_backprop(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table3"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        parts.append(greater(_iv(r, "guided_gradcam"), _iv(r, "guided_backprop")))
        numbers.append(f"{r['model']} {int(r['patch'])}×{int(r['patch'])}: Guided Grad-CAM {_ci(r, 'guided_gradcam', 3)} "
                       f"vs Guided Backprop {_ci(r, 'guided_backprop', 3)}")
    return Verdict(combine(parts), "; ".join(numbers),
                   "mean Spearman ρ with occlusion of Guided Grad-CAM above Guided Backprop's, for every model and "
                   "patch size: intervals separated")


# --- App. C (FGSM) -------------------------------------------------------------------------------


def claim_gradcam_robust_to_fgsm(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["fgsm"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        lo, hi = _iv(r, "rank_corr")
        parts.append(HOLDS if lo >= ctx.fgsm_min_rho else FAILS if hi < ctx.fgsm_min_rho else UNDECIDED)
        numbers.append(f"{r['model']} (ε = {r['eps']:.4g}): ρ(before, after) {_ci(r, 'rank_corr', 3)}, "
                       f"box IoU {_ci(r, 'box_iou', 3)}, accuracy {r['acc_clean']:.2f} → {r['acc_adv']:.2f}")
    return Verdict(combine(parts), "; ".join(numbers),
                   f"mean Spearman ρ between the true class's Grad-CAM before and after FGSM ≥ {ctx.fgsm_min_rho:g}: "
                   "interval above (holds), below (does not hold), straddling (undecided)")


# --- Table 4 (user study) ------------------------------------------------------------------------


def claim_user_study_not_significant(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (f"Wilcoxon signed-rank test between the methods on per-rater mean scores: p ≥ {ctx.alpha:g} "
                 "(no significant difference: holds), p < α (does not hold)")
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    p = float(t["p_value"].iloc[0])
    numbers = "; ".join(f"{r['method']}: mean {r['mean']:.2f} ± {r['std']:.2f} ({int(r['raters'])} raters)"
                        for _, r in t.iterrows()) + f"; p = {p:.3g}"
    if math.isnan(p):
        return Verdict(UNDECIDED, numbers, criterion)
    return Verdict(HOLDS if p >= ctx.alpha else FAILS, numbers, criterion)


# --- Table 5 (chest X-rays) ----------------------------------------------------------------------

# Table 5's ``method`` column holds display labels (the Snakefile's set metadata); raw names are
# accepted too
XRAY_METHOD_KEYS = {"Grad-CAM": "gradcam", "Grad-CAM++": "gradcampp", "gradcam": "gradcam", "gradcampp": "gradcampp"}


def _cell(r, value: str = "value", digits: int = 3) -> str:
    return f"{r[value]:.{digits}f} [{r['low']:.{digits}f}, {r['high']:.{digits}f}]"


def claim_gradcampp_better_on_xrays(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """Grad-CAM++ vs Grad-CAM on Table 5 (long form: ``model, finding, set, method, layer, measure,
    value, low, high``): over all findings (``finding == "all"``), the localization accuracy of the
    study's rule (``measure == "loc_study"``: IoU ≥ min(0.5, wh/((w+10)(h+10))), eq. 3), for every
    model and every layer at which both methods are computed: ``greater(Grad-CAM++, Grad-CAM)`` on
    the 95 % intervals, combined with :func:`combine`. The in-box share (``inbox``) is reported
    beside it, not decided on."""
    t = tables["table5"]
    t = t[t["finding"] == "all"].assign(key=lambda d: d["method"].map(XRAY_METHOD_KEYS))
    criterion = ("localization accuracy over all findings with the study's rule (box around the CAM's largest "
                 "component ≥ 50 % of max; IoU ≥ min(0.5, wh/((w+10)(h+10))), eq. 3) of Grad-CAM++ above "
                 "Grad-CAM's, for every model and every layer both are computed at: 95 % intervals separated "
                 "(the in-box share ≥ 85 % of max is shown, not decided on)")
    parts, numbers = [], []
    for (model, layer), g in t.groupby(["model", "layer"], sort=False):
        acc = g[g["measure"] == "loc_study"].drop_duplicates("key").set_index("key")
        if not {"gradcam", "gradcampp"} <= set(acc.index):
            continue
        pp, gc = acc.loc["gradcampp"], acc.loc["gradcam"]
        parts.append(greater((float(pp["low"]), float(pp["high"])), (float(gc["low"]), float(gc["high"]))))
        text = f"{model} ({layer}, n = {int(pp['n'])}): accuracy Grad-CAM++ {_cell(pp)} vs Grad-CAM {_cell(gc)}"
        inbox = g[g["measure"] == "inbox"].drop_duplicates("key").set_index("key")
        if {"gradcam", "gradcampp"} <= set(inbox.index):
            text += f"; in-box Grad-CAM++ {_cell(inbox.loc['gradcampp'])} vs Grad-CAM {_cell(inbox.loc['gradcam'])}"
        numbers.append(text)
    if not parts:
        return Verdict("not evaluated (Table 5 lacks Grad-CAM or Grad-CAM++ at a common layer)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


# --- Table 6 (one-pixel attacks) -----------------------------------------------------------------


def min_pairs(alpha: float) -> int:
    """The fewest pairs at which a two-sided exact Wilcoxon signed-rank test can reach ``p < alpha``:
    the smallest ``n`` with ``2 · 2^-n < alpha`` (α = 0.05 → 6)."""
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def sensitivity_respected(row, alpha: float = 0.05) -> str:
    """Does one model's map respect Sensitivity on its one-pixel attacks (one row of Table 6)?

    Sensitivity (Sundararajan et al. 2017; the study's §6): a feature whose change alone changes the
    prediction must get attribution. Read against the chance level — the same map at a seeded random
    pixel of the same image — over the successful attacks, with ``b, a`` the mean map value (0–1) at
    the attacked pixel before (class: the label) and after (class: the new prediction), ``r_b, r_a``
    the random pixel's, ``[b_low, b_high]`` the 95 % interval of ``b`` and ``p`` the table's Wilcoxon
    signed-rank p-value (attacked vs random, before):

    - ``holds`` (respects):           ``p < α`` and ``b > r_b`` (significantly above chance), and ``a > r_a``;
    - ``does not hold`` (violates):   (``b_high ≤ r_b`` or (``p < α`` and ``b < r_b``)) and ``a ≤ r_a``:
      the attacked pixel gets no more than a random one, before and after;
    - ``undecided`` otherwise, and when fewer than :func:`min_pairs` attacks succeeded.
    """
    vals = [row.get(k) for k in ("before_mean", "random_before_mean", "after_mean", "random_after_mean", "before_high")]
    if int(row.get("successful", 0)) < min_pairs(alpha) or any(v is None or pd.isna(v) for v in vals):
        return UNDECIDED
    b, rb, a, ra, b_high = (float(v) for v in vals)
    p = row.get("wilcoxon_p")
    significant = p is not None and not pd.isna(p) and float(p) < alpha
    if significant and b > rb and a > ra:
        return HOLDS
    if (b_high <= rb or (significant and b < rb)) and a <= ra:
        return FAILS
    return UNDECIDED


SENSITIVITY_WORDS = {HOLDS: "respects Sensitivity", FAILS: "does not respect Sensitivity", UNDECIDED: "undecided"}


def claim_one_pixel_sensitivity(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """GoogLeNet's Grad-CAM respects Sensitivity (:func:`sensitivity_respected` holds) and VGG-16's
    does not (it fails); the two parts are combined with :func:`combine`. With one of the two
    models absent from Table 6 the claim fails when the present part fails, else is not evaluated."""
    t = tables["table6"]
    t = t[t["method"] == "gradcam"]
    k = min_pairs(ctx.alpha)
    criterion = (f"per model, Grad-CAM (0–1, map / max) over the successful attacks: b, a = mean value at the attacked "
                 f"pixel before (label) and after (new class), r_b, r_a = the same at a seeded random pixel (chance "
                 f"level), p = Wilcoxon signed-rank p-value of attacked vs random (before). Respects Sensitivity: "
                 f"p < {ctx.alpha:g}, b > r_b and a > r_a; does not: (the 95 % interval of b at or below r_b, or "
                 f"p < {ctx.alpha:g} with b < r_b) and a ≤ r_a; otherwise, or with fewer than {k} successful attacks "
                 f"(the fewest at which the test can reach p < {ctx.alpha:g}), undecided. Holds when GoogLeNet respects "
                 f"it and VGG-16 does not")
    parts, numbers, missing = [], [], []
    for role, label, wanted in (("googlenet", "GoogLeNet", HOLDS), ("vgg16", "VGG-16", FAILS)):
        model = role_model(t["model"], role, ctx)
        if model is None:
            missing.append(label)
            continue
        r = t[t["model"] == model].iloc[0]
        v = sensitivity_respected(r, ctx.alpha)
        parts.append(UNDECIDED if v == UNDECIDED else HOLDS if v == wanted else FAILS)
        numbers.append(f"{model}: {int(r['successful'])} of {int(r['attacks'])} attacks successful; attacked pixel "
                       f"before {r['before_mean']:.3f} [{r['before_low']:.3f}, {r['before_high']:.3f}] vs random "
                       f"{r['random_before_mean']:.3f}, after {r['after_mean']:.3f} vs random "
                       f"{r['random_after_mean']:.3f}; Wilcoxon p = {r['wilcoxon_p']:.3g} → {SENSITIVITY_WORDS[v]}")
    if missing:
        if FAILS in parts:
            return Verdict(FAILS, "; ".join(numbers), criterion)
        return Verdict(f"not evaluated (Table 6 lacks a {' and a '.join(missing)}-type model)", "; ".join(numbers),
                       criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


# --- Table 7 (fidelity, contrastivity) -----------------------------------------------------------


METHOD_LABELS = {"gradcam": "Grad-CAM", "shap": "SHAP", "integrated_gradients": "Integrated Gradients"}


def _gradcam_extreme(t: pd.DataFrame, model: str, key: str, highest: bool) -> tuple[list[str], list[str]]:
    """Per percentile: Grad-CAM's ``key`` interval above (``highest``) or below every other method's."""
    parts, numbers = [], []
    for p, g in t[t["model"] == model].groupby("percentile", sort=False):
        by = g.drop_duplicates("method").set_index("method")
        if "gradcam" not in by.index or len(by) < 2:
            continue
        gc = by.loc["gradcam"]
        others = [(m, r) for m, r in by.iterrows() if m != "gradcam"]
        for m, r in others:
            parts.append(greater(_iv(gc, key), _iv(r, key)) if highest else greater(_iv(r, key), _iv(gc, key)))
        numbers.append(f"{model} at the {p:g} % percentile (n = {int(gc['n'])}): Grad-CAM {_ci(gc, key, 3)} vs "
                       + ", ".join(f"{METHOD_LABELS.get(m, m)} {_ci(r, key, 3)}" for m, r in others))
    return parts, numbers


def claim_contrastivity_deeper_net(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = ("on the GoogLeNet-type model of Table 7, Grad-CAM's mean contrastivity (Hamming distance between the "
                 "binarized maps of the true and another class / size of their union) above every other method's, "
                 "at every percentile: 95 % intervals separated")
    model = role_model(t["model"], "googlenet", ctx)
    if model is None:
        return Verdict("not evaluated (Table 7 lacks a GoogLeNet-type model)", "", criterion)
    parts, numbers = _gradcam_extreme(t, model, "contrastivity", highest=True)
    if not parts:
        return Verdict("not evaluated (Table 7 lacks Grad-CAM or another method on that model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_fidelity_mnist(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table7"]
    criterion = ("on the MNIST-type model of Table 7, Grad-CAM's mean fidelity (drop of the label's probability when "
                 "its binarized map's pixels are set to the dataset's mean) below every other method's, at every percentile: 95 % "
                 "intervals separated")
    model = role_model(t["model"], "mnist", ctx)
    if model is None:
        return Verdict("not evaluated (Table 7 lacks an MNIST-type model)", "", criterion)
    parts, numbers = _gradcam_extreme(t, model, "fidelity", highest=False)
    if not parts:
        return Verdict("not evaluated (Table 7 lacks Grad-CAM or another method on that model)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)

CLAIMS: list[Claim] = [
    Claim("loc-close-to-original", "Grad-CAM's weakly supervised localization error is close to the original "
          "paper's (Selvaraju et al., Table 1).", "Table 1", ("table1",), claim_localization_close_to_original),
    Claim("gradcampp-worse-imagenet", "Grad-CAM++ localizes worse than Grad-CAM on ImageNet (higher error).",
          "Table 1", ("table1",), claim_gradcampp_worse_on_imagenet),
    Claim("pointing-googlenet-vgg", "In the pointing game GoogLeNet's Grad-CAM is more accurate than VGG-16's, "
          "VGG-16's has the higher recall (study: 0.904 vs 0.864; 0.767 vs 0.826).", "Table 2", ("table2",),
          claim_pointing_googlenet_vs_vgg),
    Claim("guided-gradcam-occlusion", "Guided Grad-CAM correlates with occlusion better than Guided Backprop.",
          "Table 3", ("table3",), claim_guided_gradcam_beats_guided_backprop),
    Claim("gradcam-fgsm-robust", "Grad-CAM maps are robust to FGSM attacks.", "App. C", ("fgsm",),
          claim_gradcam_robust_to_fgsm),
    Claim("user-study-not-significant", "In the user study the difference between Guided Backprop and Guided "
          "Grad-CAM is not significant.", "Table 4, App. D", ("table4",), claim_user_study_not_significant),
    Claim("gradcampp-better-xrays", "Grad-CAM++ localizes better than Grad-CAM on chest X-rays.", "Table 5",
          ("table5",), claim_gradcampp_better_on_xrays),
    Claim("one-pixel-sensitivity", "On one-pixel attacks GoogLeNet's Grad-CAM respects Sensitivity and VGG-16's "
          "does not.", "Table 6", ("table6",), claim_one_pixel_sensitivity),
    Claim("contrastivity-deeper-net", "Grad-CAM has the highest contrastivity on the deeper network (GoogLeNet, "
          "CIFAR-10).", "Table 7", ("table7",), claim_contrastivity_deeper_net),
    Claim("fidelity-mnist", "Grad-CAM has the lowest fidelity on the MNIST network.", "Table 7", ("table7",),
          claim_fidelity_mnist),
]

CLAIM_COLUMNS = ["id", "statement", "source", "tables", "verdict", "numbers", "criterion"]


def evaluate_claims(tables: dict[str, pd.DataFrame | None], ctx: Context | None = None,
                    claims: list[Claim] | None = None) -> pd.DataFrame:
    """One row per claim; a claim whose table is absent (None or missing) is ``not evaluated``."""
    ctx = ctx or Context()
    rows = []
    for c in claims if claims is not None else CLAIMS:
        if any(tables.get(t) is None for t in c.tables):
            v = Verdict(NOT_BUILT, "", "")
        else:
            v = c.evaluate(tables, ctx)
        rows.append({"id": c.id, "statement": c.statement, "source": c.source, "tables": ", ".join(c.tables),
                     "verdict": v.verdict, "numbers": v.numbers, "criterion": v.criterion})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def claims_markdown(df: pd.DataFrame, title: str = "The study's claims, checked on this run's tables",
                    setup: list[str] | None = None) -> str:
    """``results/claims.md``: a summary table, then per claim its numbers and criterion.

    ``setup``: lines saying on which data and models each table was computed in this run (the
    statements name the study's data; the verdicts are about this run's).
    """
    lines = [f"# {title}", "",
             "Verdicts are computed from the tables in `results/tables/` (see `results/claims.csv`). "
             "The statements are the study's; the numbers come from this run's data and models:", "",
             *[f"- {s}" for s in setup or []], "",
             "| claim | study | verdict |", "|---|---|---|"]
    lines += [f"| {r['statement']} | {r['source']} | **{r['verdict']}** |" for _, r in df.iterrows()]
    lines.append("")
    for _, r in df.iterrows():
        lines += [f"## {r['statement']}", "", f"- verdict: **{r['verdict']}**", f"- tables: {r['tables']}"]
        if r["numbers"]:
            lines.append(f"- numbers: {r['numbers']}")
        if r["criterion"]:
            lines.append(f"- criterion: {r['criterion']}")
        lines.append("")
    return "\n".join(lines)
