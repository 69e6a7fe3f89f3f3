"""Convert torchvision's weights, a local checkpoint or a pickled module (read restrictedly) into a
cameval safetensors file."""

from cameval.logs import setup_logging
from cameval.models import import_weights

setup_logging(snakemake.log[0])
spec = snakemake.params.spec
import_weights(
    spec["arch"],
    snakemake.params.source,
    snakemake.output.weights,
    num_classes=spec.get("num_classes"),
    build=spec.get("build"),
)
