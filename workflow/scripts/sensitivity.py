"""Table 6 per image: the maps' values at the attacked and at a random pixel, read from the attack shards
(and, for table6.methods, the maps of those sets computed here on the cached clean and attacked images)."""

from cameval.experiments.sensitivity.compute import extra_attack_maps
from cameval.experiments.sensitivity.rows import sensitivity_rows
from cameval.io import write_csv
from cameval.logs import set_threads, setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p, shards = snakemake.params, list(snakemake.input.shards)
expect = Expect(snakemake.input.weights, None, snakemake.input.manifest)
extra = None
if p.methods:
    set_threads(snakemake.threads)
    extra = extra_attack_maps(
        snakemake.input.weights,
        snakemake.input.images,
        shards,
        p.methods,
        layer=p.layer,
        expected=p.expected,
        device=p.device,
        expect=expect,
    )
write_csv(sensitivity_rows(shards, p.expected, extra, expect), snakemake.output[0])
