"""Convert torchvision's weights or a local checkpoint into a cameval safetensors file."""

from cameval.logs import setup_logging
from cameval.models import import_weights

setup_logging(snakemake.log[0])
spec = snakemake.params.spec
import_weights(spec["arch"], spec["weights"], snakemake.output.weights, num_classes=spec.get("num_classes"))
