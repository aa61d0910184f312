"""Memorisation check: copies of training windows are flagged, held-out windows are not."""

from __future__ import annotations

import numpy as np

from calcium_forge.evaluation.novelty import memorisation
from calcium_forge.synthesis.windows import make_windows


def test_memorisation_flags_copies():
    rng = np.random.default_rng(3)
    tr = np.cumsum(rng.normal(size=(3, 6000)), axis=1)
    train = make_windows(tr[:, :4000], 64, 4)
    held = make_windows(tr[:, 4000:], 64, 32)
    copies = train[rng.choice(len(train), 30)]
    mem_copy = memorisation(copies, train, held)
    mem_new = memorisation(held[1::2], train, held[::2])
    assert mem_copy.score < 0.1 and mem_copy.copy_fraction > 0.9
    assert mem_new.score > 0.5
