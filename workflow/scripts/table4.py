"""Table 4: the user study's scores per explanation method, from the answer files in the config."""

import os

from cameval.experiments.userstudy.table import notes, table4, title
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
p = snakemake.params
_, accuracy = split_accuracy(snakemake.input)
full, display, awaiting = table4(
    list(snakemake.input.answers),
    snakemake.input.key,
    better=p.better,
    reference=p.reference,
    n_boot=p.n_boot,
    seed=p.seed,
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=title(awaiting),
    notes=[*notes(p.better, awaiting, kit=os.path.dirname(snakemake.input.key)), accuracy_note(accuracy)],
    display=display,
)
