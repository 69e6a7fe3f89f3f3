"""results/claims.md: the study's conclusions checked on this run's tables and on the study's own results."""

import logging
import os

import pandas as pd

import cameval
from cameval.claims import Context, claims_markdown, evaluate_claims, model_roles
from cameval.experiments.registry import CLAIMS
from cameval.io import write_csv, write_text
from cameval.logs import setup_logging
from cameval.report import commit_of, landing_html, markdown_to_html

setup_logging(snakemake.log[0])
p = snakemake.params
tables = {name: pd.read_csv(path) for name, path in snakemake.input.items() if not name.startswith("study__")}
study = {
    name[len("study__") :]: pd.read_csv(path) for name, path in snakemake.input.items() if name.startswith("study__")
} or None
ctx = Context(
    roles=model_roles(p.models),
    archs={m: s.get("arch") for m, s in p.models.items()},
    alpha=p.alpha,
    tolerance=p.tolerance,
    fgsm_min_rho=p.fgsm_min_rho,
)
df = evaluate_claims(tables, ctx, CLAIMS, study=study)
logging.getLogger("cameval.claims").info(
    "verdicts on this run: %s; on the study's own results: %s",
    df["verdict"].value_counts().to_dict(),
    df["study_verdict"].value_counts().to_dict(),
)
md = claims_markdown(
    df,
    setup=[f"{t}: {s['dataset']}, models {', '.join(s['models'])}" for t, s in p.setup.items()],
    results=os.path.dirname(snakemake.output.md),  # the run's results root: claims.md lies at its top
)
write_csv(df, snakemake.output.csv)
write_text(md, snakemake.output.md)
write_text(markdown_to_html(md, "Claims"), snakemake.output.html)
run = {
    "config": ", ".join(p.configfiles) or "none given",
    "commit": commit_of("."),
    "cameval": cameval.__version__,
}
write_text(landing_html(df.to_dict("records"), run), snakemake.output.landing)
