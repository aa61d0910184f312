"""``python -m calcium_forge.cli``: the command line (as under torchrun)."""

import sys

from . import main

sys.exit(main())
