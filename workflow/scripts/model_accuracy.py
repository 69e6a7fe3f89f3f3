"""A model's top-1 accuracy on its dataset's whole evaluation split; on its own dataset, the run stops
here where the accuracy is below the model's floor (``models.<name>.min_accuracy``)."""

from cameval.io import write_json
from cameval.logs import set_threads, setup_logging
from cameval.models.train import check_accuracy, split_accuracy

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p = snakemake.params
result = split_accuracy(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    p.split,
    device=p.device,
)
if p.floor is not None:
    check_accuracy(result, snakemake.wildcards.model, p.floor["value"], snakemake.wildcards.dataset, p.floor["default"])
    result["min_accuracy"] = p.floor["value"]
write_json(result, snakemake.output[0])
