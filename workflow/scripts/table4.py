"""Table 4: the user study's scores per explanation method, from the answer files in the config."""

from cameval.logs import setup_logging
from cameval.tables import write_table
from cameval.userstudy import table4

setup_logging(snakemake.log[0])
p = snakemake.params
full, display, awaiting = table4(
    list(snakemake.input.answers),
    snakemake.input.key,
    better=p.better,
    reference=p.reference,
    n_boot=p.n_boot,
    seed=p.seed,
)
notes = [
    f"Score in -2..2 per answer, positive when the rater judged {p.better} (the more accurate model) more reasonable.",
    "Mean and standard deviation (ddof = 1) over all answers; 95 % bootstrap interval resampling raters; "
    "Wilcoxon signed-rank test (two-sided) between the methods on per-rater mean scores.",
]
if awaiting:
    notes.insert(0, "Awaiting answers: no answers file is listed in table4.answers; the kit is in results/user_study/.")
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 4 — user study (blinded, randomized)" + (" — awaiting answers" if awaiting else ""),
    notes=notes,
    display=display,
)
