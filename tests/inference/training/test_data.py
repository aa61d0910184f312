"""Paired ground truth: reading Cascade files, dataset names (inference.training.data)."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.inference.training.data import indicator_of, load_ground_truth


def test_ground_truth_loader_on_real_dataset(ground_truth_dir):
    folder = sorted(ground_truth_dir.glob("DS19-*"))
    if not folder:
        pytest.skip("DS19 not in the shared ground truth")
    d = load_ground_truth(folder, fs_hz=60.0, sigma_ms=25.0)
    assert d.datasets == [folder[0].name] and len(d.neurons) >= 3
    t = d.traces[0]
    assert t.fs_hz == 60.0 and t.dff.dtype == np.float32 and t.dff.size == t.target.size
    # spikes are preserved by binning (all fall inside the recording)
    assert sum(float(x.counts.sum()) for x in d.traces) > 50
    assert 0.0 < t.noise_level < 20.0


def test_indicator_is_read_from_cascade_folder_names():
    assert indicator_of("DS11-GCaMP6f-m-V1-neuropil-corrected") == "GCaMP6f"
    assert indicator_of("/data/DS19-R-CaMP-m-S1") == "R-CaMP"
    assert indicator_of("DS02-OGB1-2-m-V1") == "OGB1"
    assert indicator_of("DS06-GCaMP6f-zf-aDp") == "GCaMP6f"
    for bad in ("notes", "DS11", "DS01-m-V1"):
        with pytest.raises(InvalidInputError, match="does not name an indicator"):
            indicator_of(bad)
