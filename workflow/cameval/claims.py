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

Two kinds of evidence, one verdict each:

- *on this run*: from this run's tables (``results/tables/``), on this configuration's data and models;
- *on the study's own results*: from the study's published per-image, per-box and per-rater results
  (``results/tables/study/``, :mod:`cameval.study`), for the claims those data decide; the others
  say why they cannot be decided that way.

Criteria. Where two methods or models are measured on the same images (boxes, raters), "A is
larger than B" is a paired comparison (:func:`paired_verdict`): it holds when the two-sided
Wilcoxon signed-rank test of the differences ``A − B`` has ``p < α`` and the 95 % paired-bootstrap
interval of the mean difference lies above 0, does not hold when ``p < α`` and the interval lies
below 0, and is undecided otherwise. Where the measurements are not paired, it compares 95 %
bootstrap intervals ``[low, high]`` (:func:`greater`): holds when ``low_A > high_B``, does not hold
when ``high_A < low_B``, undecided otherwise. A claim about several models or rows holds when it
holds on every one, does not hold when it fails on any, else undecided.

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

from cameval.methods import labels

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
    #: the verdict on the study's own results (its tables ``results/tables/study/*``), or None
    on_study: Callable[[dict[str, pd.DataFrame], Context], Verdict] | None = None
    #: why the study's published results cannot decide the claim, where ``on_study`` is None
    study_gap: str = ""


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


def paired_verdict(mean: float, low: float, high: float, p: float, alpha: float) -> str:
    """Verdict of "A > B" from the paired differences ``A − B`` on the same units: ``p`` (two-sided
    Wilcoxon signed-rank) below ``alpha`` and the 95 % interval of the mean difference above 0
    (holds) or below 0 (does not hold); anything else is undecided (no significant difference)."""
    if any(v is None or pd.isna(v) for v in (mean, low, high, p)):
        return UNDECIDED
    if float(p) < alpha and float(low) > 0:
        return HOLDS
    if float(p) < alpha and float(high) < 0:
        return FAILS
    return UNDECIDED


def _reverse(verdict: str) -> str:
    """The verdict of "B > A" from that of "A > B" on the same differences."""
    return {HOLDS: FAILS, FAILS: HOLDS}.get(verdict, verdict)


def _has_pair(t: pd.DataFrame, key: str) -> bool:
    return all(c in t for c in (key, f"{key}_low", f"{key}_high", f"{key}_p"))


def _pair(row, key: str, alpha: float) -> tuple[str, str]:
    """Verdict and text of the paired columns ``{key}``, ``_low``, ``_high``, ``_p`` of a table row."""
    v = paired_verdict(row[key], row[f"{key}_low"], row[f"{key}_high"], row[f"{key}_p"], alpha)
    return v, f"Δ {row[key]:.3f} [{row[key + '_low']:.3f}, {row[key + '_high']:.3f}], p = {row[key + '_p']:.3g}"


def study_pair(df: pd.DataFrame, a: str, b: str | None, alpha: float, model: str | None = None) -> tuple[str, str]:
    """Verdict and text of the study table's ``paired`` row ``a − b`` (``b=None``: the ``against 0``
    row of ``a``), of ``model`` where given."""
    kind = "against 0" if b is None else "paired"
    rows = df[(df["kind"] == kind) & (df["a"] == a) & (df["b"].fillna("") == (b or ""))]
    if model is not None:
        rows = rows[rows["model"].astype(str) == model]
    if rows.empty:
        return UNDECIDED, f"{a} − {b}: not in the table"
    r = rows.iloc[0]
    v = paired_verdict(r["mean"], r["ci_low"], r["ci_high"], r["p_value"], alpha)
    name = f"{a} − {b}" if b else f"{a} vs 0"
    return v, (
        f"{name}: Δ {r['mean']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}], p = {r['p_value']:.3g} "
        f"({int(r['n'])} {r['unit']})"
    )


