# cameval: every table and figure of the Grad-CAM reproducibility study, from raw data.
from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile is the whole config: the embedded default applies only when none
# is given (Snakemake would otherwise merge the two, and the default's models leak into every run).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# the shared stages, then the rule file of each experiment the config has (cameval.experiments'
# registry): an experiment whose section is absent is neither built nor parsed
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/heatmaps.smk"


for _experiment in enabled_experiments(config):

    include: f"workflow/rules/{_experiment.name}.smk"


include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        all_targets(),
