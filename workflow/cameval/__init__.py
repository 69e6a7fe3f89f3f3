"""cameval: reproduce and extend "Analysis and Evaluation of Grad-CAM Explanations".

The library knows nothing of Snakemake; the workflow's scripts are thin adapters around it.
"""

__version__ = "0.1.0"

from cameval.errors import CamevalError, ConfigError, DataError  # noqa: E402

__all__ = ["__version__", "CamevalError", "ConfigError", "DataError"]
