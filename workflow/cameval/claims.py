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

Tables 5, 6 and 7 are declared with their claims; their evaluation functions
(:func:`claim_gradcampp_better_on_xrays`, :func:`claim_one_pixel_sensitivity`,
:func:`claim_contrastivity_deeper_net`, :func:`claim_fidelity_mnist`) are the places to fill in
once those tables' columns are fixed.
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


# --- Tables 5, 6, 7: declared here, evaluated once their tables' columns are fixed ------------------


def _pending(table: str) -> Verdict:
    return Verdict(f"not evaluated (no criterion written yet for {table}'s columns)", "", "to be defined")


def claim_gradcampp_better_on_xrays(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    return _pending("table5")


def claim_one_pixel_sensitivity(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    return _pending("table6")


def claim_contrastivity_deeper_net(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    return _pending("table7")


def claim_fidelity_mnist(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    return _pending("table7")


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
