"""Suite2P reader: the cells are the default selection, every ROI one option away; the
traces are memory-mapped, not copied."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import read
from calcium_forge._blocks import _backing_mmap
from calcium_forge.errors import InvalidInputError


def test_default_reads_the_cells_with_their_metadata(plane_factory):
    plane = plane_factory("plane0", n_rois=5, ops={"fs": 10.0})
    F, Fneu = np.load(plane / "F.npy"), np.load(plane / "Fneu.npy")
    spks, iscell = np.load(plane / "spks.npy"), np.load(plane / "iscell.npy")
    rec = read(plane)
    keep = [0, 2, 4]  # the helper marks every other ROI as a cell
    assert rec.n_rois == 3 and rec.meta["roi_indices"] == keep
    assert rec.meta["roi_selection"] == "cells" and rec.iscell.all()
    np.testing.assert_array_equal(rec.traces, F[keep])
    np.testing.assert_array_equal(rec.neuropil, Fneu[keep])
    np.testing.assert_array_equal(rec.meta["spks"], spks[keep])
    np.testing.assert_allclose(rec.meta["cell_probability"], iscell[keep, 1].astype(np.float32))
    assert len(rec.meta["roi_centers_yx"]) == 3
    full = read(plane, rois="all")
    assert full.n_rois == 5 and full.meta["roi_indices"] == list(range(5))
    # labels renumbered: selected ROI k paints k + 1 where full ROI keep[k] painted keep[k] + 1
    for k, i in enumerate(keep):
        assert np.array_equal(rec.labels == k + 1, full.labels == i + 1)
    assert set(np.unique(rec.labels)) <= {0, 1, 2, 3}


def test_all_rois_is_one_option_away_and_bad_options_are_named(plane_factory):
    plane = plane_factory("plane0", n_rois=4, ops={"fs": 10.0})
    assert read(plane, rois="all").n_rois == 4
    with pytest.raises(InvalidInputError, match=r"rois must be one of \('cells', 'all'\).*'some'"):
        read(plane, rois="some")


def test_no_cell_at_all_names_the_fix(plane_factory):
    plane = plane_factory("plane0", n_rois=4, ops={"fs": 10.0})
    ic = np.load(plane / "iscell.npy")
    ic[:, 0] = 0
    np.save(plane / "iscell.npy", ic)
    with pytest.raises(InvalidInputError, match=r"iscell.npy: no ROI of the 4.*rois='all'"):
        read(plane)
    assert read(plane, rois="all").n_rois == 4


def test_traces_are_memory_mapped_read_only(plane_factory):
    """A plane read with every ROI keeps F/Fneu/spks in the files, not in memory."""
    plane = plane_factory("plane0", n_rois=4, ops={"fs": 10.0})
    rec = read(plane, rois="all")
    for arr in (rec.traces, rec.neuropil, rec.meta["spks"]):
        assert _backing_mmap(arr) is not None
        assert not arr.flags.writeable
    np.testing.assert_array_equal(rec.traces, np.load(plane / "F.npy"))
    cells = read(plane)  # a selection is a copy in memory
    assert _backing_mmap(cells.traces) is None