PAIRED_CRITERION = (
    "paired over the same {unit}: Wilcoxon signed-rank p < {alpha:g} with the 95 % paired-bootstrap "
    "interval of the mean difference above 0 (holds) or below 0 (does not hold); otherwise undecided"
)


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
    criterion = (
        f"the 95 % interval of our Grad-CAM error lies within ±{ctx.tolerance:g} points of the original "
        f"paper's (holds), entirely outside (does not hold), or straddles a bound (undecided)"
    )
    if not parts:
        return Verdict(
            "not evaluated (no original-paper values in table1.reference)",
            "; ".join(f"{r['model']} top-1 loc. err. {_ci(r, 'top1_loc')}" for _, r in t.iterrows()),
            criterion,
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def claim_gradcampp_worse_on_imagenet(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table1"]
    parts, numbers = [], []
    paired = all(_has_pair(t, f"{k}_loc_minus_gradcam") for k in ("top1", "top5"))
    for model, g in t.groupby("model", sort=False):
        by = g.set_index("method")
        if not {"gradcam", "gradcampp"} <= set(by.index):
            continue
        for key in ("top1_loc", "top5_loc"):
            pp, gc = by.loc["gradcampp"], by.loc["gradcam"]
            text = f"{model} {key}: Grad-CAM++ {_ci(pp, key)} vs Grad-CAM {_ci(gc, key)}"
            if paired:
                v, diff = _pair(pp, f"{key}_minus_gradcam", ctx.alpha)
                parts.append(v)
                text += f" (paired, points: {diff})"
            else:
                parts.append(greater(_iv(pp, key), _iv(gc, key)))
            numbers.append(text)
    criterion = "Grad-CAM++'s localization error (top-1 and top-5) above Grad-CAM's for every model, " + (
        PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha) if paired else "intervals separated"
    )
    if not parts:
        return Verdict("not evaluated (table1.methods lacks gradcam or gradcampp)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


# --- Table 2 -------------------------------------------------------------------------------------


def claim_pointing_googlenet_vs_vgg(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table2"].set_index("model")
    vgg, goo = ctx.roles.get("vgg16"), ctx.roles.get("googlenet")
    criterion = (
        "GoogLeNet's pointing accuracy (largest configured tolerance) above VGG-16's, and VGG-16's recall "
        "above GoogLeNet's: intervals separated"
    )
    if vgg not in t.index or goo not in t.index:
        return Verdict("not evaluated (Table 2 lacks a VGG-16- or GoogLeNet-type model)", "", criterion)
    tol = max(
        int(c[len("accuracy_tol") :])
        for c in t.columns
        if c.startswith("accuracy_tol") and c[len("accuracy_tol") :].isdigit()
    )
    acc = f"accuracy_tol{tol}"
    numbers = (
        f"accuracy ({tol} px): {goo} {_ci(t.loc[goo], acc, 3)} vs {vgg} {_ci(t.loc[vgg], acc, 3)}; "
        f"recall: {vgg} {_ci(t.loc[vgg], 'recall', 3)} vs {goo} {_ci(t.loc[goo], 'recall', 3)}"
    )
    # paired on the same images where the table has the difference of one model from the other
    pairs = [(m, o, f"{col}_minus_{o}") for col in (acc, "recall") for m, o in ((goo, vgg), (vgg, goo))]
    found = {
        col: (m, o, key)
        for col in (acc, "recall")
        for m, o, key in pairs
        if key.startswith(col) and key in t.columns and not pd.isna(t.loc[m].get(key))
    }
    if set(found) == {acc, "recall"}:
        parts = []
        for col, want in ((acc, goo), ("recall", vgg)):  # GoogLeNet's accuracy higher, VGG-16's recall higher
            m, o, key = found[col]
            v, diff = _pair(t.loc[m], key, ctx.alpha)
            parts.append(v if m == want else _reverse(v))
            numbers += f"; {col} {m} − {o} (paired): {diff}"
        criterion = criterion.replace("intervals separated", PAIRED_CRITERION.format(unit="images", alpha=ctx.alpha))
    else:
        parts = [
            greater(_iv(t.loc[goo], acc), _iv(t.loc[vgg], acc)),
            greater(_iv(t.loc[vgg], "recall"), _iv(t.loc[goo], "recall")),
        ]
    return Verdict(combine(parts), numbers, criterion)


# --- Table 3 -------------------------------------------------------------------------------------


def _table3_pair(a: str, b: str, significance: bool = False):
    """This run's verdict of "``a`` correlates with occlusion better than ``b``" on Table 3's paired
    columns, for every model and patch size. With ``significance`` (the study says
    "significantly") no significant difference counts against the claim."""

    def evaluate(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        from cameval.tables import TABLE3_METHODS, paired_key

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
            v, text = _pair(r, key, ctx.alpha)
            parts.append(FAILS if significance and v == UNDECIDED else v)
            numbers.append(
                f"{r['model']} {int(r['patch'])}×{int(r['patch'])} (n = {int(r['n'])}): "
                f"{TABLE3_METHODS[a]} {_ci(r, a, 3)} vs {TABLE3_METHODS[b]} {_ci(r, b, 3)}; {text}"
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


# --- App. C (FGSM) -------------------------------------------------------------------------------


def claim_gradcam_robust_to_fgsm(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["fgsm"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        lo, hi = _iv(r, "rank_corr")
        parts.append(HOLDS if lo >= ctx.fgsm_min_rho else FAILS if hi < ctx.fgsm_min_rho else UNDECIDED)
        numbers.append(
            f"{r['model']} (ε = {r['eps']:.4g}): ρ(before, after) {_ci(r, 'rank_corr', 3)}, "
            f"box IoU {_ci(r, 'box_iou', 3)}, accuracy {r['acc_clean']:.2f} → {r['acc_adv']:.2f}"
        )
    return Verdict(
        combine(parts),
        "; ".join(numbers),
        f"mean Spearman ρ between the true class's Grad-CAM before and after FGSM ≥ {ctx.fgsm_min_rho:g}: "
        "interval above (holds), below (does not hold), straddling (undecided)",
    )


# --- Table 4 (user study) ------------------------------------------------------------------------


def claim_user_study_not_significant(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        f"Wilcoxon signed-rank test between the methods on per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(no significant difference: holds), p < α (does not hold)"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    p = float(t["p_value"].iloc[0])
    numbers = (
        "; ".join(
            f"{r['method']}: mean {r['mean']:.2f} ± {r['std']:.2f} ({int(r['raters'])} raters)" for _, r in t.iterrows()
        )
        + f"; p = {p:.3g}"
    )
    if math.isnan(p):
        return Verdict(UNDECIDED, numbers, criterion)
    return Verdict(HOLDS if p >= ctx.alpha else FAILS, numbers, criterion)


def study_user_study_not_significant(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = study["table4"]
    r = t[(t["kind"] == "paired")].iloc[0]
    p = float(r["p_value"])
    return Verdict(
        HOLDS if p >= ctx.alpha else FAILS,
        f"Guided Grad-CAM − Guided Backprop on per-rater mean scores: Δ {r['mean']:.4f} "
        f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}], p = {p:.3g} ({int(r['n'])} raters)",
        f"Wilcoxon signed-rank test on the study's 36 raters' per-rater mean scores: p ≥ {ctx.alpha:g} "
        "(holds), p < α (does not hold)",
    )


def claim_user_study_favours_better(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["table4"]
    criterion = (
        "with each method, raters' per-rater mean scores (positive: the more accurate model judged more "
        f"reasonable) tested against 0: Wilcoxon signed-rank p < {ctx.alpha:g} with the 95 % interval over "
        "raters above 0 (holds) or below 0 (does not hold), else undecided; every method"
    )
    if (t["status"] == "awaiting answers").all():
        return Verdict("not evaluated (awaiting answers: table4.answers is empty)", "", criterion)
    if "p_vs_zero" not in t:
        return Verdict("not evaluated (Table 4 lacks the test against 0)", "", criterion)
    parts, numbers = [], []
    for _, r in t.iterrows():
        parts.append(paired_verdict(r["rater_mean"], r["rater_ci_low"], r["rater_ci_high"], r["p_vs_zero"], ctx.alpha))
        numbers.append(
            f"{r['method']}: per-rater mean {r['rater_mean']:.2f} [{r['rater_ci_low']:.2f}, "
            f"{r['rater_ci_high']:.2f}], p = {r['p_vs_zero']:.3g} ({int(r['raters'])} raters)"
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def study_user_study_favours_better(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    parts, numbers = [], []
    for m in ("guided_gradcam", "guided_backprop"):
        v, text = study_pair(study["table4"], m, None, ctx.alpha)
        parts.append(v)
        numbers.append(text)
    return Verdict(
        combine(parts),
        "; ".join(numbers),
        "with each method, the study's raters' per-rater mean scores (positive: VGG-16 judged more "
        "reasonable) against 0, " + PAIRED_CRITERION.format(unit="raters", alpha=ctx.alpha),
    )


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
    criterion = (
        "localization accuracy over all findings with the study's rule (box around the CAM's largest "
        "component ≥ 50 % of max; IoU ≥ min(0.5, wh/((w+10)(h+10))), eq. 3) of Grad-CAM++ above "
        "Grad-CAM's, for every model and every layer both are computed at, paired on the same rows "
        f"(Wilcoxon p < {ctx.alpha:g} with the interval of the difference above 0; where the table has "
        "no paired columns, 95 % intervals separated); the in-box share ≥ 85 % of max is shown, not decided on"
    )
    parts, numbers = [], []
    for (model, layer), g in t.groupby(["model", "layer"], sort=False):
        acc = g[g["measure"] == "loc_study"].drop_duplicates("key").set_index("key")
        if not {"gradcam", "gradcampp"} <= set(acc.index):
            continue
        pp, gc = acc.loc["gradcampp"], acc.loc["gradcam"]
        key = f"minus__{gc['set']}"
        text = f"{model} ({layer}, n = {int(pp['n'])}): accuracy Grad-CAM++ {_cell(pp)} vs Grad-CAM {_cell(gc)}"
        if _has_pair(acc, key):  # the same rows: paired
            v, diff = _pair(pp, key, ctx.alpha)
            parts.append(v)
            text += f" (paired: {diff})"
        else:
            parts.append(greater((float(pp["low"]), float(pp["high"])), (float(gc["low"]), float(gc["high"]))))
        inbox = g[g["measure"] == "inbox"].drop_duplicates("key").set_index("key")
        if {"gradcam", "gradcampp"} <= set(inbox.index):
            text += f"; in-box Grad-CAM++ {_cell(inbox.loc['gradcampp'])} vs Grad-CAM {_cell(inbox.loc['gradcam'])}"
        numbers.append(text)
    if not parts:
        return Verdict("not evaluated (Table 5 lacks Grad-CAM or Grad-CAM++ at a common layer)", "", criterion)
    return Verdict(combine(parts), "; ".join(numbers), criterion)


def _study_table5(pairs: tuple[tuple[str, str], ...], what: str):
    """On the study's per-box in-box shares (984 boxes), for each model A and B: every pair holds."""

    def evaluate(study: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
        parts, numbers = [], []
        for model in ("A", "B"):
            for a, b in pairs:
                v, text = study_pair(study["table5"], a, b, ctx.alpha, model=model)
                parts.append(v)
                numbers.append(f"model {model}: {text}")
        return Verdict(
            combine(parts),
            "; ".join(numbers),
            f"{what}, on the study's in-box share of the pixels > 0.85 of max (the only per-box result "
            "it published), for models A and B: " + PAIRED_CRITERION.format(unit="boxes", alpha=ctx.alpha),
        )

    return evaluate


def claim_attributions_beat_cams_on_xrays(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    """IG and Gradient SHAP ahead of both CAMs on Table 5's in-box share (over all findings, CAMs at
    every layer they are computed at): paired on the same rows (``minus__{set}`` columns), else
    95 % intervals separated."""
    t = tables["table5"]
    t = t[(t["finding"] == "all") & (t["measure"] == "inbox")]
    criterion = (
        "in-box share of the pixels ≥ 85 % of max over all findings: Integrated Gradients' and Gradient "
        "SHAP's above Grad-CAM's and Grad-CAM++'s (every layer), per model, paired on the same rows "
        f"(Wilcoxon p < {ctx.alpha:g} with the interval of the difference above 0; without paired columns "
        "95 % intervals separated)"
    )
    pixel = {"Integrated Gradients", "Gradient SHAP", "integrated_gradients", "gradient_shap"}
    parts, numbers = [], []
    for model, g in t.groupby("model", sort=False):
        px = g[g["method"].isin(pixel)]
        cams = g[g["method"].map(XRAY_METHOD_KEYS).notna()]
        for _, p in px.iterrows():
            for _, c in cams.iterrows():
                key = f"minus__{c['set']}"
                if _has_pair(g, key) and not pd.isna(p[key]):  # the same rows: paired
                    parts.append(_pair(p, key, ctx.alpha)[0])
                else:
                    parts.append(greater((float(p["low"]), float(p["high"])), (float(c["low"]), float(c["high"]))))
        numbers.append(
            f"{model}: "
            + ", ".join(
                f"{r['method']}{'' if r['layer'] in ('', None) or pd.isna(r['layer']) else ' (' + str(r['layer']) + ')'} "
                f"{_cell(r)}"
                for _, r in pd.concat([px, cams]).iterrows()
            )
        )
    if not parts:
        return Verdict("not evaluated (Table 5 lacks the in-box share of a pixel method or a CAM)", "", criterion)
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
    criterion = (
        f"per model, Grad-CAM (0–1, map / max) over the successful attacks: b, a = mean value at the attacked "
        f"pixel before (label) and after (new class), r_b, r_a = the same at a seeded random pixel (chance "
        f"level), p = Wilcoxon signed-rank p-value of attacked vs random (before). Respects Sensitivity: "
        f"p < {ctx.alpha:g}, b > r_b and a > r_a; does not: (the 95 % interval of b at or below r_b, or "
        f"p < {ctx.alpha:g} with b < r_b) and a ≤ r_a; otherwise, or with fewer than {k} successful attacks "
        f"(the fewest at which the test can reach p < {ctx.alpha:g}), undecided. Holds when GoogLeNet respects "
        f"it and VGG-16 does not"
    )
    parts, numbers, missing = [], [], []
    for role, label, wanted in (("googlenet", "GoogLeNet", HOLDS), ("vgg16", "VGG-16", FAILS)):
        model = role_model(t["model"], role, ctx)
        if model is None:
            missing.append(label)
            continue
        r = t[t["model"] == model].iloc[0]
        v = sensitivity_respected(r, ctx.alpha)
        parts.append(UNDECIDED if v == UNDECIDED else HOLDS if v == wanted else FAILS)
        numbers.append(
            f"{model}: {int(r['successful'])} of {int(r['attacks'])} attacks successful; attacked pixel "
            f"before {r['before_mean']:.3f} [{r['before_low']:.3f}, {r['before_high']:.3f}] vs random "
            f"{r['random_before_mean']:.3f}, after {r['after_mean']:.3f} vs random "
            f"{r['random_after_mean']:.3f}; Wilcoxon p = {r['wilcoxon_p']:.3g} → {SENSITIVITY_WORDS[v]}"
        )
    if missing:
        if FAILS in parts:
            return Verdict(FAILS, "; ".join(numbers), criterion)
        return Verdict(
            f"not evaluated (Table 6 lacks a {' and a '.join(missing)}-type model)", "; ".join(numbers), criterion
        )
    return Verdict(combine(parts), "; ".join(numbers), criterion)


# --- Table 7 (fidelity, contrastivity) -----------------------------------------------------------


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
        others = [(m, r) for m, r in by.iterrows() if m != "gradcam"]
        paired = _has_pair(by, f"gradcam_minus_{key}")
        diffs = []
        for m, r in others:
            if paired:  # Grad-CAM − this method on the same images
                v, diff = _pair(r, f"gradcam_minus_{key}", alpha)
                parts.append(v if highest else _reverse(v))
                diffs.append(f"Grad-CAM − {METHOD_LABELS.get(m, m)}: {diff}")
            else:
                parts.append(greater(_iv(gc, key), _iv(r, key)) if highest else greater(_iv(r, key), _iv(gc, key)))
        numbers.append(
            f"{model} at the {p:g} % percentile (n = {int(gc['n'])}): Grad-CAM {_ci(gc, key, 3)} vs "
            + ", ".join(f"{METHOD_LABELS.get(m, m)} {_ci(r, key, 3)}" for m, r in others)
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


NO_RAW = "the study published no per-image results for {}"

CLAIMS: list[Claim] = [
    Claim(
        "loc-close-to-original",
        "Grad-CAM's weakly supervised localization error is close to the original paper's (Selvaraju et al., Table 1).",
        "Table 1",
        ("table1",),
        claim_localization_close_to_original,
        study_gap=NO_RAW.format("Table 1"),
    ),
    Claim(
        "gradcampp-worse-imagenet",
        "Grad-CAM++ localizes worse than Grad-CAM on ImageNet (higher error).",
        "Table 1",
        ("table1",),
        claim_gradcampp_worse_on_imagenet,
        study_gap=NO_RAW.format("Table 1"),
    ),
    Claim(
        "pointing-googlenet-vgg",
        "In the pointing game GoogLeNet's Grad-CAM is more accurate than VGG-16's, "
        "VGG-16's has the higher recall (study: 0.904 vs 0.864; 0.767 vs 0.826).",
        "Table 2",
        ("table2",),
        claim_pointing_googlenet_vs_vgg,
        study_gap=NO_RAW.format("Table 2"),
    ),
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
    Claim(
        "gradcam-fgsm-robust",
        "Grad-CAM maps are robust to FGSM attacks.",
        "App. C",
        ("fgsm",),
        claim_gradcam_robust_to_fgsm,
        study_gap="the study published no per-image FGSM results",
    ),
    Claim(
        "user-study-not-significant",
        "In the user study the difference between Guided Backprop and Guided Grad-CAM is not significant.",
        "Table 4, App. D",
        ("table4",),
        claim_user_study_not_significant,
        on_study=study_user_study_not_significant,
    ),
    Claim(
        "user-study-favours-better",
        "With either method, raters judge the more accurate model (VGG-16) more reasonable.",
        "Table 4",
        ("table4",),
        claim_user_study_favours_better,
        on_study=study_user_study_favours_better,
    ),
    Claim(
        "gradcampp-better-xrays",
        "Grad-CAM++ localizes better than Grad-CAM on chest X-rays.",
        "Table 5",
        ("table5",),
        claim_gradcampp_better_on_xrays,
        on_study=_study_table5((("gradcampp", "gradcam"),), "Grad-CAM++ minus Grad-CAM"),
    ),
    Claim(
        "attributions-beat-cams-xrays",
        "Integrated Gradients and Gradient SHAP localize findings better than both CAM variants, on either model.",
        "Table 5",
        ("table5",),
        claim_attributions_beat_cams_on_xrays,
        on_study=_study_table5(
            (
                ("integrated_gradients", "gradcampp"),
                ("gradient_shap", "gradcampp"),
                ("integrated_gradients", "gradcam"),
                ("gradient_shap", "gradcam"),
            ),
            "Integrated Gradients and Gradient SHAP minus Grad-CAM++ and minus Grad-CAM",
        ),
    ),
    Claim(
        "one-pixel-sensitivity",
        "On one-pixel attacks GoogLeNet's Grad-CAM respects Sensitivity and VGG-16's does not.",
        "Table 6",
        ("table6",),
        claim_one_pixel_sensitivity,
        study_gap="the study published its attacked pixels but not the Grad-CAM values at them",
    ),
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
]

CLAIM_COLUMNS = [
    "id",
    "statement",
    "source",
    "tables",
    "verdict",
    "numbers",
    "criterion",
    "study_verdict",
    "study_numbers",
    "study_criterion",
]
STUDY_NOT_BUILT = "not evaluated (the study stage is not in this configuration)"


def evaluate_claims(
    tables: dict[str, pd.DataFrame | None],
    ctx: Context | None = None,
    claims: list[Claim] | None = None,
    study: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per claim, with both verdicts: ``verdict`` on this run's ``tables`` (a claim whose
    table is absent, None or missing, is ``not evaluated``) and ``study_verdict`` on the study's
    own results ``study`` (``results/tables/study/{table3,4,5}``; None: the stage is not built)."""
    ctx = ctx or Context()
    rows = []
    for c in claims if claims is not None else CLAIMS:
        if any(tables.get(t) is None for t in c.tables):
            v = Verdict(NOT_BUILT, "", "")
        else:
            v = c.evaluate(tables, ctx)
        if c.on_study is None:
            s = Verdict(f"not decided by the study's published results ({c.study_gap})", "", "")
        elif study is None:
            s = Verdict(STUDY_NOT_BUILT, "", "")
        else:
            s = c.on_study(study, ctx)
        rows.append(
            {
                "id": c.id,
                "statement": c.statement,
                "source": c.source,
                "tables": ", ".join(c.tables),
                "verdict": v.verdict,
                "numbers": v.numbers,
                "criterion": v.criterion,
                "study_verdict": s.verdict,
                "study_numbers": s.numbers,
                "study_criterion": s.criterion,
            }
        )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def claims_markdown(
    df: pd.DataFrame,
    title: str = "The study's claims, checked on two kinds of evidence",
    setup: list[str] | None = None,
) -> str:
    """``results/claims.md``: a summary table with both verdicts, then per claim its numbers and criteria.

    ``setup``: lines saying on which data and models each table was computed in this run (the
    statements name the study's data; the verdicts *on this run* are about this run's).
    """
    lines = [
        f"# {title}",
        "",
        "Each claim gets two verdicts (numbers in `results/claims.csv`):",
        "",
        "- **on this run**: from the tables in `results/tables/`, computed on this run's data and models:",
        *[f"  - {s}" for s in setup or []],
        "- **on the study's own results**: from the per-image, per-box and per-rater results the study "
        "published (`resources/study/`), reanalysed in `results/tables/study/`; a claim those data cannot "
        "decide says why.",
        "",
        "| claim | study | on this run | on the study's own results |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['statement']} | {r['source']} | **{r['verdict']}** | **{r['study_verdict']}** |"
        for _, r in df.iterrows()
    ]
    lines.append("")
    for _, r in df.iterrows():
        lines += [f"## {r['statement']}", "", f"- on this run: **{r['verdict']}** (tables: {r['tables']})"]
        if r["numbers"]:
            lines.append(f"  - numbers: {r['numbers']}")
        if r["criterion"]:
            lines.append(f"  - criterion: {r['criterion']}")
        lines.append(f"- on the study's own results: **{r['study_verdict']}**")
        if r["study_numbers"]:
            lines.append(f"  - numbers: {r['study_numbers']}")
        if r["study_criterion"]:
            lines.append(f"  - criterion: {r['study_criterion']}")
        lines.append("")
    return "\n".join(lines)
