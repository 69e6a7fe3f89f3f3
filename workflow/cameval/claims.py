"""The machinery of the study's conclusions as checked statements (``results/claims.md``); each
experiment (:mod:`cameval.experiments`) declares its own claims with it.

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
  (``results/tables/study/``, :mod:`cameval.experiments.study`), for the claims those data decide; the others
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from cameval.paths import RESULTS, Layout

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


def reverse(verdict: str) -> str:
    """The verdict of "B > A" from that of "A > B" on the same differences."""
    return {HOLDS: FAILS, FAILS: HOLDS}.get(verdict, verdict)


def has_pair(t: pd.DataFrame, key: str) -> bool:
    return all(c in t for c in (key, f"{key}_low", f"{key}_high", f"{key}_p"))


def pair(row, key: str, alpha: float) -> tuple[str, str]:
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


def iv(row, col: str) -> tuple[float, float]:
    return float(row[col + "_low"]), float(row[col + "_high"])


NO_RAW = "the study published no per-image results for {}"


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
    claims: Sequence[Claim] = (),
    study: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per claim of ``claims`` (every experiment's: :data:`cameval.experiments.registry.CLAIMS`), with
    both verdicts: ``verdict`` on this run's ``tables`` (a claim whose table is absent, None or
    missing, is ``not evaluated``) and ``study_verdict`` on the study's own results ``study``
    (``results/tables/study/{table3,4,5}``; None: the stage is not built)."""
    ctx = ctx or Context()
    rows = []
    for c in claims:
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
    results: str = RESULTS,
) -> str:
    """``<results>/claims.md``: the summary table with both verdicts first, then what each verdict is
    computed on, then per claim its numbers and criteria.

    ``setup``: lines saying on which data and models each table was computed in this run (the
    statements name the study's data; the verdicts *on this run* are about this run's). ``results``:
    the run's results root (config key ``results``), where the text says the files are.
    """
    paths = Layout(results=results)
    lines = [
        f"# {title}",
        "",
        "| claim | study | on this run | on the study's own results |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['statement']} | {r['source']} | **{r['verdict']}** | **{r['study_verdict']}** |"
        for _, r in df.iterrows()
    ]
    lines += [
        "",
        f"Each claim gets two verdicts (numbers in `{paths.claims('csv')}`):",
        "",
        f"- **on this run**: from the tables in `{paths.results}/tables/`, computed on this run's data and models:",
        *[f"  - {s}" for s in setup or []],
        "- **on the study's own results**: from the per-image, per-box and per-rater results the study "
        f"published (`resources/study/`), reanalysed in `{paths.results}/tables/study/`; a claim those data cannot "
        "decide says why.",
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
