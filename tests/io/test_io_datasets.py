"""Shipped sample data: identical to the shared Suite2P output, small, with provenance."""

from __future__ import annotations

import numpy as np

from calcium_forge import datasets, read


def test_sample_file_is_small_and_documented():
    path = datasets.sample_path()
    assert path.stat().st_size <= 5 * 1024 * 1024
    provenance = (path.parent / "PROVENANCE.md").read_text()
    assert "5945784" in provenance and "GPL-3" in provenance and "30 Hz" in provenance


def test_load_hippocampus_matches_shared_data(suite2p_plane0):
    rec = datasets.load_hippocampus()
    ref = read(suite2p_plane0, fs_hz=30.0)
    assert rec.kind == "raw" and rec.fs_hz == 30.0 and rec.n_rois == 20
    np.testing.assert_array_equal(rec.traces, ref.traces)
    np.testing.assert_array_equal(rec.neuropil, ref.neuropil)
    np.testing.assert_array_equal(rec.labels, ref.labels)
    np.testing.assert_array_equal(rec.iscell, ref.iscell)
    np.testing.assert_array_equal(rec.meta["spks"], ref.meta["spks"])
    assert rec.meta["provenance"]["commit"] == "5945784"


def test_hippocampus_dff():
    d = datasets.hippocampus_dff()
    assert d.kind == "dff" and d.neuropil is None and d.labels is not None
    assert d.traces.shape == (20, 18000)
    # the maximin baseline follows the lower envelope of the smoothed trace: the median
    # dF/F is a little above 0, noise dips below it, transients rise far above
    med = np.median(d.traces, axis=1)
    assert np.all((med > 0) & (med < 0.5))
    assert np.all(np.percentile(d.traces, 5, axis=1) > -1.0)
    assert np.all(d.traces.max(axis=1) > 1.0)  # every ROI has transients
