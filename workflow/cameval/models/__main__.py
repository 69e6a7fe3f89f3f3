"""``python -m cameval.models convert --trust-pickle IN.pt OUT.safetensors`` (see :mod:`cameval.models.convert`)."""

import sys

from cameval.models.convert import main

sys.exit(main())
