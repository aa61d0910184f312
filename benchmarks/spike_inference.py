"""Leave-one-dataset-out benchmark of ENS², S2S and OASIS (see calcium_forge.inference.benchmark).

Trains ENS² and S2S without the test dataset, tests all three methods on it at
60 Hz with a 25 ms Gaussian ground truth and prints one table of median Corr,
vRD, Error, Bias, VPD, ER (and Corr at 25 Hz). Same as
``calcium-forge benchmark-spikes``; ``--help`` lists the options (iteration
budgets, folds, output JSON).
"""

from __future__ import annotations

import sys

from calcium_forge.inference.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
